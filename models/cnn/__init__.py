"""The CNN stage's building blocks: networks, crops, data, training loop and 10-crop inference.

Only :mod:`models.cnn.names` is torch-free, so that validating ``params.yaml`` never imports torch.
"""
