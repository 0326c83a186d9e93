"""FER+ labels: Microsoft's crowd votes for FER2013 (``fer2013new.csv``), read strictly, checked
against the FER2013 rows they describe, and turned into the four label schemes of the FER+ paper.

Source: E. Barsoum, C. Zhang, C. Canton Ferrer and Z. Zhang, "Training Deep Networks for Facial
Expression Recognition with Crowd-Sourced Label Distribution", ICMI 2016 (arXiv:1608.01041), and the
label rules of its reference code, github.com/microsoft/FERPlus (``src/ferplus.py``,
``FERPlusReader._process_data`` and ``load_folders``; MIT licence). Where the paper and the code
differ in detail, this module follows the code, because the published FER+ results come from it.

The file
    ``Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF``:
    one row per data row of the original Kaggle ``fer2013.csv``, in the same order (row order is
    the only key), holding the votes of 10 crowd taggers. An empty ``Image name`` means FER+ made
    no image of that row (all 173 such rows of the published file are ``NF=10``, not a face).
    :func:`read_votes` reads it strictly: a bad row (wrong field count, unknown Usage, a vote that
    is not a non-negative integer, a vote above 10) is a counted reject with its line and reason;
    a missing, empty or non-FER+ file is a :class:`~fer_data.errors.DataError` naming the file.

Alignment
    The rows are matched to FER2013 by position, so :func:`check_alignment` checks that, rather than
    assuming it: the same number of data rows, the same Usage on every row, and (when the FER2013
    labels are given) that FER2013's label agrees with the FER+ majority far above chance: 67.9% on
    the published files against 17.6-18.6% for rows shifted by 1-10 places, shuffled, or sorted by
    class as an image-folder copy would be (measured on the full files, 31,264 comparable rows).

Classes
    :data:`FERPLUS_CLASSES` in FER+'s own order: neutral, happiness, surprise, sadness, anger,
    disgust, fear, contempt (codes 0-7, the order of the FER+ reference code and its released
    models). :data:`FER2013_TO_FERPLUS` and :data:`FERPLUS_TO_FER2013` map the 7 shared emotions
    between FER2013's codes (0 Angry ... 6 Neutral) and these; contempt has no FER2013 code (-1).

Label schemes (:func:`make_labels`), all after *single-vote removal*: every tag with exactly one
vote is set to 0 (outlier removal; the FER+ code does this for every row, whatever the other
counts), including ``unknown`` and ``NF``; ``S`` below is the sum of the votes left.

``majority`` (MV)
    The tag with more than half of ``S`` (a strict majority, so never a tie); rows without one are
    dropped ("no majority"), as are rows whose majority tag is ``unknown`` or ``NF``. Target: the
    class code, and a one-hot row. These are also the test labels of every scheme in FER+.
``probability`` (PLD) and ``crossentropy`` (CEL)
    The tags with the most votes are taken a tie group at a time, in descending order of votes,
    until they hold at least 75% of ``S`` or 3 tags are taken. If ``unknown`` or ``NF`` is reached
    after an emotion was taken, it is left out and taking stops; if it has the most votes itself the
    row is dropped. A row is also dropped when more than 3 tags were taken (a tie) or when the
    taken tags hold no more than half of ``S``. Target: the taken votes normalised to sum to 1
    (float32, 8 columns). Both schemes share this distribution: CEL trains on it as a soft target;
    PLD draws one class from it for every row in every epoch (:func:`draw_labels`).
``multi_target`` (ML)
    Every tag with at least 30% of ``S`` is a target; a row is dropped when those hold no more than
    half of ``S``, or when ``unknown`` or ``NF`` has the most votes. Target: 1 for each of those
    emotions, 0 elsewhere (float32, 8 columns). The FER+ code then trains with
    ``-log(max_k t_k p_k)`` on targets smoothed to ``(1 - 0.001) t + 0.001``; a multi-label BCE
    trains on the 0/1 targets directly.

Rows kept by a scheme's vote rule but with an empty ``Image name`` are dropped too (FER+ never made
their image). Every dropped row keeps its row id and gets a reason from :data:`DROP_REASONS`;
:attr:`FerPlusLabels.counts` counts them, so nothing is dropped silently.

Typical use (the FER2013 side from :func:`fer_data.fer_csv.read_fer2013`)::

    votes = read_votes(path)
    check_alignment(votes, parsed.usage, parsed.n_rows, row_id=parsed.row_id,
                    emotion=parsed.emotion, source=str(csv_path))
    labels = make_labels(votes, "crossentropy")
    train_targets = labels.targets[labels.keep]      # join on labels.row_id
    test_labels = labels.majority                    # -1 where the majority rule drops the row
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer_data.errors import DataError
from fer_data.faces import USAGES

VOTE_COLUMNS = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
HEADER = ("Usage", "Image name", *VOTE_COLUMNS)
FERPLUS_CLASSES = VOTE_COLUMNS[:8]
N_CLASSES = len(FERPLUS_CLASSES)
UNKNOWN = VOTE_COLUMNS.index("unknown")
NOT_A_FACE = VOTE_COLUMNS.index("NF")
MAX_VOTE = 10  # FER+ asked 10 taggers per image
SCHEMES = ("majority", "probability", "crossentropy", "multi_target")

# FER2013 codes (0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral) -> FER+ codes.
FER2013_TO_FERPLUS = np.array([4, 5, 6, 1, 3, 2, 0], dtype=np.int8)
# FER+ codes -> FER2013 codes; contempt (7) has none.
FERPLUS_TO_FER2013 = np.array([6, 3, 5, 4, 0, 1, 2, -1], dtype=np.int8)

# Rule constants of the FER+ reference code, as exact fractions (votes are integers).
_PLD_COVER = (3, 4)  # take tie groups until they hold >= 3/4 of the votes ...
_PLD_MAX_TAGS = 3  # ... or 3 tags are taken; more than 3 (a tie) drops the row
_ML_SHARE = (3, 10)  # multi-target: tags with >= 30% of the votes

# Alignment check on the FER2013 labels: aligned files agree on 67.9%, misaligned ones on ~18%
# (module docstring). Below 100 comparable rows a sample can stray too far to judge (100-row
# samples: aligned >= 0.52, shifted <= 0.33 in 2,000 draws each), so it is reported, not judged.
MIN_AGREEMENT = 0.4
MIN_AGREEMENT_ROWS = 100

NO_VOTES = "no tag has more than one vote"
NO_MAJORITY = "no majority: no tag has more than half of the votes left after single-vote removal"
TOP_UNKNOWN = "unknown has the most votes"
TOP_NOT_A_FACE = "not a face: NF has the most votes"
TIE_OVER_3 = "more than 3 tags tie among the top votes"
LOW_COVER_TOP = "the top tags (up to 3, until 75% of the votes) hold no more than half of the votes"
LOW_COVER_30 = "the tags with at least 30% of the votes hold no more than half of the votes"
NO_IMAGE = "empty Image name: FER+ made no image of this row"

DROP_REASONS = {
    "majority": (NO_VOTES, NO_MAJORITY, TOP_UNKNOWN, TOP_NOT_A_FACE, NO_IMAGE),
    "probability": (NO_VOTES, TOP_UNKNOWN, TOP_NOT_A_FACE, TIE_OVER_3, LOW_COVER_TOP, NO_IMAGE),
    "crossentropy": (NO_VOTES, TOP_UNKNOWN, TOP_NOT_A_FACE, TIE_OVER_3, LOW_COVER_TOP, NO_IMAGE),
    "multi_target": (NO_VOTES, TOP_UNKNOWN, TOP_NOT_A_FACE, LOW_COVER_30, NO_IMAGE),
}


@dataclass(frozen=True)
class FerPlusVotes:
    """The accepted rows of a vote file and its rejects.

    Attributes
    ----------
    path : Path
        The file read (used in messages).
    row_id : ndarray of int64, shape (n,)
        0-based data row of each accepted row: the FER2013 data row it describes.
    usage : ndarray of str (object), shape (n,)
        ``Training``, ``PublicTest`` or ``PrivateTest``.
    image_name : ndarray of str (object), shape (n,)
        FER+'s image file name; ``""`` where FER+ made no image.
    votes : ndarray of int16, shape (n, 10)
        Vote counts in :data:`VOTE_COLUMNS` order, each 0-10.
    rejects : DataFrame
        One row per rejected line: ``line`` (1-based file line), ``row_id``, ``reason``, ``raw``.
    n_rows : int
        Data rows in the file, accepted plus rejected.
    """

    path: Path
    row_id: np.ndarray
    usage: np.ndarray
    image_name: np.ndarray
    votes: np.ndarray
    rejects: pd.DataFrame
    n_rows: int

    def __len__(self) -> int:
        return len(self.row_id)


@dataclass(frozen=True)
class FerPlusLabels:
    """One label scheme applied to every accepted row of a vote file.

    Attributes
    ----------
    scheme : str
        One of :data:`SCHEMES`.
    classes : tuple of str
        :data:`FERPLUS_CLASSES`, the column order of ``targets`` and the codes of ``majority``.
    row_id, usage : ndarray, shape (n,)
        As in :class:`FerPlusVotes` (int64; str): the FER2013 data row of each label.
    targets : ndarray of float32, shape (n, 8)
        The scheme's target per row: one-hot (``majority``), a distribution summing to 1
        (``probability``, ``crossentropy``) or 0/1 per class (``multi_target``); all zeros on
        dropped rows.
    majority : ndarray of int8, shape (n,)
        The majority-rule class code of every row (-1 where that rule, or a missing FER+ image,
        drops it), whatever the scheme: FER+ evaluates every scheme on the majority labels.
    keep : ndarray of bool, shape (n,)
        The rows the scheme keeps.
    drop_reason : ndarray of str (object), shape (n,)
        ``""`` on kept rows, else one of ``DROP_REASONS[scheme]``.
    counts : dict of str to int
        ``rows``, ``kept`` and the number of rows dropped for each of ``DROP_REASONS[scheme]``
        (zeros included, so the keys do not depend on the data).
    """

    scheme: str
    classes: tuple[str, ...]
    row_id: np.ndarray
    usage: np.ndarray
    targets: np.ndarray
    majority: np.ndarray
    keep: np.ndarray
    drop_reason: np.ndarray
    counts: dict[str, int]

    def __len__(self) -> int:
        return len(self.row_id)


@dataclass(frozen=True)
class Alignment:
    """What :func:`check_alignment` compared (all checks passed if it returned).

    Attributes
    ----------
    n_rows : int
        Data rows in each file.
    usage_rows : int
        Rows whose Usage was compared (accepted in both files).
    agreement : float or None
        Share of ``agreement_rows`` where the FER2013 label equals the FER+ majority; None when no
        FER2013 labels were given.
    agreement_rows : int
        Rows compared on labels: accepted in both files, with a FER+ majority among the 7 emotions
        FER2013 has.
    agreement_checked : bool
        Whether ``agreement`` was held to :data:`MIN_AGREEMENT` (needs
        :data:`MIN_AGREEMENT_ROWS` rows).
    """

    n_rows: int
    usage_rows: int
    agreement: float | None
    agreement_rows: int
    agreement_checked: bool


def read_votes(path: str | os.PathLike[str]) -> FerPlusVotes:
    """Read a FER+ vote file (``fer2013new.csv``, plain or gzip) strictly.

    Parameters
    ----------
    path : str or PathLike
        The vote file; gzip is detected by its magic number, not its name.

    Returns
    -------
    FerPlusVotes
        Accepted rows (votes int16 (n, 10)) and the rejected ones with line and reason.

    Raises
    ------
    DataError
        Naming the file: missing, a folder, corrupt gzip, not UTF-8 text, empty, a header other
        than :data:`HEADER` (a FER2013 image file is recognised and named as such), no data rows,
        or no valid row at all.

    Notes
    -----
    A blank line is a rejected row, so it keeps its row position (and makes the row count differ
    from FER2013's, which :func:`check_alignment` reports). Fields may carry surrounding spaces and
    one pair of double quotes. The 35,887-row file reads in well under a second.
    """
    path = Path(path)
    lines = _data_lines(path)
    n = len(lines)
    fields = [line.split(",") for line in lines]
    n_fields = np.fromiter((len(f) for f in fields), dtype=np.int64, count=n)
    whole = np.flatnonzero(n_fields == len(HEADER))
    reason = np.full(n, "", dtype=object)
    for i in np.flatnonzero(n_fields != len(HEADER)):
        reason[i] = (
            "empty line"
            if not lines[i].strip()
            else f"{n_fields[i]} fields; expected {len(HEADER)} ({','.join(HEADER)})"
        )
    cells = np.array([fields[i] for i in whole], dtype=str).reshape(len(whole), len(HEADER))
    cells = np.char.strip(np.char.strip(cells), '"') if len(whole) else cells
    usage = cells[:, 0].astype(object)
    vote_text = cells[:, 2:]
    # Up to two decimal digits: anything longer cannot be a count of 10 taggers anyway.
    numeric = np.char.isdecimal(vote_text) & (np.char.str_len(vote_text) <= 2)
    votes = np.zeros(vote_text.shape, np.int16)
    votes[numeric] = vote_text[numeric].astype(np.int16)
    good_usage = np.isin(usage, USAGES)
    row_ok = numeric.all(axis=1) & (votes <= MAX_VOTE).all(axis=1) & good_usage
    for k in np.flatnonzero(~row_ok):
        reason[whole[k]] = _row_reason(usage[k], vote_text[k], numeric[k], votes[k])
    accepted = whole[row_ok]
    rejected = np.flatnonzero(reason != "")
    if len(accepted) == 0:
        first = "; ".join(f"line {i + 2}: {reason[i]}" for i in rejected[:3])
        raise DataError(f"{path}: none of the {n:,} data rows is a valid FER+ vote row ({first})")
    return FerPlusVotes(
        path=path,
        row_id=accepted.astype(np.int64),
        usage=usage[row_ok],
        image_name=cells[row_ok, 1].astype(object),
        votes=votes[row_ok],
        rejects=pd.DataFrame(
            {
                "line": rejected + 2,  # 1-based file line; line 1 is the header
                "row_id": rejected,
                "reason": reason[rejected].astype(str),
                "raw": [lines[i] for i in rejected],
            }
        ),
        n_rows=n,
    )


def _data_lines(path: Path) -> list[str]:
    """The file's data lines (header checked and removed; CR and a final newline stripped)."""
    if not path.exists():
        raise DataError(
            f"{path}: FER+ vote file not found. Download fer2013new.csv from "
            f"https://github.com/microsoft/FERPlus and point the pipeline at it"
        )
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected the FER+ vote file fer2013new.csv itself")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.start}); expected the FER+ vote CSV"
        ) from None
    if not text.strip():
        raise DataError(f"{path}: file is empty; expected the header {','.join(HEADER)!r}")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    header = tuple(c.strip().strip('"') for c in lines[0].split(","))
    if header != HEADER:
        hint = (
            " (this is the FER2013 image file; the FER+ votes are the separate fer2013new.csv)"
            if {"emotion", "pixels"} <= {c.lower() for c in header}
            else ""
        )
        raise DataError(
            f"{path}: line 1 is {lines[0][:120]!r}; expected the FER+ header "
            f"{','.join(HEADER)!r}{hint}"
        )
    if len(lines) == 1:
        raise DataError(f"{path}: has the header but no data rows")
    return lines[1:]


