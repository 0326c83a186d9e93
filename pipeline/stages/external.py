"""Stage ``external``: read the cross-dataset test sets of ``evaluate.external``.

For each named set: read its path (a CSV, an image folder or an archive of either, in the set's
own label vocabulary: :mod:`fer_data.readers.labelled`), map its labels onto class names with
its ``label_map`` (:func:`fer_data.external.map_labels`), and write
``data/external/<name>.parquet``.
Writes ``data/external/rejects.csv`` (every rejected row or file, with its set and reason) and
``data/external/manifest.json`` (rows read, rejected by reason, dropped per label mapped to
null, faces per class, subjects) always, with no sets too, so that the evaluate and cnn stages
can depend on ``data/external`` whatever the parameters.

Every set is read and checked before anything is written: a missing path or a bad label map
fails the stage (exit 2, naming the key) and leaves the previous outputs as they were.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import pandas as pd

from fer_data.atomic import atomic_path
from fer_data.errors import DataError
from fer_data.external import (
    TARGET_CLASSES,
    ExternalManifest,
    ExternalSet,
    ExternalSetInfo,
    canonical_class,
    map_labels,
    write_external,
)
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.readers.labelled import read_labelled
from fer_data.readers.result import REJECT_COLUMNS
from pipeline import paths
from pipeline.params import ExternalSetParams, Params, ParamsError
from pipeline.runner import run_stage


def check_set(name: str, cfg: ExternalSetParams) -> None:
    """What can be checked before reading: the path exists, the map targets class names.

    Raises
    ------
    ParamsError
        Naming ``evaluate.external.<name>.path`` or ``.label_map.<label>``.
    """
    where = f"evaluate.external.{name}"
    if not cfg.path.exists():
        raise ParamsError(f"{where}.path: {cfg.path}: no such file or folder")
    for label, target in cfg.label_map.items():
        if target is not None and canonical_class(target) is None:
            raise ParamsError(
                f"{where}.label_map.{label}: got {target!r}; expected a class name "
                f"({', '.join(TARGET_CLASSES)}, any case) or null to drop these faces"
            )


def read_set(name: str, cfg: ExternalSetParams, n_jobs: int) -> tuple[ExternalSet, dict]:
    """One set read and mapped: (the kept faces, its manifest entry with its rejects)."""
    log_read(cfg.path, f"external set {name}")
    try:
        read = read_labelled(
            cfg.path, cfg.subject_column, cfg.resize_images, n_jobs, cfg.subject_pattern
        )
    except DataError as exc:  # the reader names the file; the user needs the key too
        raise DataError(f"evaluate.external.{name}: {exc}") from None
    emotion, dropped = map_labels(read.labels, cfg.label_map, f"evaluate.external.{name}.label_map")
    keep = emotion != None  # noqa: E711  (elementwise on an object array)
    if not keep.any():
        raise DataError(
            f"evaluate.external.{name}: no faces left in {cfg.path} ({read.n_rows} read, "
            f"{len(read.rejects)} rejected, {sum(dropped.values())} mapped to null)"
        )
    table = ExternalSet(
        name=name,
        images=read.images[keep],
        emotion=emotion[keep],
        label=read.labels[keep],
        subject=None if read.subjects is None else read.subjects[keep],
        item=read.items[keep],
        meta={"path": str(cfg.path), "reader": read.reader},
    )
    info = ExternalSetInfo(
        path=str(cfg.path),
        reader=read.reader,
        rows_read=read.n_rows,
        rejected=len(read.rejects),
        rejected_by_reason={
            str(k): int(v) for k, v in read.rejects["reason"].value_counts().items()
        },
        dropped_by_label_map=dropped,
        images=len(table),
        classes=dict(sorted(Counter(table.emotion.tolist()).items())),
        subjects=table.n_subjects,
        notes=read.notes,
    )
    return table, {"info": info, "rejects": read.rejects.assign(set=name)}


def run(params: Params) -> ExternalManifest:
    started = time.perf_counter()
    sets = params.evaluate.external
    for name, cfg in sets.items():  # every cheap check before any reading
        check_set(name, cfg)
    read = {name: read_set(name, cfg, params.data.n_jobs) for name, cfg in sets.items()}

    # Everything read and checked: now replace the previous outputs.
    paths.EXTERNAL_DIR.mkdir(parents=True, exist_ok=True)
    for stale in paths.EXTERNAL_DIR.glob("*.parquet"):
        if stale.stem not in read:
            stale.unlink()
    for name, (table, _) in read.items():
        log_wrote(write_external(table, paths.external_set(name)), f"{len(table)} faces")
    frames = [extra["rejects"] for _, extra in read.values()]
    rejects = pd.concat(frames) if frames else pd.DataFrame(columns=[*REJECT_COLUMNS, "set"])
    with atomic_path(paths.EXTERNAL_REJECTS) as tmp:
        rejects[["set", *REJECT_COLUMNS]].to_csv(tmp, index=False)
    log_wrote(paths.EXTERNAL_REJECTS, f"{len(rejects)} rejected")
    manifest = ExternalManifest(sets={name: extra["info"] for name, (_, extra) in read.items()})
    log_wrote(manifest.write(paths.EXTERNAL_MANIFEST))
    get_logger().info("external: %d sets in %.1f s", len(read), time.perf_counter() - started)
    return manifest


def main(params: Params) -> None:
    with stage("external") as log:
        manifest = run(params)
        for name, info in manifest.sets.items():
            log.info(
                "external %s: %d faces kept of %d read (%d rejected, %d mapped to null), "
                "classes %s, subjects %s",
                name,
                info.images,
                info.rows_read,
                info.rejected,
                sum(info.dropped_by_label_map.values()),
                info.classes,
                info.subjects,
            )
        if not manifest.sets:
            log.info("external: evaluate.external names no set: nothing to read")


def cli(argv: list[str] | None = None) -> int:
    return run_stage("external", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
