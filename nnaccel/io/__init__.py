"""Files on disk: models (network2's JSON, .npz), checkpoints, ONNX, figures, and a command's files checked together (run_files)."""
