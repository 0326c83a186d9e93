"""Stage ``augment``: augmented copies of the training split, one table per mode.

``balanced`` tops the smaller classes up toward the largest; ``full`` augments every image;
``mirror`` adds the left-right mirror of every image and nothing else; ``reframe`` adds the
mirror and a re-framed copy of every image and of its mirror (moved and rescaled by up to
``augment.reframe`` of the side: :func:`fer_data.augmentations.reframe_images`).
Writes only the copies (``data/augmented/<mode>.feather``, ``aug`` = copy number >= 1, ``row_id`` =
the source image): a model trained with a mode sees the training split plus that mode's copies.

Extra training sources (``data.extra_train``): their faces are real images of their class, so
``balanced`` counts them in their class's size (a Disgust top-up leaves fewer copies to make, which
is what the top-up is for) and spreads the copies over every original of the class, each under
``max_copies_per_image``. Each copy keeps its original's ``origin``, and ``metrics/augment.json``
records the training split and each mode's copies per origin and class.
"""

from __future__ import annotations

import sys

import numpy as np

from fer_data.augmentations import (
    augment_images,
    balanced_copies,
    full_copies,
    reframe_images,
)
from fer_data.faces import FaceTable, read_faces, write_faces
from fer_data.logs import log_read, log_wrote, stage
from fer_data.records import AugmentMetrics, AugmentModeCounts, DataSource
from fer_data.splits import class_counts
from pipeline import paths
from pipeline.params import AugmentParams, Params
from pipeline.runner import run_stage

# A fixed offset per mode keeps each mode's random stream independent of which other modes run.
_MODE_STREAM = {"balanced": 1, "full": 2, "mirror": 3, "reframe": 4}
_COPIES = {"mirror": 1, "reframe": 3}  # reframe: the mirror, the re-framed image and mirror


def augment_table(train: FaceTable, mode: str, params: AugmentParams, seed: int) -> FaceTable:
    rng = np.random.default_rng([seed, _MODE_STREAM[mode]])
    emotion = train.emotion.astype(np.int64)
    if mode == "balanced":
        copies = balanced_copies(emotion, params.balance_target, params.max_copies_per_image, rng)
    else:
        copies = full_copies(len(train), _COPIES.get(mode, params.copies_per_image))
    source = np.repeat(np.arange(len(train)), copies)
    # Copy number k = 1..copies of each source image.
    first = np.repeat(np.cumsum(copies) - copies, copies)
    aug = (np.arange(len(source)) - first + 1).astype(np.int16)
    if mode == "mirror":
        images = np.ascontiguousarray(train.images[source, :, ::-1])
    elif mode == "reframe":
        mirror = np.ascontiguousarray(train.images[:, :, ::-1])
        moved = reframe_images(np.concatenate([train.images, mirror]), params.reframe, rng)
        # copy 1: the mirror; 2: the image re-framed; 3: its mirror re-framed (source order)
        images = np.stack([mirror, moved[: len(train)], moved[len(train) :]], axis=1)
        images = images.reshape(-1, *train.images.shape[1:])
    else:
        images = augment_images(
            train.images[source], params.ops, params.brightness, params.contrast, rng
        )
    return FaceTable(
        row_id=train.row_id[source],
        emotion=train.emotion[source],
        usage=train.usage[source],
        images=images,
        aug=aug,
        meta=train.meta,
        votes=None if train.votes is None else train.votes[source],  # FER+: the original's votes
        origin=None if train.origin is None else train.origin[source],
    )


def by_origin(table: FaceTable, classes: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Images per class (:func:`fer_data.splits.class_counts`) of each origin in ``table``."""
    origins = table.origins
    return {
        str(name): class_counts(table.emotion[origins == name], classes or table.classes)
        for name in dict.fromkeys(origins.tolist())
    }


def run(params: Params) -> AugmentMetrics:
    path = paths.ingested("train")
    train = read_faces(path)
    log_read(path, f"{len(train)} training rows")
    paths.AUGMENTED_DIR.mkdir(parents=True, exist_ok=True)
    before = class_counts(train.emotion, train.classes)
    metrics = AugmentMetrics(
        data=DataSource(**train.meta),
        train=before,
        modes={},
        train_by_origin=by_origin(train),
    )
    for mode in params.augment.modes:
        table = augment_table(train, mode, params.augment, params.seed)
        out = write_faces(table, paths.augmented(mode))
        log_wrote(out, f"{len(table)} augmented copies ({mode})")
        added = class_counts(table.emotion, train.classes)
        after = {k: before[k] + added[k] for k in added}
        metrics.modes[mode] = AugmentModeCounts(
            added=added, after=after, added_by_origin=by_origin(table, train.classes)
        )
    log_wrote(metrics.write(paths.stage_metrics("augment")))
    return metrics


def main(params: Params) -> None:
    with stage("augment"):
        run(params)


def cli(argv: list[str] | None = None) -> int:
    return run_stage("augment", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
