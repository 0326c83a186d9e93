"""Architecture names and their input limits, torch-free: validating params.yaml imports them."""

from __future__ import annotations

# "vgg" is VGG19-BN (the name predates VGG16).
ARCHITECTURES = (
    "mini_xception",
    "vgg",
    "resnet18",
    "alexnet",
    "lenet",
    "resnet34",
    "mobilenet_v2",
    "vgg16",
    "vgg_small",
)
IMAGE_SIDE = 48
# Smallest crop each network takes: VGG halves the image five times (the small VGG four);
# AlexNet's three 3x3 stride-2 pools must leave 4x4 and LeNet-5's two 5x5 convolutions and pools
# 5x5 (their dense layers' inputs).
MIN_CROP = {
    "mini_xception": 16,
    "vgg": 32,
    "resnet18": 16,
    "alexnet": 39,
    "lenet": 32,
    "resnet34": 16,
    "mobilenet_v2": 16,
    "vgg16": 32,
    "vgg_small": 16,
}


def model_name(arch: str) -> str:
    """The name under which a CNN joins the classical models' metrics and leaderboard."""
    return f"cnn_{arch}"


# FER+ training targets of a CNN (cnn.<arch>.targets; fer_data.ferplus.SCHEMES, repeated here so
# validating params.yaml stays free of the data layer's imports): hard cross-entropy on the
# majority label, a label drawn per epoch from the vote distribution, soft-target cross-entropy,
# multi-label BCE.
TARGET_SCHEMES = ("majority", "probability", "crossentropy", "multi_target")
