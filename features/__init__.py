"""Image features: batch HOG, dlib 68-point landmarks and their on-disk store.

Imports only ``fer_data`` below it; validating ``params.yaml`` imports only :mod:`features.names`.
"""