def _row_reason(usage: str, text: np.ndarray, numeric: np.ndarray, votes: np.ndarray) -> str:
    for column, cell_text, ok, value in zip(VOTE_COLUMNS, text, numeric, votes, strict=True):
        cell = str(cell_text)
        body = cell[1:] if cell.startswith("-") else ""
        if not ok and body.isdecimal():
            return f"negative vote in {column}: {cell!r}"
        if not ok and not cell.isdecimal():
            return f"vote in {column} is not a non-negative integer: {cell!r}"
        if not ok or value > MAX_VOTE:
            return f"vote in {column} above {MAX_VOTE} (FER+ has {MAX_VOTE} taggers): {cell}"
    return f"unknown Usage {str(usage)!r} (expected one of {', '.join(USAGES)})"


def check_alignment(
    votes: FerPlusVotes,
    usage: np.ndarray,
    n_rows: int,
    *,
    row_id: np.ndarray | None = None,
    emotion: np.ndarray | None = None,
    source: str = "the FER2013 file",
) -> Alignment:
    """Check that the vote file's rows describe the FER2013 rows at the same positions.

    Parameters
    ----------
    votes : FerPlusVotes
        From :func:`read_votes`.
    usage : array of str, shape (m,)
        The FER2013 Usage of each of its accepted rows.
    n_rows : int
        Data rows in the FER2013 file, accepted plus rejected.
    row_id : array of int, shape (m,), optional
        The FER2013 data row of each entry of ``usage`` (and ``emotion``); default ``0..m-1``.
    emotion : array of int, shape (m,), optional
        FER2013 labels (0-6). When given, they must agree with the FER+ majority on at least
        :data:`MIN_AGREEMENT` of the comparable rows (checked from :data:`MIN_AGREEMENT_ROWS`
        rows on). This catches what Usage cannot: rows reordered inside a Usage block, as in an
        image-folder copy of FER2013, which has no row order of its own.
    source : str
        How to name the FER2013 data in messages (its path).

    Returns
    -------
    Alignment
        What was compared.

    Raises
    ------
    DataError
        Naming the vote file, with counts: different numbers of data rows; Usage differing on any
        row (the first 5 listed with data row, file line and both values); labels agreeing on
        less than :data:`MIN_AGREEMENT`.
    """
    if n_rows != votes.n_rows:
        raise DataError(
            f"{votes.path}: {votes.n_rows:,} data rows, but {source} has {n_rows:,}; the FER+ vote "
            f"file has one row per FER2013 row, in the original Kaggle fer2013.csv order, so both "
            f"need the same rows"
        )
    usage = np.asarray(usage, dtype=object)
    row_id = np.arange(len(usage)) if row_id is None else np.asarray(row_id, dtype=np.int64)
    if len(row_id) != len(usage) or (emotion is not None and len(emotion) != len(usage)):
        raise ValueError("usage, row_id and emotion must have the same length")
    if len(row_id) and (row_id.min() < 0 or row_id.max() >= n_rows):
        raise ValueError(f"row_id outside 0..{n_rows - 1}")
    position = np.full(n_rows, -1, np.int64)  # FER+ accepted-row index of each data row
    position[votes.row_id] = np.arange(len(votes))
    both = position[row_id] >= 0
    fer_rows, plus_rows = row_id[both], position[row_id[both]]
    differ = np.flatnonzero(usage[both] != votes.usage[plus_rows])
    if len(differ):
        first = "; ".join(
            f"data row {fer_rows[k]} (line {fer_rows[k] + 2}): FER+ {votes.usage[plus_rows[k]]!r},"
            f" FER2013 {usage[both][k]!r}"
            for k in differ[:5]
        )
        raise DataError(
            f"{votes.path}: Usage differs from {source} on {len(differ):,} of {len(fer_rows):,} "
            f"rows, so the rows are not aligned (first: {first})"
        )
    agreement, compared, checked = None, 0, False
    if emotion is not None:
        fer_label = np.asarray(emotion, dtype=np.int64)[both]
        plus_label = _majority(votes.votes[plus_rows])[0]
        shared = (plus_label >= 0) & (FERPLUS_TO_FER2013[np.maximum(plus_label, 0)] >= 0)
        compared = int(shared.sum())
        if compared:
            agreement = float(np.mean(FERPLUS_TO_FER2013[plus_label[shared]] == fer_label[shared]))
        checked = compared >= MIN_AGREEMENT_ROWS
        if checked and agreement < MIN_AGREEMENT:
            raise DataError(
                f"{votes.path}: the FER2013 labels of {source} agree with the FER+ majority on "
                f"only {agreement:.1%} of {compared:,} rows (aligned files: about 68%, rows out "
                f"of order: about 18%), so its rows are not in the original fer2013.csv order; "
                f"FER+ labels need the FER2013 CSV in its original row order"
            )
    return Alignment(
        n_rows=n_rows,
        usage_rows=len(fer_rows),
        agreement=agreement,
        agreement_rows=compared,
        agreement_checked=checked,
    )


