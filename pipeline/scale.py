"""Sizes and budgets that scale with the data: the one place the rule lives.

The epochs, trial counts, time budgets and subsample sizes in ``params.yaml`` are set for
FER2013's training split (25,838 rows). On a smaller training split (the synthetic demo set, a
small image folder) they shrink in proportion, so a first run takes minutes, not the hour sized
for FER2013::

    factor = min(1, training rows / scale.reference_rows)     (1 when scale.by_data is false)
    value used = max(least, ceil(value as written x factor))

From ``scale.reference_rows`` training rows up the factor is exactly 1 and every value is used as
written: FER2013 runs (and scores) exactly as configured. What scales (see :data:`SCALED`):

- what a run spends: each model's search ``n_trials``, ``timeout_s`` (the search's own budget,
  never below ``scale.min_seconds``) and ``subsample`` (0, all rows, stays 0);
  ``competency.train_rows``; each CNN's ``epochs`` and ``finetune_epochs``; the boosting rounds
  (``n_estimators``) of LightGBM, XGBoost and AdaBoost, their epochs (at least 10), set by the
  search stage for its trials and for train (``best_params.json``), and by the competency stage
  for the built-in defaults it fits.
- not the limits that only stop a runaway job (``fit_timeout_s``, ``trial_timeout_s``,
  ``cell_timeout_s``, ``model_timeout_s``, ``evaluate.timeout_s``): a healthy run never reaches
  them, so shrinking them would save nothing and turn a slow machine's results into failures.

Training epochs and rows both shrink, so iterative work shrinks about as the factor squared:
the demo set's factor of ~0.12 takes the CNN from 20 epochs to 3. Each stage that scales logs
the factor and every value it changed, and records them (``scale`` in its JSON record).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from models.records import ScaleRecord
from pipeline.params import ScaleParams

# params.yaml keys the rule applies to ("<model>"/"<arch>": every model / architecture).
SCALED = (
    "models.<model>.search.n_trials",
    "models.<model>.search.timeout_s",
    "models.<model>.search.subsample",
    "competency.train_rows",
    "cnn.<arch>.epochs",
    "cnn.<arch>.finetune_epochs",
    "models.<model>.params.n_estimators",  # boosting rounds: lightgbm, xgboost, adaboost
    "models/<model>.py DEFAULTS['n_estimators']",  # the same, of competency's built-in defaults
)
# The fewest rows a subsample keeps: ten per class (the schema's own lower bound).
LEAST_ROWS = 70
# The fewest boosting rounds a scaled model keeps.
LEAST_ROUNDS = 10


def count_rows(path: str | os.PathLike[str]) -> int:
    """Rows of a face table (Arrow IPC / Feather v2), read from its metadata, not its pixels.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (the ingest stage has not run).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found; run the ingest stage first (dvc repro)")
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


@dataclass
class Scale:
    """The factor for one run, and what it changed (for the stage's record and log).

    Attributes
    ----------
    train_rows : int
        Rows of the training split (``data/ingested/train.feather``: Training less dev, before
        augmentation).
    reference_rows : int
        ``scale.reference_rows``: from this many training rows up, nothing changes.
    by_data : bool
        ``scale.by_data``; False makes the factor 1.
    min_seconds : float
        No scaled time budget goes below this.
    """

    train_rows: int
    reference_rows: int
    by_data: bool
    min_seconds: float
    changed: dict[str, list[float]] = field(default_factory=dict)  # key -> [written, used]

    @property
    def factor(self) -> float:
        if not self.by_data:
            return 1.0
        return min(1.0, self.train_rows / self.reference_rows)

    def _note(self, key: str, written: float, used: float) -> None:
        if used != written:
            self.changed[key] = [written, used]

    def count(self, key: str, value: int, least: int = 1) -> int:
        """An epoch, trial or row count: ``max(least, ceil(value x factor))``, never above
        ``value`` (0, meaning "all" or "none", stays 0)."""
        used = value if value == 0 else min(value, max(least, math.ceil(value * self.factor)))
        self._note(key, value, used)
        return used

    def seconds(self, key: str, value: float) -> float:
        """A time budget: ``max(scale.min_seconds, value x factor)``, never above ``value``."""
        used = min(value, max(self.min_seconds, round(value * self.factor, 1)))
        self._note(key, value, used)
        return used

    def record(self) -> ScaleRecord:
        return ScaleRecord(
            train_rows=self.train_rows,
            reference_rows=self.reference_rows,
            by_data=self.by_data,
            factor=round(self.factor, 4),
            changed=dict(self.changed),
        )

    def describe(self) -> str:
        """One log line: the factor and every value it changed."""
        head = (
            f"scale {self.factor:.3f} ({self.train_rows} training rows / "
            f"scale.reference_rows {self.reference_rows}"
            + ("" if self.by_data else "; off: scale.by_data is false")
            + ")"
        )
        if not self.changed:
            return head + ": every value as written"
        changes = ", ".join(f"{k} {w:g} -> {u:g}" for k, (w, u) in self.changed.items())
        return f"{head}: {changes}"


def data_scale(scale_params: ScaleParams, train_rows: int) -> Scale:
    """The run's :class:`Scale`, from ``params.scale`` and the training split's row count.

    Parameters
    ----------
    scale_params : ScaleParams
        ``params.scale`` (its ``by_data``, ``reference_rows`` and ``min_seconds``).
    train_rows : int
        Rows of the training split, before augmentation: ``data/ingested/train.feather``
        (:func:`count_rows`) or the feature store's ``train`` rows.
    """
    return Scale(
        train_rows=train_rows,
        reference_rows=scale_params.reference_rows,
        by_data=scale_params.by_data,
        min_seconds=scale_params.min_seconds,
    )
