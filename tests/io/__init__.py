"""Tests of nnaccel.io: models and checkpoints on disk, ONNX, outputs that never overwrite inputs."""