def make_labels(votes: FerPlusVotes, scheme: str) -> FerPlusLabels:
    """Apply one FER+ label scheme to every accepted row (rules in the module docstring).

    Parameters
    ----------
    votes : FerPlusVotes
        From :func:`read_votes`.
    scheme : {"majority", "probability", "crossentropy", "multi_target"}
        Barsoum et al.'s MV, PLD, CEL and ML schemes, named as in the FER+ reference code.

    Returns
    -------
    FerPlusLabels
        Targets float32 (n, 8), majority codes int8 (n,), keep mask and drop reasons, counted.

    Raises
    ------
    ValueError
        For a scheme not in :data:`SCHEMES` (the params schema validates the user's value).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown FER+ label scheme {scheme!r}; expected one of {SCHEMES}")
    majority, majority_reason = _majority(votes.votes)
    if scheme == "majority":
        targets = np.zeros((len(votes), N_CLASSES), np.float32)
        kept = np.flatnonzero(majority >= 0)
        targets[kept, majority[kept]] = 1.0
        reason = majority_reason
    elif scheme == "multi_target":
        targets, reason = _multi_target(votes.votes)
    else:
        targets, reason = _top_distribution(votes.votes)
    no_image = (reason == "") & (votes.image_name == "")
    reason[no_image] = NO_IMAGE
    targets[no_image] = 0.0
    majority[(votes.image_name == "") & (majority >= 0)] = -1
    keep = reason == ""
    counts = {"rows": len(votes), "kept": int(keep.sum())}
    counts |= {r: int(np.sum(reason == r)) for r in DROP_REASONS[scheme]}
    return FerPlusLabels(
        scheme=scheme,
        classes=FERPLUS_CLASSES,
        row_id=votes.row_id,
        usage=votes.usage,
        targets=targets,
        majority=majority,
        keep=keep,
        drop_reason=reason,
        counts=counts,
    )


def _without_single_votes(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(votes int64 with every count of 1 set to 0, their row sums)."""
    v = votes.astype(np.int64)
    v[v == 1] = 0
    return v, v.sum(axis=1)


