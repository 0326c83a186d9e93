"""Crops of uint8 face batches, done by one gather on whatever device the images live on.

Training draws a random ``size`` x ``size`` window and a coin-flip mirror per image; testing uses
the centre window, or ten views (four corners and the centre, and their mirrors).
"""

from __future__ import annotations

import torch

from models.cnn.names import IMAGE_SIDE


def crop_views(
    images: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int, flip: torch.Tensor
) -> torch.Tensor:
    """(n, 48, 48) -> (n, size, size): each image's window at (top, left), mirrored if ``flip``.

    Parameters
    ----------
    images : Tensor of shape (n, 48, 48), uint8
        Faces, on any device.
    top, left : Tensor of shape (n,), int64
        Window corner per image in pixels, each in ``0 .. 48 - size``; moved to the images'
        device.
    size : int
        Window side in pixels.
    flip : Tensor of shape (n,), bool
        Mirror the window left-right.

    Returns
    -------
    Tensor of shape (n, size, size), uint8
        The crops (a new tensor), on the images' device.

    Raises
    ------
    IndexError
        If a window reaches outside the image (on CPU tensors; on CUDA the gather fails with a
        device-side assertion instead).
    """
    steps = torch.arange(size, device=images.device)
    rows = top.to(images.device)[:, None] + steps  # (n, size)
    # A mirror reads the window's columns right to left: folded into the same gather.
    flip = flip.to(images.device)[:, None]
    cols = left.to(images.device)[:, None] + torch.where(flip, size - 1 - steps, steps)
    batch = torch.arange(len(images), device=images.device)[:, None, None]
    return images[batch, rows[:, :, None], cols[:, None, :]]


def random_windows(
    n: int, size: int, flip: bool, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """(top, left, flip) of ``n`` random crops, drawn on the CPU: CPU and GPU runs see the same.

    Parameters
    ----------
    n : int
        Number of crops.
    size : int
        Window side in pixels, at most 48.
    flip : bool
        Mirror each crop with probability 0.5; False mirrors none.
    generator : torch.Generator
        CPU generator of the draws (top, then left, then the mirror coin).

    Returns
    -------
    top, left : Tensor of shape (n,), int64
        Window corners, uniform in ``0 .. 48 - size``, on the CPU.
    flip : Tensor of shape (n,), bool
        Mirror flags, on the CPU.
    """
    margin = IMAGE_SIDE - size
    top = torch.randint(0, margin + 1, (n,), generator=generator)
    left = torch.randint(0, margin + 1, (n,), generator=generator)
    mirror = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    return top, left, mirror


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """(n, 48, 48) -> (n, size, size): the centre window (offset ``(48 - size) // 2``), a view.

    Parameters
    ----------
    images : Tensor of shape (n, 48, 48)
        Faces, usually uint8, on any device.
    size : int
        Window side in pixels, at most 48.

    Returns
    -------
    Tensor of shape (n, size, size)
        A view of ``images`` (not contiguous unless ``size`` is 48).
    """
    offset = (IMAGE_SIDE - size) // 2
    return images[:, offset : offset + size, offset : offset + size]


def ten_crop_windows(size: int) -> tuple[torch.Tensor, ...]:
    """(top, left, flip) of the ten views: corners and centre, then the same mirrored.

    The 10-crop test of Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep
    Convolutional Neural Networks", NeurIPS 2012.

    Parameters
    ----------
    size : int
        Window side in pixels, at most 48.

    Returns
    -------
    top, left : Tensor of shape (10,), int64
        Window corners in pixels: top-left, top-right, bottom-left, bottom-right, centre
        (offset ``(48 - size) // 2``), then the same five again.
    flip : Tensor of shape (10,), bool
        False for the first five views, True for the mirrored five.
    """
    margin = IMAGE_SIDE - size
    corners = [(0, 0), (0, margin), (margin, 0), (margin, margin), (margin // 2, margin // 2)]
    top = torch.tensor([t for t, _ in corners] * 2)
    left = torch.tensor([c for _, c in corners] * 2)
    mirror = torch.tensor([False] * 5 + [True] * 5)
    return top, left, mirror


def ten_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """(n, 48, 48) -> (n, 10, size, size).

    Parameters
    ----------
    images : Tensor of shape (n, 48, 48), uint8
        Faces, on any device.
    size : int
        Window side in pixels, at most 48.

    Returns
    -------
    Tensor of shape (n, 10, size, size), uint8
        For each image the ten views in the order of :func:`ten_crop_windows`.
    """
    top, left, mirror = ten_crop_windows(size)
    n = len(images)
    views = crop_views(
        images.repeat_interleave(10, dim=0), top.repeat(n), left.repeat(n), size, mirror.repeat(n)
    )
    return views.view(n, 10, size, size)


def random_zoom(x: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Zoom each image about its centre: (n, c, h, w) float -> the same shape.

    A scale above 1 shows a wider field (the face smaller, the border pixels repeated where the
    field leaves the image), below 1 a narrower one; bilinear resampling with
    ``torch.nn.functional.affine_grid`` and ``grid_sample``.

    Parameters
    ----------
    x : Tensor of shape (n, c, h, w), floating point
        Images, on any device.
    scales : Tensor of shape (n,), float
        Field of view per image relative to the input (1: unchanged); moved to ``x``'s device.

    Returns
    -------
    Tensor of shape (n, c, h, w), ``x``'s dtype
    """
    n = len(x)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    scales = scales.to(device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = scales
    theta[:, 1, 1] = scales
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(
        x, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
