"""Architecture names and their input limits, torch-free: validating params.yaml imports them."""

from __future__ import annotations

ARCHITECTURES = ("mini_xception", "vgg", "resnet18")
IMAGE_SIDE = 48
# Smallest crop each network takes: VGG halves the image five times.
MIN_CROP = {"mini_xception": 16, "vgg": 32, "resnet18": 16}


def model_name(arch: str) -> str:
    """The name under which a CNN joins the classical models' metrics and leaderboard."""
    return f"cnn_{arch}"


# FER+ training targets of a CNN (cnn.<arch>.targets; fer_data.ferplus.SCHEMES, repeated here so
# validating params.yaml stays free of the data layer's imports): hard cross-entropy on the
# majority label, a label drawn per epoch from the vote distribution, soft-target cross-entropy,
# multi-label BCE.
TARGET_SCHEMES = ("majority", "probability", "crossentropy", "multi_target")
