"""Build a network by architecture name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from models.cnn.alexnet import AlexNet
from models.cnn.lenet import LeNet5
from models.cnn.mini_xception import MiniXception
from models.cnn.mobilenet_v2 import MobileNetV2
from models.cnn.names import ARCHITECTURES
from models.cnn.resnet import RESNET18, RESNET34, ResNet
from models.cnn.vgg import VGG, VGG16, VGG19, VGG_SMALL

BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mini_xception": MiniXception,
    "vgg": partial(VGG, layout=VGG19),
    "resnet18": partial(ResNet, depths=RESNET18),
    "alexnet": AlexNet,
    "lenet": LeNet5,
    "resnet34": partial(ResNet, depths=RESNET34),
    "mobilenet_v2": MobileNetV2,
    "vgg16": partial(VGG, layout=VGG16),
    "vgg_small": partial(VGG, layout=VGG_SMALL),
}
assert tuple(BUILDERS) == ARCHITECTURES


def build_net(arch: str, n_classes: int = 7, dropout: float = 0.0) -> nn.Module:
    """A freshly initialised network (PyTorch's default initialisation) for ``arch``.

    Parameters
    ----------
    arch : str
        One of ``ARCHITECTURES``: ``"mini_xception"`` (Arriaga et al. 2017), ``"vgg"`` (VGG19
        with batch norm), ``"vgg16"`` (VGG16 with batch norm; Simonyan & Zisserman 2015) or
        ``"vgg_small"`` (a small VGG for the CPU, :data:`models.cnn.vgg.VGG_SMALL`),
        ``"resnet18"`` or ``"resnet34"`` (He et al. 2016), ``"alexnet"`` (Krizhevsky et al.
        2012), ``"lenet"`` (LeNet-5, LeCun et al. 1998) or ``"mobilenet_v2"`` (Sandler et al.
        2018), each adapted to small gray crops as its module says.
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

    With 7 classes (measured; tests/test_cnn_nets.py checks them): 56,951 for mini_xception,
    20,032,327 for vgg, 11,171,271 for resnet18, 37,306,055 for alexnet, 61,451 for lenet,
    21,279,431 for resnet34, 2,232,263 for mobilenet_v2, 14,721,351 for vgg16, 1,165,159 for
    vgg_small.
    """
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
