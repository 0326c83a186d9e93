"""Stage ``ingest``: FER2013 as downloaded (CSV, archive or image folder; or the synthetic demo set)
becomes validated feather tables.

Reads what ``data.path`` names (:mod:`fer_data.source`: a FER2013 CSV plain or gzip, a tar/zip
archive holding one, an image folder, or a folder searched for one of them; the synthetic demo set
only when the user gave nothing) and writes ``data/ingested/{train,dev,test}.feather``, the
rejected rows or files in ``data/ingested/rejects.csv``, where the data came from in
``data/ingested/source.json``, and counts in ``metrics/ingest.json``.

``data.labels: ferplus`` relabels the faces with the FER+ majority labels of the vote file at
``data.ferplus_path`` (:mod:`fer_data.relabel`: alignment checked, dropped rows written to the
rejects file with their reason and counted per Usage in ``metrics/ingest.json``); the tables then
carry FER+'s 8 classes, ``label_source: ferplus`` and each row's 10 votes.

``data.extra_train`` names extra training sources (:mod:`fer_data.extra`): each is read like a
cross-dataset test set (any format ferbench reads), and the faces of its chosen classes, up to its
``max_rows``, join the train split only, after the dev split was drawn from the ``data.path``
input, so dev and test never change. Each train row's ``origin`` says where it came from
(``fer2013`` or the source's name); ``metrics/ingest.json`` counts per source what was read,
rejected (leaks into dev or test included), dropped and added.

Everything is read, validated and split in memory first; only then is anything written, so an
input that fails (too many rejects, a split too small to stratify, an empty Training or test part)
leaves the previous outputs as they were. Too many rejects are listed in
``data/ingest-failed/rejects.csv`` instead.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer_data.atomic import atomic_path, write_json
from fer_data.errors import DataError
from fer_data.extra import ExtraFaces, Selection, image_keys, select
from fer_data.faces import EMOTIONS, MAIN_ORIGIN, FaceTable, write_faces
from fer_data.fer_csv import read_fer2013
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.readers.checks import (
    check_dev_split,
    check_parts,
    class_coverage,
    reject_fraction_error,
    rejects_over,
)
from fer_data.readers.labelled import read_labelled
from fer_data.readers.read import read_input
from fer_data.readers.result import ParsedFaces
from fer_data.records import DataSource
from fer_data.relabel import Relabelled, relabel, vote_file
from fer_data.source import Resolved, resolve, synthetic_reason
from fer_data.splits import blank_mask, class_counts, dev_split, duplicate_stats
from fer_data.synthetic import SYNTHETIC_NOTICE, synthetic_fer2013_csv
from pipeline import paths
from pipeline.params import DataParams, ExtraSourceParams, Params
from pipeline.runner import run_stage

BAR = "!" * 78
KIND_LABELS = {
    "csv": "FER2013 CSV",
    "archive": "archive",
    "image_folder": "image folder",
    "synthetic": "synthetic demo set",
}


def resolve_source(data: DataParams) -> Resolved:
    """The input ``data.source`` and ``data.path`` name (see :func:`fer_data.source.resolve`)."""
    return resolve(data.source, data.path, paths.RAW_DIR)


def announce_synthetic(reason: str) -> None:
    get_logger().warning("\n%s\n!! %s\n!! %s\n%s", BAR, reason, SYNTHETIC_NOTICE, BAR)


def _load(data: DataParams, seed: int) -> tuple[Resolved, ParsedFaces]:
    log = get_logger()
    resolved = resolve_source(data)
    if resolved.kind == "synthetic" and data.labels == "ferplus":
        raise DataError(
            f"data.labels: ferplus, but no FER2013 data was found ({synthetic_reason(resolved)}); "
            "FER+ labels need the real FER2013 CSV (the synthetic demo set has FER2013's 7 labels "
            "only): set data.path, or data.labels: fer2013"
        )
    if resolved.kind == "synthetic":
        announce_synthetic(synthetic_reason(resolved))
        with tempfile.TemporaryDirectory(prefix="ferbench-synthetic-") as tmp:
            csv = synthetic_fer2013_csv(
                Path(tmp) / "fer2013_synthetic.csv", data.synthetic_rows, seed
            )
            # The demo set goes through exactly the parser a real download does.
            parsed = read_fer2013(csv)
        return resolved, dataclasses.replace(parsed, origin="synthetic demo set")
    if resolved.found_by != "data.path":
        log.info(
            "data.path=%s: using %s, the only FER2013 input found under it",
            data.path,
            resolved.path,
        )
    log_read(resolved.path, KIND_LABELS[resolved.kind])
    parsed = read_input(
        resolved.kind, resolved.path, resolved.archive, data.resize_images, data.n_jobs
    )
    if parsed.member:
        log.info(
            "read member %s of the %s archive %s", parsed.member, resolved.archive, resolved.path
        )
    if parsed.notes.get("ignored_columns"):
        log.info(
            "%s: columns ignored: %s", parsed.origin, ", ".join(parsed.notes["ignored_columns"])
        )
    return resolved, parsed


def _fail_on_rejects(parsed: ParsedFaces, max_fraction: float) -> None:
    """Too many rejects: list them outside the outputs and stop."""
    message = reject_fraction_error(parsed, max_fraction)
    if message is None:
        paths.FAILED_REJECTS_FILE.unlink(missing_ok=True)  # a stale list from an earlier failure
        return
    with atomic_path(paths.FAILED_REJECTS_FILE) as tmp:
        parsed.rejects.to_csv(tmp, index=False)
    raise DataError(
        f"{message}; each is listed with its reason in {paths.FAILED_REJECTS_FILE} "
        f"({paths.INGESTED_DIR} is unchanged)"
    )


@dataclass(frozen=True)
class Plan:
    """Row indices per split, and the counts that go into the metrics."""

    splits: dict[str, np.ndarray]
    blanks: dict
    coverage: dict[str, list[str]]


def plan_splits(
    parsed: ParsedFaces, data: DataParams, seed: int, classes: tuple[str, ...] = EMOTIONS
) -> Plan:
    """Blank images, the stratified dev split and the test rows; raises before any write.

    Raises
    ------
    DataError
        An empty Training or test part, or a dev split that cannot be stratified (naming
        ``data.dev_fraction`` and the counts).
    """
    blank = blank_mask(parsed.images, data.blank_std_max)
    training = parsed.usage == "Training"
    check_parts(parsed, training, blank, data.keep_blank_in_test)
    train_pool = np.flatnonzero(training & ~blank)
    pool_emotion = parsed.emotion[train_pool].astype(np.int64)
    check_dev_split(pool_emotion, data.dev_fraction, classes)
    train_idx, dev_idx = dev_split(pool_emotion, data.dev_fraction, seed)
    test_mask = ~training if data.keep_blank_in_test else ~training & ~blank
    splits = {
        "train": train_pool[train_idx],
        "dev": train_pool[dev_idx],
        "test": np.flatnonzero(test_mask),
    }
    blanks = {
        "rule": f"pixel std <= {data.blank_std_max:g}",
        "training_dropped": int((training & blank).sum()),
        "test_blank": int((~training & blank).sum()),
        "test_blank_kept": bool(data.keep_blank_in_test),
    }
    coverage = class_coverage(pool_emotion, parsed.emotion[splits["test"]], classes)
    return Plan(splits, blanks, coverage)


def _coverage_warnings(coverage: dict[str, list[str]], n_classes: int) -> list[str]:
    warnings = []
    if coverage["missing_in_training"]:
        names = ", ".join(coverage["missing_in_training"])
        warnings.append(
            f"no Training rows for {names}: no model can learn "
            f"{'it' if len(coverage['missing_in_training']) == 1 else 'them'}; every model still "
            f"predicts on all {n_classes} classes, and its test rows of {names} count as errors"
        )
    if coverage["missing_in_test"]:
        warnings.append(
            f"no test rows for {', '.join(coverage['missing_in_test'])}: its per-class test "
            "scores are empty"
        )
    return warnings


def warn(warnings: list[str]) -> None:
    for text in warnings:
        get_logger().warning("\n%s\n!! %s\n%s", BAR, text, BAR)


def _source_record(resolved: Resolved, parsed: ParsedFaces) -> DataSource:
    synthetic = resolved.kind == "synthetic"
    info = DataSource(
        source=resolved.kind,
        synthetic=synthetic,
        path=None if synthetic else str(resolved.path),
        notice=SYNTHETIC_NOTICE if synthetic else "",
        found_by=resolved.found_by,
    )
    if parsed.member:
        info.member = parsed.member
    if resolved.looked_in is not None:
        info.looked_in = str(resolved.looked_in)
    return info


def _ferplus(parsed: ParsedFaces, data: DataParams) -> Relabelled:
    """FER+ majority labels for the faces (data.labels: ferplus), logged; raises before writes."""
    path = vote_file(data.ferplus_path, paths.FERPLUS_FILE_NAME)
    log_read(path, "FER+ vote file")
    result = relabel(parsed, path)
    summary = result.summary
    get_logger().info(
        "FER+ labels: %d of %d faces kept; dropped: %s",
        summary["kept"],
        summary["faces"],
        "; ".join(f"{r} {c['total']}" for r, c in summary["dropped_by_reason"].items()) or "none",
    )
    return result


def _read_extra(
    name: str,
    cfg: ExtraSourceParams,
    data: DataParams,
    classes: tuple[str, ...],
    against: Selection,
) -> ExtraFaces:
    """One extra training source read and selected (:func:`fer_data.extra.select`); raises
    before any write, naming ``data.extra_train.<name>``."""
    where = f"data.extra_train.{name}"
    outside = [c for c in cfg.classes if c not in classes]
    if outside:
        raise DataError(
            f"{where}.classes: {', '.join(outside)} not in the label space of data.labels="
            f"{data.labels} ({', '.join(classes)})"
        )
    if not cfg.path.exists():
        raise DataError(f"{where}.path={cfg.path}: no such file or folder")
    if not cfg.path.resolve().is_relative_to(paths.EXTRA_DIR.resolve()):
        get_logger().warning(
            "%s.path=%s is outside %s/: ingest reads it, but `dvc repro` does not see it change "
            "(only %s/ is a dependency of the stage)",
            where,
            cfg.path,
            paths.EXTRA_DIR,
            paths.EXTRA_DIR,
        )
    log_read(cfg.path, f"extra training source {name}")
    try:
        read = read_labelled(cfg.path, None, cfg.resize_images, data.n_jobs, None)
    except DataError as exc:  # the reader names the file; the user needs the key too
        raise DataError(f"{where}: {exc}") from None
    message = rejects_over(
        read.rejects, read.n_rows, f"{where} ({cfg.path})", data.max_reject_fraction
    )
    if message:
        raise DataError(f"{message}; {paths.INGESTED_DIR} is unchanged")
    return select(name, cfg.path, read, cfg.label_map, cfg.classes, cfg.max_rows, against)


def read_extras(
    data: DataParams, seed: int, parsed: ParsedFaces, plan: Plan, classes: tuple[str, ...]
) -> list[ExtraFaces]:
    """Every source of ``data.extra_train``, in order, checked against the splits of ``parsed``:
    a face identical to a dev or test face is rejected, one identical to a train face reported.

    Raises
    ------
    DataError
        FER+ labels (an extra face has one label, not 10 votes), a class outside the label
        space, a missing path, too many rejects, or a label without a class (naming the key).
    """
    if not data.extra_train:
        return []
    if data.labels == "ferplus":
        raise DataError(
            f"data.extra_train names {', '.join(data.extra_train)}, but data.labels: ferplus "
            "trains on each face's 10 FER+ votes, which an extra source does not have: set "
            "data.labels: fer2013 or data.extra_train: {}"
        )
    held_out = np.concatenate([plan.splits["dev"], plan.splits["test"]])
    against = Selection(
        classes=classes,
        blank_std_max=data.blank_std_max,
        held_out=set(image_keys(parsed.images[held_out])),
        fer_train=set(image_keys(parsed.images[plan.splits["train"]])),
        extra_seen=set(),
        seed=seed,
    )
    extras = []
    for name, cfg in data.extra_train.items():
        found = _read_extra(name, cfg, data, classes, against)
        against.extra_seen.update(found.keys)
        info = found.info
        get_logger().info(
            "extra %s: %d faces join train (%s); %d of %d rejected (%s); dropped: %s; "
            "identical to a FER2013 train face (kept): %d",
            name,
            len(found),
            ", ".join(f"{c} {n}" for c, n in info.added.items() if n and c != "total") or "none",
            info.rejected,
            info.rows_read,
            "; ".join(f"{r} {n}" for r, n in info.rejected_by_reason.items()) or "none",
            "; ".join(f"{r} {sum(c.values())}" for r, c in info.dropped.items()) or "none",
            info.identical_to_fer2013_training,
        )
        extras.append(found)
    return extras


def _with_extras(train: FaceTable, extras: list[ExtraFaces], first_id: int) -> FaceTable:
    """``train`` followed by the extra faces; their ``row_id`` count on from ``first_id``, source
    by source in order, each in its read order."""
    if not extras:
        return train
    n = sum(len(e) for e in extras)
    return FaceTable(
        row_id=np.concatenate([train.row_id, first_id + np.arange(n, dtype=np.int64)]),
        emotion=np.concatenate([train.emotion, *(e.emotion for e in extras)]),
        usage=np.concatenate([train.usage, np.full(n, "Training", dtype=object)]),
        images=np.concatenate([train.images, *(e.images for e in extras)]),
        meta=train.meta,
        origin=np.concatenate(
            [train.origins, *(np.full(len(e), e.name, dtype=object) for e in extras)]
        ),
    )


def run(params: Params) -> dict:
    started = time.perf_counter()
    resolved, parsed = _load(params.data, params.seed)
    info = _source_record(resolved, parsed)
    # Validate and split in memory: nothing is written unless all of it succeeds.
    _fail_on_rejects(parsed, params.data.max_reject_fraction)
    read_rejects, n_accepted = parsed.rejects, len(parsed.row_id)
    rejects, votes, labels_summary = parsed.rejects, None, None
    info.label_source, info.classes = "fer2013", list(EMOTIONS)
    if params.data.labels == "ferplus":
        relabelled = _ferplus(parsed, params.data)
        parsed, votes = relabelled.parsed, relabelled.votes
        rejects = pd.concat([read_rejects, relabelled.rejects], ignore_index=True)
        labels_summary = relabelled.summary
        info.label_source, info.classes = "ferplus", relabelled.summary["classes"]
        info.label_file = relabelled.summary["vote_file"]
    classes = tuple(info.classes)
    plan = plan_splits(parsed, params.data, params.seed, classes)
    extras = read_extras(params.data, params.seed, parsed, plan, classes)
    warnings = _coverage_warnings(plan.coverage, len(classes))
    for extra in (e for e in extras if not len(e)):
        dropped = "; ".join(f"{r} {sum(c.values())}" for r, c in extra.info.dropped.items())
        warnings.append(
            f"data.extra_train.{extra.name}: no face joined the train split ({extra.info.rejected} "
            f"rejected; dropped: {dropped or 'none'})"
        )
    warn(warnings)

    split_of = np.full(len(parsed.row_id), "", dtype=object)
    for name, index in plan.splits.items():
        split_of[index] = name
    kept = split_of != ""
    duplicates = duplicate_stats(
        parsed.images[kept], parsed.emotion[kept], split_of[kept].astype(str)
    )
    tables = {
        name: FaceTable(
            row_id=parsed.row_id[index],
            emotion=parsed.emotion[index],
            usage=parsed.usage[index],
            images=parsed.images[index],
            meta=info.to_json(),
            votes=None if votes is None else votes[index],
            origin=np.full(len(index), MAIN_ORIGIN, dtype=object),
        )
        for name, index in plan.splits.items()
    }
    first_id = max(parsed.n_rows, int(parsed.row_id.max(initial=-1)) + 1)
    tables["train"] = _with_extras(tables["train"], extras, first_id)
    if extras:  # a `source` column says whose reject each row is (the format is unchanged without)
        rejects = pd.concat(
            [
                rejects.assign(source=MAIN_ORIGIN),
                *(e.rejects.assign(source=e.name) for e in extras),
            ],
            ignore_index=True,
        )

    with atomic_path(paths.REJECTS_FILE) as tmp:
        rejects.to_csv(tmp, index=False)
    log_wrote(paths.REJECTS_FILE, f"{len(rejects)} rejected rows")
    counts = {}
    for name, table in tables.items():
        out = write_faces(table, paths.ingested(name))
        log_wrote(out, f"{len(table)} rows")
        counts[name] = class_counts(table.emotion, classes)
        if name == "test":
            for usage, key in (("PublicTest", "test_public"), ("PrivateTest", "test_private")):
                counts[key] = class_counts(table.emotion[table.usage == usage], classes)

    log_wrote(info.write(paths.SOURCE_FILE))
    metrics = {
        "data": info.to_json(),
        "rows": {
            "read": parsed.n_rows,
            "accepted": n_accepted,
            "rejected": len(read_rejects),
            "rejected_by_reason": read_rejects["reason"].value_counts().to_dict(),
        },
        "labels": {"source": info.label_source, "classes": list(classes)}
        | ({"ferplus": labels_summary} if labels_summary else {}),
        "blank_images": plan.blanks,
        "splits": counts,
        "duplicates": duplicates,
        "extra_train": {e.name: e.info.to_json() for e in extras},
        "train_by_origin": {
            origin: class_counts(
                tables["train"].emotion[tables["train"].origins == origin], classes
            )
            for origin in (MAIN_ORIGIN, *(e.name for e in extras))
        },
        "reader": {"kind": parsed.reader, "origin": parsed.origin, **parsed.notes},
        "class_coverage": plan.coverage,
        "warnings": warnings,
        "seconds": round(time.perf_counter() - started, 3),
    }
    log_wrote(write_json(paths.stage_metrics("ingest"), metrics))
    return metrics


def main(params: Params) -> None:
    with stage("ingest") as log:
        metrics = run(params)
        log.info(
            "ingest: %d rows read, %d rejected, splits %s",
            metrics["rows"]["read"],
            metrics["rows"]["rejected"],
            {k: v["total"] for k, v in metrics["splits"].items()},
        )
        # Repeated last, where a user looks.
        warn(metrics["warnings"])
        if metrics["data"]["synthetic"]:
            announce_synthetic(
                f"no FER2013 data in {metrics['data']['looked_in']}"
                if metrics["data"].get("looked_in")
                else "data.source: synthetic"
            )


def cli(argv: list[str] | None = None) -> int:
    return run_stage("ingest", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
