"""LeNet-5 for 1-channel faces: its 6/16/120/84 layout on 44x44 crops instead of 32x32 digits."""

from __future__ import annotations

import torch
from torch import nn

# C5 sees 16 maps of 5x5, as in the paper at its own 32x32 input (32 -> 28 -> 14 -> 10 -> 5).
C5_SIDE = 5


class LeNet5(nn.Module):
    """LeNet-5: C1 (6 5x5 convolutions), S2 (2x2 pooling), C3 (16 5x5 convolutions), S4, C5 (120
    units on 16 x 5 x 5), F6 (84 units) and the output layer.

    Method: LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document
    Recognition", Proc. IEEE 86(11), 1998. Adapted as is now usual: ReLU instead of the scaled
    tanh, max- instead of trainable average subsampling, C3 connected to all of S2's maps (the
    paper's sparse connection table saved computation only), a linear output layer with softmax
    cross-entropy instead of the RBF units. For crops larger than the paper's 32x32 (44x44 leaves
    8x8 maps after S4), S4's output is average-pooled to 5x5 so that C5 keeps its 16 x 5 x 5
    inputs. 61,451 parameters with 7 classes.

    Parameters
    ----------
    n_classes : int, default 7
        Outputs.
    dropout : float, default 0.0
        Dropout probability before F6 and before the output layer (LeNet-5 had none).
    """

    def __init__(self, n_classes: int = 7, dropout: float = 0.0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),  # C1, unpadded as in the paper
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # S2
            nn.Conv2d(6, 16, 5),  # C3
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # S4
            nn.AdaptiveAvgPool2d(C5_SIDE),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * C5_SIDE * C5_SIDE, 120),  # C5: a 5x5 convolution on 5x5 maps
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(120, 84),  # F6
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(84, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (b, 1, s, s) standardised crops, s >= 32 -> (b, n_classes) logits."""
        return self.classifier(self.features(x).flatten(1))
