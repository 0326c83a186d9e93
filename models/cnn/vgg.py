"""VGG19 and VGG16 with batch norm for small grey faces (the FER2013 literature's 73% runs), and a
small VGG for the CPU."""

from __future__ import annotations

import torch
from torch import nn

# Channels per 3x3 convolution, "M" a 2x2 max-pool: 44 -> 22 -> 11 -> 5 -> 2 -> 1.
VGG19 = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
# Configuration D (16 weight layers): one convolution fewer in each of the last three blocks.
VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

# A small VGG for the CPU (the CPU default, ``vgg_small``): VGG's 3x3 convolutions, batch norm and
# 2x2 pools at 1/2 to 1/4 of VGG19's widths (32-256 channels), four stages (44 -> 22 -> 11 -> 5 ->
# 2) of two convolutions each as in the VGG-style FER2013 networks (e.g. Khaireddin & Chen 2021,
# arXiv:2105.03588, 64-512 channels), but one at full resolution, where a second cost 20% of the
# training step (2 CPU cores, bf16). 1,165,159 parameters; trained on 2 CPU cores it beat
# Mini-Xception by 5 points in less time (README, The CNN).
VGG_SMALL = (32, "M", 64, 64, "M", 128, 128, "M", 256, 256, "M")


class VGG(nn.Module):
    """VGG with batch norm after every 3x3 convolution, global average pooling, dropout and one
    linear layer (instead of VGG's three dense layers).

    Method: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015 (configuration E, 19 layers, or D, 16 layers); batch norm after Ioffe
    & Szegedy 2015. With 7 classes: 20,032,327 parameters for VGG19, 14,721,351 for VGG16,
    1,165,159 for ``VGG_SMALL``.

    Parameters
    ----------
    n_classes : int, default 7
        Outputs.
    dropout : float, default 0.5
        Dropout probability before the linear layer.
    layout : tuple of int or "M", default VGG19
        Output channels of each 3x3 convolution, ``"M"`` for a 2x2 max-pool (``VGG19``,
        ``VGG16``, ``VGG_SMALL``).
    """

    def __init__(
        self, n_classes: int = 7, dropout: float = 0.5, layout: tuple[int | str, ...] = VGG19
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [
                    nn.Conv2d(c_in, int(item), 3, padding=1, bias=False),
                    nn.BatchNorm2d(int(item)),
                    nn.ReLU(inplace=True),
                ]
                c_in = int(item)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, 1, s, s) standardised crops, s >= 32 -> (b, n_classes) logits."""
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(self.dropout(x))
