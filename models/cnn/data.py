"""The CNN's data: the ingest (and augment) stages' face tables as uint8 tensors on the device."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fer_data.faces import FaceTable, concat_tables, read_faces
from fer_data.logs import log_read
from models.cnn.device import Runtime


@dataclass(frozen=True)
class Normalizer:
    """uint8 crops -> standardised float input of shape (n, 1, size, size)."""

    mean: float
    std: float

    @classmethod
    def fit(cls, images: np.ndarray) -> Normalizer:
        """Mean and population standard deviation of all pixels of ``images``.

        Parameters
        ----------
        images : ndarray of any shape, e.g. uint8 (n, 48, 48)
            Training images, in gray levels (computed in float64).

        Returns
        -------
        Normalizer
            ``mean`` and ``std`` in gray levels.
        """
        pixels = images.astype(np.float64)
        return cls(float(pixels.mean()), float(pixels.std()))

    def __call__(self, crops: torch.Tensor, runtime: Runtime) -> torch.Tensor:
        """uint8 crops (n, size, size) -> float32 (n, 1, size, size), ``(x - mean) / std``,
        in the runtime's memory format (channels-last when set)."""
        x = crops.unsqueeze(1).float().sub_(self.mean).div_(self.std)
        return x.contiguous(memory_format=runtime.memory_format())


@dataclass(frozen=True)
class Split:
    """Images and labels of one split, as tensors on the training device."""

    images: torch.Tensor  # uint8 (n, 48, 48)
    labels: torch.Tensor  # int64 (n,): the (majority) class codes accuracy is measured on
    # float32 (n, k): FER+ soft or multi-label training targets (models.cnn.targets); None: the
    # labels are the targets.
    targets: torch.Tensor | None = None

    @classmethod
    def from_table(
        cls, table: FaceTable, device: torch.device, targets: np.ndarray | None = None
    ) -> Split:
        """Copy a face table's images (uint8 (n, 48, 48)) and emotions (as int64 (n,)) to
        ``device``, with ``targets`` (float32 (n, k), or None) when given."""
        images = torch.from_numpy(np.array(table.images, order="C")).to(device)  # a writable copy
        labels = torch.from_numpy(table.emotion.astype(np.int64)).to(device)
        if targets is not None:
            targets = torch.from_numpy(np.asarray(targets, np.float32)).to(device)
        return cls(images, labels, targets)

    def __len__(self) -> int:
        return len(self.labels)

    def concat(self, other: Split) -> Split:
        """This split's rows followed by ``other``'s (both on the same device; both with
        ``targets`` or neither)."""
        targets = None
        if self.targets is not None and other.targets is not None:
            targets = torch.cat([self.targets, other.targets])
        elif (self.targets is None) != (other.targets is None):
            raise ValueError("cannot join a split with training targets to one without")
        return Split(
            torch.cat([self.images, other.images]), torch.cat([self.labels, other.labels]), targets
        )


def read_split(path: Path, what: str) -> FaceTable:
    """A face table (:func:`fer_data.faces.read_faces`), logged as ``what``.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`fer_data.faces.read_faces`.
    """
    table = read_faces(path)
    log_read(path, f"{len(table)} {what} images")
    return table


def training_table(train_path: Path, augmented_path: Path | None) -> FaceTable:
    """The training split, plus the augment stage's copies when ``augmented_path`` is given.

    Parameters
    ----------
    train_path : pathlib.Path
        Face table of the training split.
    augmented_path : pathlib.Path or None
        Face table of one augmentation mode's copies, appended after the training rows.

    Returns
    -------
    FaceTable
        The rows of both tables (``meta`` of the training table).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`fer_data.faces.read_faces`, for either file.
    """
    train = read_split(train_path, "train")
    if augmented_path is None:
        return train
    return concat_tables([train, read_split(augmented_path, "augmented")])


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """'balanced' weights n / (k * n_c), as scikit-learn's; an absent class gets weight 0.

    Parameters
    ----------
    labels : ndarray of shape (n,), non-negative int
        Training labels.
    n_classes : int
        Number of classes k (7 for FER2013).

    Returns
    -------
    Tensor of shape (n_classes,), float32
        Weight of each class for the loss, on the CPU.

    Raises
    ------
    ValueError
        If a label is negative, or is n_classes or above.
    """
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.divide(len(labels), n_classes * counts, out=np.zeros(n_classes), where=counts > 0)
    return torch.tensor(weights, dtype=torch.float32)
