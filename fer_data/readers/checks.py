"""The one validation every reader's result goes through before ingest writes anything.

Row-level validation happens in the readers (each bad row or file becomes a reject with its
reason); here the data set as a whole is checked: the share of rejects, and whether the Training
and test parts can make the splits later stages need. Each failure is one line naming the file or
the parameter and the counts, raised as :class:`DataError` (exit code 2) before any output is
touched. A class with no Training rows is not an error: :func:`class_coverage` reports it so ingest
can warn loudly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fer_data.errors import DataError
from fer_data.faces import EMOTIONS, USAGES
from fer_data.readers.result import ParsedFaces


def _per_class(emotion: np.ndarray, classes: Sequence[str] = EMOTIONS) -> np.ndarray:
    return np.bincount(emotion.astype(np.int64), minlength=len(classes))


def _named(counts: np.ndarray, classes: Sequence[str] = EMOTIONS) -> str:
    return ", ".join(f"{name} {int(c)}" for name, c in zip(classes, counts, strict=True))


def usage_counts(usage: np.ndarray) -> str:
    """``"Training 42, PublicTest 14, PrivateTest 14"``."""
    return ", ".join(f"{u} {int(np.sum(usage == u))}" for u in USAGES)


def reject_fraction_error(parsed: ParsedFaces, max_fraction: float) -> str | None:
    """The message when more than ``max_fraction`` of the inputs were rejected, else None."""
    return rejects_over(parsed.rejects, parsed.n_rows, parsed.origin, max_fraction)


def rejects_over(
    rejects: pd.DataFrame, n_rows: int, origin: str, max_fraction: float
) -> str | None:
    """The message when more than ``max_fraction`` of ``n_rows`` inputs are in ``rejects``
    (a frame of :data:`~fer_data.readers.result.REJECT_COLUMNS`), naming ``origin``; else None."""
    fraction = len(rejects) / max(n_rows, 1)
    if fraction <= max_fraction:
        return None
    reasons = rejects["reason"].value_counts()
    top = "; ".join(f"{count} x {reason}" for reason, count in reasons.head(3).items())
    return (
        f"{origin}: {len(rejects)} of {n_rows} data rows ({fraction:.2%}) "
        f"were rejected, above data.max_reject_fraction={max_fraction:g} ({top})"
    )


def check_parts(
    parsed: ParsedFaces, training: np.ndarray, blank: np.ndarray, keep_blank_in_test: bool
) -> None:
    """Raise when the Training part or the test part is empty (after the blank-image rule).

    Parameters
    ----------
    parsed : ParsedFaces
        The data set (its ``usage`` and ``origin`` are used).
    training, blank : np.ndarray
        bool (n,): Training rows; blank images.
    keep_blank_in_test : bool
        ``data.keep_blank_in_test``.

    Raises
    ------
    DataError
        No Training row, every Training row blank, no test row, or every test row dropped as blank.
    """
    where = " (images under train/ and test/)" if parsed.reader == "image_folder" else ""
    counts = usage_counts(parsed.usage)
    if not training.any():
        raise DataError(
            f"{parsed.origin}: no Training rows (rows per Usage{where}: {counts}); ingest needs "
            f"Training rows to make the train and dev splits"
        )
    if not (training & ~blank).any():
        raise DataError(
            f"{parsed.origin}: all {int(training.sum())} Training rows are blank images (pixel std "
            f"<= data.blank_std_max), which are dropped from train and dev; nothing is left"
        )
    test = ~training
    if not test.any():
        raise DataError(
            f"{parsed.origin}: no test rows (rows per Usage{where}: {counts}); evaluation needs "
            f"PublicTest or PrivateTest rows"
        )
    if not keep_blank_in_test and not (test & ~blank).any():
        raise DataError(
            f"data.keep_blank_in_test=false drops all {int(test.sum())} test rows of "
            f"{parsed.origin} (all are blank images); nothing is left to evaluate on"
        )


def check_dev_split(
    emotion: np.ndarray, fraction: float, classes: Sequence[str] = EMOTIONS
) -> None:
    """Raise unless a stratified ``fraction`` of these Training rows can be the dev split.

    Mirrors scikit-learn's ``train_test_split(test_size=fraction, stratify=emotion)``: dev gets
    ``ceil(fraction * n)`` rows and train the rest, each needs at least one row per class present,
    and every class present needs two rows.

    Parameters
    ----------
    emotion : np.ndarray
        int (n,): class codes of the Training rows that enter the split (blank images dropped).
    fraction : float
        ``data.dev_fraction``.
    classes : sequence of str, default FER2013's seven emotions
        Class names of the codes (FER+: 8), for the message.

    Raises
    ------
    DataError
        One line naming ``data.dev_fraction`` and the counts.
    """
    counts = _per_class(emotion, classes)
    n, k = len(emotion), int(np.count_nonzero(counts))
    single = [classes[c] for c in np.flatnonzero(counts == 1)]
    if single:
        raise DataError(
            f"data.dev_fraction={fraction:g}: cannot stratify the dev split: "
            f"{', '.join(single)} {'has' if len(single) == 1 else 'have'} a single Training row "
            f"(each class needs 2: one for train, one for dev; Training rows per class: "
            f"{_named(counts, classes)}); add Training rows of that class or drop its single row"
        )
    n_dev = math.ceil(fraction * n)  # scikit-learn's rounding of a float test_size
    n_train = n - n_dev
    if n_dev >= k and n_train >= k:
        return
    if n < 2 * k:
        fix = f"{n} Training rows cannot give train and dev one row of each class (needs {2 * k})"
    elif n_dev < k:
        need = math.ceil(100 * k / n) / 100
        fix = f"set data.dev_fraction to at least {need:.2f} or use more Training rows"
    else:
        most = math.floor(100 * (n - k) / n) / 100
        fix = f"set data.dev_fraction to at most {most:.2f} or use more Training rows"
    if n_dev < k:
        what = f"gives {n_dev} dev rows, fewer than the {k} classes"
    else:
        what = f"leaves {n_train} train rows, fewer than the {k} classes"
    raise DataError(
        f"data.dev_fraction={fraction:g} of {n} Training rows {what}; {fix} "
        f"(Training rows per class: {_named(counts, classes)})"
    )


def class_coverage(
    train_emotion: np.ndarray, test_emotion: np.ndarray, classes: Sequence[str] = EMOTIONS
) -> dict[str, list[str]]:
    """Classes with no Training row (train + dev) and classes with no test row, by name
    (``classes``: the label space's names, FER2013's 7 or FER+'s 8)."""
    train, test = _per_class(train_emotion, classes), _per_class(test_emotion, classes)
    return {
        "missing_in_training": [classes[c] for c in np.flatnonzero(train == 0)],
        "missing_in_test": [classes[c] for c in np.flatnonzero(test == 0)],
    }
