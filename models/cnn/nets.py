"""Build a network by architecture name."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from models.cnn.mini_xception import MiniXception
from models.cnn.names import ARCHITECTURES
from models.cnn.resnet import ResNet18
from models.cnn.vgg import VGG

BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mini_xception": MiniXception,
    "vgg": VGG,
    "resnet18": ResNet18,
}
assert tuple(BUILDERS) == ARCHITECTURES


def build_net(arch: str, n_classes: int = 7, dropout: float = 0.0) -> nn.Module:
    if arch not in BUILDERS:
        raise ValueError(
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}"
        )
    return BUILDERS[arch](n_classes=n_classes, dropout=dropout)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
