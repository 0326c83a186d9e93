"""Benchmark: the ingest stage on every FER2013 distribution ferbench reads, in one run.

    python bench/bench_readers.py [--csv ../shared/data/fer2013/fer2013.csv.gz] [--scratch DIR]

Writes the full FER2013 (35,887 rows) into a scratch folder (default: a new one in /tmp, removed at
the end) as a plain CSV, Kaggle's ``fer2013.tar.gz`` and an image folder of PNGs
(``train/<emotion>/Training_<row>.png``, ``test/<emotion>/{PublicTest,PrivateTest}_<row>.png``),
then times ferbench's ingest stage (read, validate, split, write the feather tables) on each,
beside the gzip CSV as shipped, the image folder on one and on two processes. It checks that the
image folder gives the CSV's train / dev / test faces (by pixels and label; row ids differ).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fer_data.faces import EMOTIONS, read_faces  # noqa: E402
from fer_data.fer_csv import read_bytes, read_fer2013  # noqa: E402
from pipeline import paths  # noqa: E402
from pipeline.params import parse_params  # noqa: E402
from pipeline.stages import ingest  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared/data/fer2013/fer2013.csv.gz"


def write_image_folder(csv: Path, root: Path) -> int:
    """Every row of ``csv`` as a PNG in the Kaggle image-folder layout; the number written."""
    from PIL import Image

    parsed = read_fer2013(csv)
    for row, label, usage, image in zip(
        parsed.row_id, parsed.emotion, parsed.usage, parsed.images, strict=True
    ):
        part = "train" if usage == "Training" else "test"
        folder = root / part / EMOTIONS[label].lower()
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{usage}_{row}.png")
    return len(parsed.row_id)


def write_tar_gz(csv_bytes: bytes, path: Path) -> None:
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        info = tarfile.TarInfo("fer2013/fer2013.csv")
        info.size = len(csv_bytes)
        tar.addfile(info, io.BytesIO(csv_bytes))


def run_ingest(source: Path, workdir: Path, n_jobs: int) -> tuple[float, dict, dict]:
    """(seconds, metrics, per split: the sorted label + pixel byte strings)."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update({"path": str(source), "source": "path", "n_jobs": n_jobs})
    params = parse_params(raw)
    workdir.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        start = time.perf_counter()
        metrics = ingest.run(params)
        seconds = time.perf_counter() - start
        faces = {}
        for split in paths.SPLITS:
            table = read_faces(paths.ingested(split))
            rows = np.column_stack(
                [table.emotion.astype(np.uint8), table.images.reshape(len(table), -1)]
            )
            rows = np.ascontiguousarray(rows)
            faces[split] = np.sort(rows.view(np.dtype((np.void, rows.shape[1]))).ravel())
    finally:
        os.chdir(cwd)
    return seconds, metrics, faces


def same_faces(a: dict, b: dict) -> bool:
    return all(np.array_equal(a[s], b[s]) for s in paths.SPLITS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    if not args.csv.exists():
        print(f"FER2013 not found at {args.csv}: put ../shared beside the repository or pass --csv")
        return
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    scratch = Path(tempfile.mkdtemp(prefix="ferbench-readers-", dir=args.scratch))
    try:
        read_fer2013(args.csv)  # warm numba's compiled-code cache
        plain = scratch / "fer2013.csv"
        plain.write_bytes(read_bytes(args.csv))
        tar = scratch / "fer2013.tar.gz"
        start = time.perf_counter()
        write_tar_gz(plain.read_bytes(), tar)
        folder = scratch / "images"
        n_images = write_image_folder(args.csv, folder)
        print(f"wrote the copies in {time.perf_counter() - start:.1f} s ({n_images} PNGs)")

        runs = [
            ("gzip CSV (as shipped)", args.csv, 2),
            ("plain CSV", plain, 2),
            ("tar.gz archive", tar, 2),
            ("image folder, 1 process", folder, 1),
            ("image folder, 2 processes", folder, 2),
        ]
        results = {}
        for label, source, n_jobs in runs:
            seconds, metrics, faces = run_ingest(source, scratch / "work" / label, n_jobs)
            results[label] = (seconds, metrics, faces)
        base = results["gzip CSV (as shipped)"]
        print(f"\ningest stage, {base[1]['rows']['read']} rows (read, validate, split, write)")
        for label, (seconds, metrics, faces) in results.items():
            splits = {k: v["total"] for k, v in metrics["splits"].items() if k in paths.SPLITS}
            print(
                f"  {label:28s}: {seconds:6.2f} s  ({base[0] / seconds:4.2f}x the gzip CSV)  "
                f"rejected {metrics['rows']['rejected']}, splits {splits}, "
                f"same faces per split as the CSV: {same_faces(faces, base[2])}"
            )
        one, two = (results[f"image folder, {k}"][0] for k in ("1 process", "2 processes"))
        print(f"  image folder: 2 processes are {one / two:.2f}x one")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other work slows every figure)")


if __name__ == "__main__":
    main()
