"""The three networks: shapes, sizes and the crops they accept."""

from __future__ import annotations

import pytest
import torch

from models.cnn.names import ARCHITECTURES, MIN_CROP
from models.cnn.nets import build_net, count_parameters


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_nets_map_grey_crops_to_seven_logits(arch: str) -> None:
    torch.manual_seed(0)
    net = build_net(arch, n_classes=7).eval()
    for size in (44, MIN_CROP[arch]):
        with torch.inference_mode():
            assert net(torch.randn(2, 1, size, size)).shape == (2, 7)


def test_parameter_counts_match_the_published_layouts() -> None:
    counts = {arch: count_parameters(build_net(arch)) for arch in ARCHITECTURES}
    assert 50_000 < counts["mini_xception"] < 65_000  # Mini-Xception: ~60k
    assert 11_000_000 < counts["resnet18"] < 11_300_000  # ResNet18 with a 7-way head
    assert 19_000_000 < counts["vgg"] < 21_000_000  # VGG19-BN convolutions, one linear layer


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'resnet50'"):
        build_net("resnet50")
