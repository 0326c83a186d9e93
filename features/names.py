"""The feature sets' names, dependency-free: validating params.yaml imports them."""

from __future__ import annotations

# Stored sets: one .npy per split each, built by the features stage when listed in features.sets.
STORED_SETS = ("pixels", "hog", "landmarks", "lbp", "sift_bovw", "hog_multi")
# Appearance + geometry: `<appearance>_landmarks` is the appearance set, then the 136 landmark
# columns (last, where models.scaling.BlockScaler looks for them); built on load.
COMPOSITES = {
    f"{appearance}_landmarks": (appearance, "landmarks")
    for appearance in ("hog", "lbp", "sift_bovw", "hog_multi")
}
FEATURE_SETS = (
    "pixels",
    "hog",
    "landmarks",
    "hog_landmarks",
    "lbp",
    "lbp_landmarks",
    "sift_bovw",
    "sift_bovw_landmarks",
    "hog_multi",
    "hog_multi_landmarks",
)


def stored_parts(feature_set: str) -> tuple[str, ...]:
    """The stored sets a feature set is made of, in column order (itself when stored)."""
    return COMPOSITES.get(feature_set, (feature_set,))
