"""The objects a user holds: Network (network2's, with SGD, save and to_onnx), Population, and load."""
