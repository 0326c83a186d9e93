"""The features stage's record (``metrics/features.json``), read by the report."""

from __future__ import annotations

from typing import Any

from fer_data.records import DataSource, Record


class SplitFeatures(Record):
    """Rows and feature dimensions of one split of the feature store."""

    rows: int
    dims: dict[str, int]  # stored set -> columns, for the sets features.sets built


class FeatureMetrics(Record):
    """Rows and dimensions per split, extraction seconds, and the landmark settings."""

    splits: dict[str, SplitFeatures]  # train, dev, test, aug_<mode>
    seconds: dict[str, float]  # per built set (and sift_vocabulary), total (wall seconds)
    data: DataSource
    landmarks: dict[str, Any]  # upscale, normalise, backend
