"""Logits for whole image sets: centre crop, or ten crops with their logits averaged."""

from __future__ import annotations

import torch
from torch import nn

from models.cnn.crops import center_crop, ten_crop
from models.cnn.data import Normalizer
from models.cnn.device import Runtime, eval_mode


def predict_logits(
    net: nn.Module,
    images: torch.Tensor,
    size: int,
    norm: Normalizer,
    runtime: Runtime,
    batch_size: int = 160,
    ten_crops: bool = False,
) -> torch.Tensor:
    """(n, 48, 48) uint8 on the runtime's device -> (n, classes) float32 logits on the CPU.

    ``batch_size`` counts views: ten-crop batches hold a tenth as many images.

    Parameters
    ----------
    net : torch.nn.Module
        Trained network taking float (b, 1, size, size); run in eval mode, its training flag
        restored afterwards.
    images : Tensor of shape (n, 48, 48), uint8
        Faces, on the runtime's device.
    size : int
        Crop side in pixels the network was trained on.
    norm : Normalizer
        Training-set pixel mean and standard deviation.
    runtime : Runtime
        Device, autocast and memory format.
    batch_size : int, default 160
        Views per forward pass.
    ten_crops : bool, default False
        Average the logits of the ten views of :func:`models.cnn.crops.ten_crop`
        (Krizhevsky et al. 2012) instead of using the centre crop alone.

    Returns
    -------
    Tensor of shape (n, classes), float32
        Logits, on the CPU; a tensor of shape (0,) when ``images`` is empty.
    """
    per_batch = max(1, batch_size // 10) if ten_crops else batch_size
    out = []
    with eval_mode(net):
        for start in range(0, len(images), per_batch):
            batch = images[start : start + per_batch]
            # Ten views per image are stacked as (b * 10, size, size).
            views = ten_crop(batch, size).flatten(0, 1) if ten_crops else center_crop(batch, size)
            with runtime.inference_autocast():
                logits = net(norm(views, runtime)).float()
            if ten_crops:
                logits = logits.view(len(batch), 10, -1).mean(dim=1)
            out.append(logits)
    return torch.cat(out).cpu() if out else torch.zeros(0)
