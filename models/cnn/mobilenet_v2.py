"""MobileNetV2 for 1-channel 44x44 faces: stride 1 in the stem and in the first 24-channel
stage, so the network downsamples 8x (44 -> 6) instead of ImageNet's 32x (which would leave 2x2)."""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, blocks n, stride s of the first block): the paper's Table 2,
# with the 24-channel stage's stride 2 -> 1 for small inputs.
SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM, HEAD = 32, 1280  # channels of the first 3x3 convolution and of the last 1x1


def _conv_bn_relu6(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> list:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(inplace=True),
    ]


class InvertedResidual(nn.Module):
    """1x1 expansion (ReLU6), 3x3 depthwise convolution (ReLU6), linear 1x1 projection, with an
    identity shortcut when the shape is kept.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    stride : int
        Stride of the depthwise convolution (1 or 2).
    expansion : int
        Hidden channels = ``expansion * c_in`` (no expansion layer when 1).
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers = _conv_bn_relu6(c_in, hidden, 1) if expansion != 1 else []
        layers += _conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden)
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, c_in, h, w) -> (b, c_out, ceil(h / stride), ceil(w / stride))."""
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0): a 3x3 stem, 17 inverted residual blocks, a 1x1 convolution to 1280
    channels, global average pooling, dropout and one linear layer.

    Method: Sandler, Howard, Zhu, Zhmoginov & Chen, "MobileNetV2: Inverted Residuals and Linear
    Bottlenecks", CVPR 2018. Adapted to small gray faces: one input channel; the stem and the
    first 24-channel block have stride 1 (the paper's are 2), so a 44x44 crop ends at 6x6 rather
    than 2x2, as in this project's ResNets. 2,232,263 parameters with 7 classes.

    Parameters
    ----------
    n_classes : int, default 7
        Outputs.
    dropout : float, default 0.2
        Dropout probability before the linear layer (the paper's 0.2).
    """

    def __init__(self, n_classes: int = 7, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [*_conv_bn_relu6(1, STEM, 3, stride=1)]
        c_in = STEM
        for expansion, c_out, n, stride in SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c_out, stride if i == 0 else 1, expansion))
                c_in = c_out
        layers += _conv_bn_relu6(c_in, HEAD, 1)
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(HEAD, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, 1, s, s) standardised crops -> (b, n_classes) logits."""
        x = self.features(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(x))
