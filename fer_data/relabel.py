"""FER+ labels on ingested faces: the FER2013 rows a reader accepted, relabelled with the FER+
majority label (Barsoum et al. 2016; rules in :mod:`fer_data.ferplus`) and given their 10 votes.

The vote file is read strictly and checked against the faces' rows (row count, Usage on every row,
label agreement: :func:`fer_data.ferplus.check_alignment`) before any row is relabelled. Rows the
majority rule drops (no majority, ``unknown`` or not-a-face on top, single votes only, no FER+
image) and rows whose vote line was rejected become rejects with their reason, in the one rejects
format of the readers, and are counted per reason and Usage: nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer_data.errors import DataError
from fer_data.faces import USAGES
from fer_data.ferplus import (
    FERPLUS_CLASSES,
    VOTE_COLUMNS,
    check_alignment,
    make_labels,
    read_votes,
)
from fer_data.readers.result import REJECT_COLUMNS, ParsedFaces

REASON_PREFIX = "FER+ "
VOTE_LINE_REJECTED = "vote line rejected"


@dataclass(frozen=True)
class Relabelled:
    """Faces with FER+ labels, and what relabelling dropped.

    Attributes
    ----------
    parsed : ParsedFaces
        The kept rows: ``emotion`` is the FER+ majority code (0-7, :data:`FERPLUS_CLASSES`).
    votes : ndarray of uint8, shape (n, 10)
        The vote counts of each kept row, in :data:`fer_data.ferplus.VOTE_COLUMNS` order.
    rejects : pandas.DataFrame
        One row per dropped face, columns :data:`fer_data.readers.result.REJECT_COLUMNS`.
    summary : dict
        For ``metrics/ingest.json``: the vote file, alignment, rows kept and dropped, and
        ``dropped_by_reason`` ({reason: {Usage: count, ..., "total": count}}).
    """

    parsed: ParsedFaces
    votes: np.ndarray
    rejects: pd.DataFrame
    summary: dict


def vote_file(path: Path, file_name: str) -> Path:
    """The vote file ``data.ferplus_path`` names: the file itself, or ``file_name`` in a folder.

    Raises
    ------
    DataError
        Naming ``data.ferplus_path`` and the path, when neither exists.
    """
    path = Path(path)
    candidate = path / file_name if path.is_dir() else path
    if not candidate.is_file():
        where = f"{path} holds no {file_name}" if path.is_dir() else f"{path} does not exist"
        raise DataError(
            f"data.ferplus_path={path}: {where}; data.labels: ferplus needs the FER+ vote file "
            f"{file_name} (github.com/microsoft/FERPlus): put it there or set data.ferplus_path"
        )
    return candidate


def relabel(parsed: ParsedFaces, path: Path) -> Relabelled:
    """Replace FER2013's labels of ``parsed`` by the FER+ majority labels of the vote file.

    Parameters
    ----------
    parsed : ParsedFaces
        Faces read from FER2013 in its original row order (``row_id``: the CSV data row).
    path : Path
        The FER+ vote file (``fer2013new.csv``, plain or gzip).

    Returns
    -------
    Relabelled
        The kept faces with their votes, and the dropped ones as counted rejects.

    Raises
    ------
    DataError
        The vote file is missing or malformed (:func:`fer_data.ferplus.read_votes`), or its rows
        are not aligned with ``parsed`` (:func:`fer_data.ferplus.check_alignment`).
    """
    votes = read_votes(path)
    alignment = check_alignment(
        votes,
        parsed.usage,
        parsed.n_rows,
        row_id=parsed.row_id,
        emotion=parsed.emotion,
        source=parsed.origin or "the FER2013 data",
    )
    labels = make_labels(votes, "majority")
    position = np.full(parsed.n_rows, -1, np.int64)
    position[votes.row_id] = np.arange(len(votes))
    at = position[parsed.row_id]  # vote row of each face, -1 where its vote line was rejected
    reason = np.full(len(at), "", dtype=object)
    has_votes = at >= 0
    reason[has_votes] = labels.drop_reason[at[has_votes]]
    line_reason = dict(zip(votes.rejects["row_id"], votes.rejects["reason"], strict=True))
    line_text = dict(zip(votes.rejects["row_id"], votes.rejects["raw"], strict=True))
    for k in np.flatnonzero(~has_votes):
        reason[k] = f"{VOTE_LINE_REJECTED} ({line_reason.get(int(parsed.row_id[k]), '?')})"
    keep = reason == ""
    dropped = np.flatnonzero(~keep)
    # The votes of a dropped row; a rejected vote line as it was.
    vote_text = [
        ",".join(map(str, votes.votes[at[k]]))
        if at[k] >= 0
        else line_text.get(int(parsed.row_id[k]), "")
        for k in dropped
    ]
    rejects = pd.DataFrame(
        {
            "file": str(votes.path),
            "line": parsed.row_id[dropped] + 2,  # the vote file's line (line 1: the header)
            "row_id": parsed.row_id[dropped],
            "reason": [REASON_PREFIX + str(r) for r in reason[dropped]],
            "detail": parsed.usage[dropped],
            "raw": vote_text,
        },
        columns=list(REJECT_COLUMNS),
    )
    by_reason: dict[str, dict[str, int]] = {}
    for r in sorted(set(reason[dropped])):
        usage = parsed.usage[dropped][reason[dropped] == r]
        by_reason[r] = {u: int(np.sum(usage == u)) for u in USAGES} | {"total": len(usage)}
    kept = np.flatnonzero(keep)
    relabelled = dataclasses.replace(
        parsed,
        row_id=parsed.row_id[kept],
        emotion=labels.majority[at[kept]].astype(np.int8),
        usage=parsed.usage[kept],
        images=parsed.images[kept],
    )
    summary = {
        "vote_file": str(votes.path),
        "scheme": "majority",
        "classes": list(FERPLUS_CLASSES),
        "vote_columns": list(VOTE_COLUMNS),
        "vote_lines_rejected": len(votes.rejects),
        "alignment": dataclasses.asdict(alignment),
        "faces": len(parsed.row_id),
        "kept": len(kept),
        "dropped": len(dropped),
        "dropped_by_reason": by_reason,
    }
    return Relabelled(
        parsed=relabelled,
        votes=votes.votes[at[kept]].astype(np.uint8),
        rejects=rejects,
        summary=summary,
    )
