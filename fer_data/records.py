"""Typed records: the JSON files one stage writes and another reads.

A record is a pydantic model that validates on read, so a file written by another version of the
code, or edited by hand, fails with its path and the offending key instead of a ``KeyError``
three modules later. Optional keys that a writer left out stay out of the file (``exclude_unset``),
so the JSON holds exactly what the writer set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from fer_data.atomic import write_json
from fer_data.faces import EMOTIONS


class RecordError(ValueError):
    """A record file is missing, is not JSON, or does not have the expected keys and types."""


class Record(BaseModel):
    """Base of every record: unknown keys are errors; :meth:`read` and :meth:`write` do the I/O."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Self:
        """Read and validate ``path``.

        Raises
        ------
        RecordError
            The file does not exist (naming the stage to run is the caller's job: the message
            says which file), is not JSON, or does not match this record's fields.
        """
        path = Path(path)
        if not path.exists():
            raise RecordError(f"{path} does not exist; run the stage that writes it first")
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: not valid JSON ({exc})") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<top level>'}: {e['msg']}" for e in exc.errors()
            )
            raise RecordError(
                f"{path}: not a {cls.__name__} record ({problems}); it was written by another "
                "version of ferbench: rerun `dvc repro`"
            ) from None

    @classmethod
    def read_optional(cls, path: str | os.PathLike[str]) -> Self | None:
        """:meth:`read`, or ``None`` when the file does not exist (a stage that has not run).

        Raises
        ------
        RecordError
            The file exists but is not JSON or does not match this record's fields.
        """
        return cls.read(path) if Path(path).exists() else None

    def to_json(self) -> dict:
        """The record as JSON-ready data: the keys the writer set, in field order."""
        return self.model_dump(mode="json", exclude_unset=True)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the record atomically (see :func:`fer_data.atomic.write_json`).

        Parameters
        ----------
        path : str or os.PathLike
            Destination JSON file; missing parent folders are created.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        OSError
            If the file cannot be written; ``path`` is then left as it was.
        """
        return write_json(path, self.to_json())


class DataSource(Record):
    """What the ingested data came from (``data/ingested/source.json``); every metrics file
    copies it so that numbers from the synthetic demo set say so."""

    source: str  # what was read: "csv", "archive", "image_folder" or "synthetic"
    synthetic: bool
    path: str | None
    notice: str  # the synthetic banner, "" for real data
    member: str | None = None  # archives: the member read
    found_by: str | None = None  # "data.path", "search of data/raw", "nothing found", ...
    looked_in: str | None = None  # synthetic fallback: the folder searched for data
    # The label space: FER2013's 7 emotions, or FER+'s 8 majority classes (data.labels). Ingest
    # always sets both; the defaults only read records written before label spaces existed.
    label_source: Literal["fer2013", "ferplus"] = "fer2013"
    classes: list[str] = list(EMOTIONS)
    label_file: str | None = None  # FER+: the vote file read


# Images per class name, plus "total" (fer_data.splits.class_counts).
ClassCounts = dict[str, int]


class AugmentModeCounts(Record):
    """One augmentation mode's images per class, in ``metrics/augment.json``."""

    added: ClassCounts  # augmented copies made, per class
    after: ClassCounts  # training split plus those copies, per class
    # The copies per origin of their original (fer2013, or a data.extra_train source's name).
    added_by_origin: dict[str, ClassCounts] | None = None


class AugmentMetrics(Record):
    """``metrics/augment.json``: the training split's classes and each mode's copies."""

    data: DataSource
    train: ClassCounts
    modes: dict[str, AugmentModeCounts]
    # The training split per origin (fer2013, or a data.extra_train source's name).
    train_by_origin: dict[str, ClassCounts] | None = None
