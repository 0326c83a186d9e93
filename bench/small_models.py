"""Small trained models for the predict benchmarks: the pipeline's own stages on a stratified
sample of FER2013, in a scratch copy of this checkout (never the repository).

    python bench/small_models.py --workdir /tmp/fer_small [--train-rows 5000] \
        [--models gnb knn svm] [--cnn-epochs 3]

Writes ``<workdir>/repo`` (a fresh copy of the checkout, committed, so model cards name a
commit), samples ``--train-rows`` Training rows and ``--test-rows`` PublicTest + PrivateTest rows
per Usage (stratified by emotion, seeded) into ``<workdir>/repo/data/raw/fer2013.csv``, then runs
``ingest``, ``augment``, ``features``, ``search`` and ``train`` of each model and ``cnn
mini_xception`` exactly as ``dvc repro`` runs them, except that the classical models are not
refitted on train + dev (``train.refit_on_dev: false``), so that dev stays unseen by every model.
The trained models land in ``<workdir>/repo/artifacts/models/``; the benchmarks take ``--repo
<workdir>/repo``. On a full ``dvc repro`` checkout the benchmarks take that checkout instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.checkout import copy_checkout  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared/data/fer2013/fer2013.csv.gz"


def sample_csv(source: Path, target: Path, rows: dict[str, int], seed: int) -> int:
    """A stratified sample of the Kaggle CSV (rows per Usage, stratified by emotion)."""
    frame = pd.read_csv(source, dtype={"emotion": "int64", "pixels": "string", "Usage": "string"})
    rng = np.random.default_rng(seed)
    keep = []
    for usage, n_rows in rows.items():
        block = frame[frame["Usage"] == usage]
        for _, members in block.groupby("emotion").groups.items():
            take = min(len(members), max(8, round(len(members) / len(block) * n_rows)))
            keep.append(rng.choice(np.asarray(members), size=take, replace=False))
    sample = frame.loc[np.sort(np.concatenate(keep))]
    target.parent.mkdir(parents=True, exist_ok=True)
    sample.to_csv(target, index=False)
    return len(sample)


def set_params(repo: Path, updates: dict[str, object]) -> None:
    path = repo / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    for dotted, value in updates.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def stage(repo: Path, *args: str) -> None:
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(repo)}
    subprocess.run([sys.executable, "-m", *args], cwd=repo, env=env, check=True)
    print(f"  {' '.join(args)}: {time.perf_counter() - start:.1f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    p.add_argument("--train-rows", type=int, default=5000)
    p.add_argument("--test-rows", type=int, default=500, help="per PublicTest and PrivateTest")
    p.add_argument("--models", nargs="*", default=["gnb", "knn", "svm"])
    p.add_argument("--cnn-epochs", type=int, default=3, help="0: no CNN")
    args = p.parse_args()

    repo = args.workdir / "repo"
    repo.mkdir(parents=True, exist_ok=False)
    copy_checkout(repo)
    rows = {"Training": args.train_rows, "PublicTest": args.test_rows}
    rows["PrivateTest"] = args.test_rows
    n = sample_csv(args.csv, repo / "data/raw/fer2013.csv", rows, seed=2013)
    print(f"sample: {n} rows of {args.csv} -> {repo / 'data/raw/fer2013.csv'}")
    # No refit on dev: the models stay clean of dev, so bench/choose_margin.py can score them there.
    updates: dict[str, object] = {"data.source": "csv", "evaluate.n_boot": 100}
    updates["train.refit_on_dev"] = False
    updates |= {"cnn.mini_xception.epochs": max(args.cnn_epochs, 1)}
    set_params(repo, updates)
    for name in ("ingest", "augment", "features"):
        stage(repo, f"pipeline.stages.{name}")
    for model in args.models:
        stage(repo, "pipeline.stages.search", model)
        stage(repo, "pipeline.stages.train", model)
    if args.cnn_epochs:
        stage(repo, "pipeline.stages.cnn", "mini_xception")
    print(f"models: {repo / 'artifacts/models'}")


if __name__ == "__main__":
    main()
