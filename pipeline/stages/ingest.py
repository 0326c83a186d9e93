"""Stage ``ingest``: the FER2013 CSV (or the synthetic demo set) becomes validated feather tables.

Reads ``data.path`` (plain or gzip) and writes ``data/ingested/{train,dev,test}.feather``, the
rejected rows in ``data/ingested/rejects.csv``, where the data came from in
``data/ingested/source.json``, and counts in ``metrics/ingest.json``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fer_data.atomic import atomic_path, write_json
from fer_data.errors import DataError
from fer_data.faces import FaceTable, write_faces
from fer_data.fer_csv import ParsedCSV, read_fer2013
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.records import DataSource
from fer_data.splits import blank_mask, class_counts, dev_split, duplicate_stats
from fer_data.synthetic import SYNTHETIC_NOTICE, synthetic_fer2013_csv
from pipeline import paths
from pipeline.params import DataParams, Params
from pipeline.runner import run_stage


def resolve_source(data: DataParams) -> tuple[str, Path | None]:
    """``("csv", path)`` or ``("synthetic", None)`` following ``data.source``."""
    if data.source == "synthetic":
        return "synthetic", None
    csv = data.path / paths.DEFAULT_CSV.name if data.path.is_dir() else data.path
    candidates = [csv]
    if csv.suffix != ".gz":
        candidates.append(csv.with_name(csv.name + ".gz"))
    found = next((p for p in candidates if p.is_file()), None)
    if found is not None:
        return "csv", found
    if data.source == "csv":
        read_fer2013(csv)  # raises the 'file not found, put your download here' error
    return "synthetic", None


def announce_synthetic() -> None:
    bar = "!" * 78
    get_logger().warning("\n%s\n!! %s\n%s", bar, SYNTHETIC_NOTICE, bar)


def _load(data: DataParams, seed: int) -> tuple[str, Path | None, ParsedCSV]:
    source, path = resolve_source(data)
    if source == "csv":
        log_read(path, "FER2013 CSV")
        return source, path, read_fer2013(path)
    announce_synthetic()
    with tempfile.TemporaryDirectory(prefix="ferbench-synthetic-") as tmp:
        csv = synthetic_fer2013_csv(Path(tmp) / "fer2013_synthetic.csv", data.synthetic_rows, seed)
        # The demo set goes through exactly the parser a real download does.
        return source, None, read_fer2013(csv)


def _write_rejects(parsed: ParsedCSV, max_fraction: float, origin: str) -> dict:
    path = paths.REJECTS_FILE
    with atomic_path(path) as tmp:
        parsed.rejects.to_csv(tmp, index=False)
    log_wrote(path, f"{len(parsed.rejects)} rejected rows")
    fraction = len(parsed.rejects) / parsed.n_rows
    if fraction > max_fraction:
        raise DataError(
            f"{origin}: {len(parsed.rejects)} of {parsed.n_rows} data rows ({fraction:.2%}) were "
            f"rejected, above data.max_reject_fraction={max_fraction:g}; each is listed with its "
            f"line and reason "
            f"in {path}"
        )
    return {
        "rejected": len(parsed.rejects),
        "rejected_by_reason": parsed.rejects["reason"].value_counts().to_dict(),
    }


def _assign_splits(parsed: ParsedCSV, params: Params) -> tuple[dict[str, np.ndarray], dict]:
    """Row indices per split, and the blank-image counts."""
    blank = blank_mask(parsed.images, params.data.blank_std_max)
    training = parsed.usage == "Training"
    train_pool = np.flatnonzero(training & ~blank)
    train_idx, dev_idx = dev_split(
        parsed.emotion[train_pool].astype(np.int64), params.data.dev_fraction, params.seed
    )
    test_mask = ~training if params.data.keep_blank_in_test else ~training & ~blank
    splits = {
        "train": train_pool[train_idx],
        "dev": train_pool[dev_idx],
        "test": np.flatnonzero(test_mask),
    }
    blanks = {
        "rule": f"pixel std <= {params.data.blank_std_max:g}",
        "training_dropped": int((training & blank).sum()),
        "test_blank": int((~training & blank).sum()),
        "test_blank_kept": bool(params.data.keep_blank_in_test),
    }
    return splits, blanks


def run(params: Params) -> dict:
    started = time.perf_counter()
    source, path, parsed = _load(params.data, params.seed)
    origin = str(path) if path else "synthetic demo set"
    info = DataSource(
        source=source,
        synthetic=source == "synthetic",
        path=str(path) if path else None,
        notice=SYNTHETIC_NOTICE if source == "synthetic" else "",
    )
    rejects = _write_rejects(parsed, params.data.max_reject_fraction, origin)
    splits, blanks = _assign_splits(parsed, params)

    split_of = np.full(len(parsed.row_id), "", dtype=object)
    for name, index in splits.items():
        split_of[index] = name
    kept = split_of != ""
    duplicates = duplicate_stats(
        parsed.images[kept], parsed.emotion[kept], split_of[kept].astype(str)
    )

    counts = {}
    for name, index in splits.items():
        table = FaceTable(
            row_id=parsed.row_id[index],
            emotion=parsed.emotion[index],
            usage=parsed.usage[index],
            images=parsed.images[index],
            meta=info.to_json(),
        )
        out = write_faces(table, paths.ingested(name))
        log_wrote(out, f"{len(table)} rows")
        counts[name] = class_counts(table.emotion)
        if name == "test":
            for usage, key in (("PublicTest", "test_public"), ("PrivateTest", "test_private")):
                counts[key] = class_counts(table.emotion[table.usage == usage])

    log_wrote(info.write(paths.SOURCE_FILE))
    metrics = {
        "data": info.to_json(),
        "rows": {"read": parsed.n_rows, "accepted": len(parsed.row_id), **rejects},
        "blank_images": blanks,
        "splits": counts,
        "duplicates": duplicates,
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
        if metrics["data"]["synthetic"]:
            announce_synthetic()


def cli(argv: list[str] | None = None) -> int:
    return run_stage("ingest", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
