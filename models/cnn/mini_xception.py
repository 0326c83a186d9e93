"""Mini-Xception (Arriaga et al., 2017): ~60k parameters, fast enough to train on a CPU."""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn(
    c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0
) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), nn.BatchNorm2d(c_out)]


def _separable(c_in: int, c_out: int) -> list[nn.Module]:
    """Depthwise 3x3 then pointwise 1x1 (Keras SeparableConv2D, depth multiplier 1), then BN."""
    return [
        nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
    ]


class XceptionModule(nn.Module):
    """Two separable convolutions and a stride-2 max-pool, plus a strided 1x1 residual branch.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(*_conv_bn(c_in, c_out, 1, stride=2))
        self.body = nn.Sequential(
            *_separable(c_in, c_out),
            nn.ReLU(inplace=True),
            *_separable(c_out, c_out),
            # Keras 'same' pooling: ceil(H / 2), like the strided 1x1 residual.
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, c_in, h, w) -> (b, c_out, ceil(h / 2), ceil(w / 2))."""
        return self.body(x) + self.residual(x)


class MiniXception(nn.Module):
    """Mini-Xception for gray faces: two 3x3 convolutions, four residual depthwise-separable
    modules, a 3x3 class-map convolution and global average pooling (no dense layer).

    Method: Arriaga, Valdenegro-Toro & Plöger, "Real-time Convolutional Neural Networks for
    Emotion and Gender Classification", arXiv:1710.07557, 2017. 56,951 parameters with 7
    classes and the default widths.

    Parameters
    ----------
    n_classes : int, default 7
        Outputs.
    dropout : float, default 0.0
        Dropout probability before the class-map convolution.
    widths : tuple of int, default (16, 32, 64, 128)
        Output channels of the residual modules, each of which halves the resolution.
    """

    def __init__(
        self, n_classes: int = 7, dropout: float = 0.0, widths: tuple[int, ...] = (16, 32, 64, 128)
    ) -> None:
        super().__init__()
        # Two unpadded 3x3 convolutions as in the original ('valid' padding): 44 -> 40.
        self.stem = nn.Sequential(
            *_conv_bn(1, 8, 3), nn.ReLU(inplace=True), *_conv_bn(8, 8, 3), nn.ReLU(inplace=True)
        )
        channels = (8, *widths)
        self.blocks = nn.Sequential(
            *(XceptionModule(a, b) for a, b in zip(channels[:-1], widths, strict=True))
        )
        self.dropout = nn.Dropout(dropout)
        # Class maps by a 3x3 convolution, then global average pooling: no dense layer.
        self.head = nn.Conv2d(widths[-1], n_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, 1, s, s) standardised crops, s >= 16 -> (b, n_classes) logits."""
        x = self.dropout(self.blocks(self.stem(x)))
        return self.head(x).mean(dim=(2, 3))
