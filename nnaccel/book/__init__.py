"""The book's experiments, chapters 1-3, each a function of a Context."""