def _top_is(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose first maximum is unknown / NF (ties go to the lower column, as argmax does)."""
    top = v.argmax(axis=1)
    return top == UNKNOWN, top == NOT_A_FACE


def _majority(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class int8 (n,) with -1 on dropped rows, reason (n,) object) of the majority rule."""
    v, total = _without_single_votes(votes)
    top = v.argmax(axis=1)
    has_majority = 2 * v.max(axis=1) > total
    reason = np.full(len(v), "", dtype=object)
    reason[~has_majority] = NO_MAJORITY
    reason[has_majority & (top == UNKNOWN)] = TOP_UNKNOWN
    reason[has_majority & (top == NOT_A_FACE)] = TOP_NOT_A_FACE
    reason[total == 0] = NO_VOTES
    label = np.where(reason == "", top, -1).astype(np.int8)
    return label, reason


def _top_distribution(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PLD / CEL: the top tie groups' votes as a distribution (float32 (n, 8)) and reasons."""
    v, total = _without_single_votes(votes)
    n = len(v)
    left = v.copy()  # votes not yet taken
    taken = np.zeros(v.shape, bool)
    held = np.zeros(n, np.int64)  # votes of the taken tags
    going = total > 0
    special_first = np.zeros(n, bool)  # unknown/NF has the most votes: the row is dropped
    for _ in range(v.shape[1]):
        going &= (_PLD_COVER[1] * held < _PLD_COVER[0] * total) & (taken.sum(1) < _PLD_MAX_TAGS)
        if not going.any():
            break
        top = left.max(axis=1)
        group = (left == top[:, None]) & going[:, None] & (top > 0)[:, None]
        emotions = group[:, :N_CLASSES]
        taken[:, :N_CLASSES] |= emotions
        held += top * emotions.sum(axis=1)
        # Unknown and NF come after the emotions: reaching one (the first in the group) ends the
        # taking; it is only taken, which drops the row, when no emotion was taken before it.
        special = group[:, UNKNOWN] | group[:, NOT_A_FACE]
        first_special = np.where(group[:, UNKNOWN], UNKNOWN, NOT_A_FACE)
        alone = special & ~taken.any(axis=1)
        special_first |= alone
        taken[np.flatnonzero(alone), first_special[alone]] = True
        held += np.where(alone, top, 0)
        going &= ~special
        left[group] = 0
    unknown_top, nf_top = _top_is(v)
    n_taken = taken.sum(axis=1)
    reason = np.full(n, "", dtype=object)
    reason[2 * held <= total] = LOW_COVER_TOP
    reason[n_taken > _PLD_MAX_TAGS] = TIE_OVER_3
    reason[special_first & unknown_top] = TOP_UNKNOWN
    reason[special_first & nf_top] = TOP_NOT_A_FACE
    reason[total == 0] = NO_VOTES
    kept = reason == ""
    share = np.where(taken, v, 0)[:, :N_CLASSES].astype(np.float64)
    targets = np.zeros((n, N_CLASSES), np.float32)
    targets[kept] = share[kept] / share[kept].sum(axis=1, keepdims=True)
    return targets, reason


def _multi_target(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ML: 0/1 targets (float32 (n, 8)) for the tags with >= 30% of the votes, and reasons."""
    v, total = _without_single_votes(votes)
    chosen = _ML_SHARE[1] * v >= _ML_SHARE[0] * total[:, None]
    held = np.where(chosen, v, 0).sum(axis=1)
    unknown_top, nf_top = _top_is(v)  # any chosen tag set holds the overall maximum
    reason = np.full(len(v), "", dtype=object)
    reason[2 * held <= total] = LOW_COVER_30
    covered = reason == ""
    reason[covered & unknown_top] = TOP_UNKNOWN
    reason[covered & nf_top] = TOP_NOT_A_FACE
    reason[total == 0] = NO_VOTES
    kept = reason == ""
    targets = np.zeros((len(v), N_CLASSES), np.float32)
    targets[kept] = (chosen & (v > 0))[kept, :N_CLASSES]
    return targets, reason


def draw_labels(targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one class per row from distribution targets: PLD's per-epoch label.

    Parameters
    ----------
    targets : ndarray of float, shape (n, k)
        Rows summing to 1 (``probability`` targets) or all zero (dropped rows).
    rng : numpy.random.Generator
        Source of the draws (one uniform per row).

    Returns
    -------
    ndarray of int8, shape (n,)
        Class codes, class c drawn with probability ``targets[:, c]``; -1 on all-zero rows.
    """
    cumulative = np.cumsum(np.asarray(targets, np.float64), axis=1)
    total = cumulative[:, -1]
    u = rng.random(len(targets)) * total
    label = np.argmax(cumulative > u[:, None], axis=1).astype(np.int8)
    label[total <= 0] = -1
    return label


def class_counts(labels: FerPlusLabels) -> pd.DataFrame:
    """Majority-label counts: rows ``USAGES`` and ``all``, columns the 8 classes and ``total``.

    Counts the rows ``labels.majority`` labels (the FER+ test labels; the same for every scheme).
    Returns an int64 DataFrame.
    """
    kept = labels.majority >= 0
    table = pd.crosstab(
        pd.Categorical(labels.usage[kept], categories=USAGES),
        pd.Categorical(
            np.asarray(FERPLUS_CLASSES, dtype=object)[labels.majority[kept]],
            categories=FERPLUS_CLASSES,
        ),
        dropna=False,
    )
    table.index.name, table.columns.name = "Usage", None
    table.columns = list(FERPLUS_CLASSES)
    table.loc["all"] = table.sum(axis=0)
    table["total"] = table.sum(axis=1)
    return table.astype(np.int64)


def targets_from_votes(votes: np.ndarray, scheme: str) -> FerPlusLabels:
    """A label scheme applied to vote counts already joined to face rows (a face table's
    ``votes``), all of which have a FER+ image.

    Parameters
    ----------
    votes : ndarray of int, shape (n, 10)
        Vote counts in :data:`VOTE_COLUMNS` order (:attr:`fer_data.faces.FaceTable.votes`).
    scheme : {"majority", "probability", "crossentropy", "multi_target"}
        As in :func:`make_labels`.

    Returns
    -------
    FerPlusLabels
        As :func:`make_labels`; ``row_id`` is ``0..n-1`` (positions in ``votes``) and ``usage``
        is empty text.

    Raises
    ------
    ValueError
        For a scheme not in :data:`SCHEMES`, or ``votes`` not of shape (n, 10).
    """
    votes = np.asarray(votes)
    if votes.ndim != 2 or votes.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"votes must be (n, {len(VOTE_COLUMNS)}), got {votes.shape}")
    n = len(votes)
    joined = FerPlusVotes(
        path=Path("<face table>"),
        row_id=np.arange(n, dtype=np.int64),
        usage=np.full(n, "", dtype=object),
        image_name=np.full(n, "face table row", dtype=object),
        votes=votes.astype(np.int16),
        rejects=pd.DataFrame({"line": [], "row_id": [], "reason": [], "raw": []}),
        n_rows=n,
    )
    return make_labels(joined, scheme)
