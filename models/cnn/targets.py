"""What a CNN trains on with FER+ labels (``cnn.<arch>.targets``), and the loss of each scheme.

The four training schemes of Barsoum et al., "Training Deep Networks for Facial Expression
Recognition with Crowd-Sourced Label Distribution", ICMI 2016 (arXiv:1608.01041), made from each
row's 10 crowd votes by :func:`fer_data.ferplus.targets_from_votes` (the rules of the FER+
reference code):

``majority``
    Hard cross-entropy on the majority label (the only scheme FER2013 labels allow).
``probability`` (PLD)
    Each epoch, every image's label is drawn from its vote distribution
    (:func:`fer_data.ferplus.draw_labels`), then hard cross-entropy.
``crossentropy`` (CEL)
    Cross-entropy against the vote distribution as a soft target
    (``torch.nn.functional.cross_entropy`` takes class probabilities as targets).
``multi_target`` (ML)
    Multi-label binary cross-entropy (``binary_cross_entropy_with_logits``) on the 0/1 targets of
    every emotion with at least 30% of the votes, summed over classes, averaged over images. (The
    FER+ code trains ML with ``-log max_k t_k p_k``; a multi-label BCE is what the issue asks for
    and what later FER+ studies use.)

Whatever the scheme, accuracy (dev, test) is measured on the majority labels: FER+'s test labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from fer_data.ferplus import draw_labels, targets_from_votes
from models.cnn.data import Split
from models.cnn.names import TARGET_SCHEMES

SCHEMES = TARGET_SCHEMES


@dataclass(frozen=True)
class SchemeTargets:
    """One split's training targets under a scheme.

    Attributes
    ----------
    targets : ndarray of float32, shape (n, 8), or None
        The scheme's target of every row (None for ``majority``: the labels are the targets).
    keep : ndarray of bool, shape (n,)
        The rows the scheme keeps (all for ``majority``).
    dropped : dict of str to int
        Rows the scheme drops, per reason (only reasons with rows).
    """

    targets: np.ndarray | None
    keep: np.ndarray
    dropped: dict[str, int]


def scheme_targets(votes: np.ndarray | None, n_rows: int, scheme: str) -> SchemeTargets:
    """The training targets of ``scheme`` for rows with FER+ ``votes``.

    Parameters
    ----------
    votes : ndarray of int, shape (n, 10), or None
        A face table's FER+ votes (:attr:`fer_data.faces.FaceTable.votes`); None for FER2013
        labels.
    n_rows : int
        Rows of the split (n).
    scheme : str
        One of :data:`SCHEMES`.

    Returns
    -------
    SchemeTargets
        Targets float32 (n, 8) (None for ``majority``), kept rows and the drops per reason.

    Raises
    ------
    ValueError
        ``scheme`` is not ``majority`` and ``votes`` is None (FER2013 labels have no votes), or
        ``scheme`` is unknown.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown training targets {scheme!r}; expected one of {SCHEMES}")
    if scheme == "majority":
        return SchemeTargets(None, np.ones(n_rows, bool), {})
    if votes is None:
        raise ValueError(
            f"targets {scheme!r} need FER+ votes, and these faces have FER2013 labels "
            "(data.labels: ferplus gives them)"
        )
    labels = targets_from_votes(votes, scheme)
    dropped = {r: c for r, c in labels.counts.items() if r not in ("rows", "kept") and c}
    return SchemeTargets(labels.targets, labels.keep, dropped)


def epoch_labels(data: Split, scheme: str, seed: int) -> torch.Tensor:
    """The hard labels of one training epoch: drawn from the targets for ``probability`` (PLD,
    seeded by ``seed``, so a resumed run draws the same), else ``data.labels``.

    Returns
    -------
    Tensor of int64, shape (n,), on the labels' device.
    """
    if scheme != "probability":
        return data.labels
    if data.targets is None:
        raise ValueError("targets 'probability' need the split's vote distributions")
    drawn = draw_labels(data.targets.cpu().numpy(), np.random.default_rng([seed, 7]))
    return torch.from_numpy(drawn.astype(np.int64)).to(data.labels.device)


def target_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor | None,
    scheme: str,
    weights: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """The training loss of one batch under ``scheme`` (see the module docstring).

    Parameters
    ----------
    logits : Tensor of float32, shape (b, k)
        The network's outputs.
    labels : Tensor of int64, shape (b,)
        Hard labels (``majority``; ``probability``: this epoch's draws).
    targets : Tensor of float32, shape (b, k), or None
        Soft (``crossentropy``) or 0/1 (``multi_target``) targets; unused by the other schemes.
    scheme : str
        One of :data:`SCHEMES`.
    weights : Tensor of float32, shape (k,), optional
        Class weights (cross-entropy's ``weight``; BCE: a weight per class column). With hard
        labels torch averages over the weights of the batch's labels; with soft targets it
        averages over images (torch's rule for class-probability targets).
    label_smoothing : float, default 0
        Cross-entropy's label smoothing (the CE schemes only).

    Returns
    -------
    Tensor
        The scalar mean loss (nats per image).
    """
    if scheme in ("majority", "probability"):
        return functional.cross_entropy(
            logits, labels, weight=weights, label_smoothing=label_smoothing
        )
    if targets is None:
        raise ValueError(f"targets {scheme!r} need the batch's target rows")
    if scheme == "crossentropy":
        return functional.cross_entropy(
            logits, targets, weight=weights, label_smoothing=label_smoothing
        )
    if scheme == "multi_target":
        per_value = functional.binary_cross_entropy_with_logits(
            logits, targets, weight=None if weights is None else weights[None, :], reduction="none"
        )
        return per_value.sum(dim=1).mean()
    raise ValueError(f"unknown training targets {scheme!r}; expected one of {SCHEMES}")
