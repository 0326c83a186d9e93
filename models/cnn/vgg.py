"""VGG19 and VGG16 with batch norm for small grey faces (the FER2013 literature's 73% runs)."""

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


class VGG(nn.Module):
    """VGG with batch norm after every 3x3 convolution, global average pooling, dropout and one
    linear layer (instead of VGG's three dense layers).

    Method: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015 (configuration E, 19 layers, or D, 16 layers); batch norm after Ioffe
    & Szegedy 2015. With 7 classes: 20,032,327 parameters for VGG19, 14,721,351 for VGG16.

    Parameters
    ----------
    n_classes : int, default 7
        Outputs.
    dropout : float, default 0.5
        Dropout probability before the linear layer.
    layout : tuple of int or "M", default VGG19
        Output channels of each 3x3 convolution, ``"M"`` for a 2x2 max-pool (``VGG19``,
        ``VGG16``).
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
