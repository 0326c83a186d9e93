"""The feature sets' names, dependency-free: validating params.yaml imports them."""

from __future__ import annotations

FEATURE_SETS = ("pixels", "hog", "landmarks", "hog_landmarks")
STORED_SETS = ("pixels", "hog", "landmarks")
COMPOSITES = {"hog_landmarks": ("hog", "landmarks")}  # built on load by concatenation
