"""Property-based fuzzing of every file reader, the CLI and the API (marker fuzz)."""
