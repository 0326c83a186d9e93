"""AlexNet adapted to 1-channel 44x44 faces: a 5x5 stride-1 first convolution instead of 11x11
stride 4 (which would leave 9x9 after one layer), and a 4096-wide classifier on 256 x 4 x 4."""

from __future__ import annotations

import torch
from torch import nn

# Side of the last feature map the classifier takes; the smallest crop giving it (39 -> 19 -> 9
# -> 4 through the three overlapping 3x3 stride-2 max-pools) is MIN_CROP["alexnet"].
FINAL_SIDE = 4


def _lrn() -> nn.LocalResponseNorm:
    # The paper's local response normalisation: n = 5, alpha = 1e-4, beta = 0.75, k = 2.
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)


class AlexNet(nn.Module):
    """AlexNet: five convolutions (96, 256, 384, 384, 256 channels) with ReLU, local response
    normalisation after the first two, overlapping 3x3 stride-2 max-pools after the first, second
    and fifth, then two 4096-unit dense layers with dropout and the classifier (no batch norm).

    Method: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
    Neural Networks", NIPS 2012 (single-tower version, as in Krizhevsky's 2014 "one weird trick").
    Adapted to small gray faces: one input channel; the first convolution is 5x5 with stride 1
    and padding 2 (the paper's 11x11 stride 4 is sized for 224x224 images); the last feature map
    is average-pooled to 4x4 (the paper's is 6x6), so crops from 39 to 48 pixels all give the
    classifier the same 4,096 inputs. 37,306,055 parameters with 7 classes.

    Parameters
    ----------
    n_classes : int, default 7
        Outputs.
    dropout : float, default 0.5
        Dropout probability before each of the two 4096-unit layers (the paper's 0.5).
    """

    def __init__(self, n_classes: int = 7, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 96, 5, padding=2),
            nn.ReLU(inplace=True),
            _lrn(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2),
            nn.ReLU(inplace=True),
            _lrn(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d(FINAL_SIDE)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * FINAL_SIDE * FINAL_SIDE, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, 1, s, s) standardised crops, s >= 39 -> (b, n_classes) logits."""
        return self.classifier(self.pool(self.features(x)).flatten(1))
