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
    """A freshly initialised network (PyTorch's default initialisation) for ``arch``.

    Parameters
    ----------
    arch : str
        One of ``ARCHITECTURES``: ``"mini_xception"`` (Arriaga et al. 2017), ``"vgg"`` (VGG19
        with batch norm, Simonyan & Zisserman 2015) or ``"resnet18"`` (He et al. 2016).
    n_classes : int, default 7
        Outputs of the network.
    dropout : float, default 0.0
        Dropout probability before the classifier.

    Returns
    -------
    torch.nn.Module
        Takes float (b, 1, s, s) standardised gray crops (s >= ``MIN_CROP[arch]``) and returns
        (b, n_classes) logits.

    Raises
    ------
    ValueError
        If ``arch`` is unknown.
    """
    if arch not in BUILDERS:
        raise ValueError(
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}"
        )
    return BUILDERS[arch](n_classes=n_classes, dropout=dropout)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters (elements of tensors with ``requires_grad``).

    With 7 classes: 56,951 for mini_xception, 20,032,327 for vgg, 11,171,271 for resnet18.
    """
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
