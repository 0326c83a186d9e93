"""ResNet18 and ResNet34 for 1-channel 44x44 faces: a 3x3 stem and no max-pool, so the last stage
sees 6x6 (ImageNet's 7x7 stride-2 stem and max-pool would leave 2x2)."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or strided 1x1) shortcut.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    stride : int
        Stride of the first convolution and of the projection shortcut.
    """

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, c_in, h, w) -> (b, c_out, ceil(h / stride), ceil(w / stride))."""
        return self.relu(self.body(x) + self.shortcut(x))


# Basic blocks per stage (He et al. 2016, Table 1).
RESNET18 = (2, 2, 2, 2)
RESNET34 = (3, 4, 6, 3)


class ResNet(nn.Module):
    """ResNet of basic blocks (ResNet-18: two per stage, ResNet-34: 3, 4, 6, 3) with a 3x3
    stride-1 stem and no max-pool, global average pooling, dropout and one linear layer.

    Method: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.
    With 7 classes and the default widths: 11,171,271 parameters for ResNet-18, 21,279,431 for
    ResNet-34.

    Parameters
    ----------
    n_classes : int, default 7
        Outputs.
    dropout : float, default 0.5
        Dropout probability before the linear layer.
    widths : tuple of int, default (64, 128, 256, 512)
        Channels of the stages; every stage after the first halves the resolution.
    depths : tuple of int, default RESNET18
        Basic blocks of each stage (as many entries as ``widths``).
    """

    def __init__(
        self,
        n_classes: int = 7,
        dropout: float = 0.5,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        depths: tuple[int, ...] = RESNET18,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        # One flat sequence of blocks, so that ResNet-18 weights saved before ResNet-34 existed
        # still load.
        blocks: list[nn.Module] = []
        c_in = widths[0]
        for stage, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            blocks.append(BasicBlock(c_in, width, 1 if stage == 0 else 2))
            blocks += [BasicBlock(width, width, 1) for _ in range(depth - 1)]
            c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, 1, s, s) standardised crops -> (b, n_classes) logits."""
        x = self.blocks(self.stem(x)).mean(dim=(2, 3))
        return self.fc(self.dropout(x))
