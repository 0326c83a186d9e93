"""Crops: random windows stay inside the image, and 10-crop gives ten views whose logits average."""

from __future__ import annotations

import numpy as np
import torch

from models.cnn.crops import center_crop, crop_views, random_windows, ten_crop
from models.cnn.data import Normalizer
from models.cnn.device import Runtime
from models.cnn.infer import predict_logits

CPU = Runtime(torch.device("cpu"), bf16=False, channels_last=False)


def _faces(real_faces: tuple[np.ndarray, np.ndarray], n: int) -> torch.Tensor:
    return torch.from_numpy(real_faces[0][:n].copy())


def test_random_crops_are_windows_of_the_image_mirrored_by_the_coin(real_faces) -> None:
    images = _faces(real_faces, 64)
    top, left, flip = random_windows(len(images), 44, True, torch.Generator().manual_seed(1))
    assert top.max() <= 4 and left.max() <= 4 and 0 < flip.sum() < len(images)
    crops = crop_views(images, top, left, 44, flip)
    assert crops.shape == (64, 44, 44) and crops.dtype == torch.uint8
    for k in range(len(images)):
        window = images[k, top[k] : top[k] + 44, left[k] : left[k] + 44]
        expected = window.flip(-1) if flip[k] else window
        assert torch.equal(crops[k], expected)


def test_ten_crop_gives_the_corners_centre_and_their_mirrors(real_faces) -> None:
    images = _faces(real_faces, 3)
    views = ten_crop(images, 40)
    assert views.shape == (3, 10, 40, 40)
    image = images[1]
    corners = [image[:40, :40], image[:40, 8:], image[8:, :40], image[8:, 8:], image[4:44, 4:44]]
    for k, window in enumerate(corners):
        assert torch.equal(views[1, k], window)
        assert torch.equal(views[1, k + 5], window.flip(-1))
    assert torch.equal(views[:, 4], center_crop(images, 40))


class _ViewProbe(torch.nn.Module):
    """Logits that identify each view: its mean pixel (all classes) plus a per-class offset."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3))[:, None] + torch.arange(7.0)


def test_ten_crop_prediction_averages_the_logits_of_the_ten_views(real_faces) -> None:
    images = _faces(real_faces, 5)
    norm = Normalizer(0.0, 255.0)
    got = predict_logits(_ViewProbe(), images, 44, norm, CPU, batch_size=2, ten_crops=True)
    views = ten_crop(images, 44).float() / 255.0  # (5, 10, 44, 44)
    expected = views.mean(dim=(2, 3))[:, :, None] + torch.arange(7.0)  # per view logits
    torch.testing.assert_close(got, expected.mean(dim=1))
    centre = predict_logits(_ViewProbe(), images, 44, norm, CPU, batch_size=2)
    torch.testing.assert_close(centre, expected[:, 4])
