"""Benchmark: one LightGBM search of 32 trials run by one process vs two, on PostgreSQL and SQLite.

Each run is the real thing: ``ferbench search lightgbm`` (the DVC stage), alone or beside one
``ferbench search-worker lightgbm``, started together in a scratch folder holding a feature
store and params.yaml, on a fresh study (a new PostgreSQL database, or a new SQLite file). The
wall time runs from the launch to the stage's exit (it writes best_params.json once the study
holds its 32 trials), process start-up included. Printed side by side: wall time, trials per
minute, the speed-up over one process on the same storage, the mean trial time, and per trial the
stage ran: its time in Optuna calls and, of it, in SQL round trips (timed with SQLAlchemy's
cursor events) and their number, beside the round-trip time of one storage call measured in the
same run. Baseline in the same run: one LightGBM fit alone vs two at once, the parallel CPU the
machine gives right now. The machine's load average is printed before and after each run (the
machine may be shared).

The feature store: a stratified sample of FER2013's Training rows (``--rows``, 15% of them held
out as dev), HOG features computed by ``features.hog``; LightGBM runs on one thread per process.

Example::

    python bench/bench_search.py --csv ../shared/data/fer2013/fer2013.csv.gz --rows 2000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from features.hog import hog_features  # noqa: E402
from features.store import save_array, save_rows  # noqa: E402
from fer_data.splits import dev_split  # noqa: E402
from pipeline import paths  # noqa: E402
from pipeline.params import STORAGE_ENV  # noqa: E402
from tests.pg_helpers import PgServer, bin_dir  # noqa: E402

DEFAULT_CSV = REPO_ROOT.parent / "shared/data/fer2013/fer2013.csv.gz"
N_TRIALS = 32
SEARCH = {
    "compute": {"n_jobs": 1},
    "models": {
        "lightgbm": {
            "feature_set": "hog",
            "augmentation": "none",
            "params": dict(
                n_estimators=40,
                learning_rate=0.1,
                num_leaves=15,
                max_bin=31,
                colsample_bytree=0.3,
                min_child_samples=20,
            ),
            "search": {
                "enabled": True,
                "method": "optuna",
                "n_trials": N_TRIALS,
                "timeout_s": 3600,
                "trial_timeout_s": 600,
                "subsample": 0,
                "prune_warmup_steps": 10,
                "space": {
                    "learning_rate": {"type": "float", "low": 0.03, "high": 0.3, "log": True},
                    "num_leaves": {"type": "int", "low": 7, "high": 31, "log": True},
                    "colsample_bytree": {"type": "float", "low": 0.1, "high": 0.6},
                },
            },
        }
    },
}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} ({os.cpu_count()} cores)"


def _merge(base: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "space":
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def build_store(csv: Path, rows: int, root: Path, seed: int = 2013) -> int:
    """``root/data/features/{train,dev}`` with HOG of ``rows`` stratified Training rows."""
    frame = pd.read_csv(csv, dtype={"emotion": "int64", "pixels": "string", "Usage": "string"})
    training = frame[frame["Usage"] == "Training"]
    share = rows / len(training)
    picked = training.groupby("emotion", group_keys=False).sample(frac=share, random_state=seed)
    picked = picked.sort_index()
    images = np.stack(
        [np.asarray(s.split(), dtype=np.uint8).reshape(48, 48) for s in picked["pixels"]]
    )
    hog = hog_features(images)
    keys = pd.DataFrame(
        {
            "row_id": picked.index.to_numpy(np.int64),
            "aug": np.zeros(len(picked), np.int16),
            "emotion": picked["emotion"].to_numpy(np.int8),
            "usage": "Training",
        }
    )
    train, dev = dev_split(keys["emotion"].to_numpy(), 0.15, seed)
    features = root / paths.FEATURES_DIR
    for split, index in (("train", train), ("dev", dev)):
        save_array(features / split, "hog", hog[index])
        save_rows(features / split, keys.iloc[index].reset_index(drop=True))
    return len(picked)


def _env(storage: str | None) -> dict[str, str]:
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    env.pop(STORAGE_ENV, None)
    if storage is not None:
        env[STORAGE_ENV] = storage
    return env


def one_run(store: Path, workdir: Path, storage: str | None, processes: int) -> dict:
    """The stage plus ``processes - 1`` search-workers on a fresh study; its figures."""
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(store, workdir)
    raw = yaml.safe_load((REPO_ROOT / paths.PARAMS_FILE).read_text())
    (workdir / paths.PARAMS_FILE).write_text(yaml.safe_dump(_merge(raw, SEARCH)))
    paths_logs = [workdir / f"process{k}.log" for k in range(processes)]
    commands = [["search", "lightgbm"]] + [["search-worker", "lightgbm"]] * (processes - 1)
    before = _load()
    start = time.perf_counter()
    running = []
    for command, log in zip(commands, paths_logs, strict=True):
        with log.open("w") as out:
            running.append(
                subprocess.Popen(
                    [sys.executable, "-m", "pipeline.cli", *command],
                    cwd=workdir,
                    env=_env(storage),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    codes = [p.wait() for p in running]
    wall = time.perf_counter() - start
    if any(codes):
        logs = "\n".join(log.read_text()[-2000:] for log in paths_logs)
        raise RuntimeError(f"a search process failed ({codes}):\n{logs}")
    record = json.loads((workdir / paths.best_params("lightgbm")).read_text())
    trials = pd.read_csv(workdir / paths.trials("lightgbm"))
    done = trials[trials["state"].isin(["COMPLETE", "PRUNED", "FAIL"])]
    ran = done[done.get("user_attrs_status", pd.Series(dtype=str)) != "surplus"]
    return {
        "wall_s": wall,
        "trials": len(ran),
        "per_min": 60.0 * len(ran) / wall,
        "trial_s": float(ran["user_attrs_seconds"].mean()),
        "workers": record["workers"],
        "stage_trials": record["ran_here"],
        "optuna_ms": record["optuna_ms_per_trial"],
        "sql_ms": record["sql_ms_per_trial"],
        "sql_n": record["sql_per_trial"],
        "best": record["best_value"],
        "load_before": before,
        "load_after": _load(),
    }


def _fit_once(store: Path) -> float:
    """One LightGBM fit as a trial makes it (the configured parameters, one thread); seconds."""
    from features.store import load_xy
    from models.registry import build_model
    from models.spec import BuildOptions

    x, y, _ = load_xy(store / paths.FEATURES_DIR, "train", "hog")
    params = SEARCH["models"]["lightgbm"]["params"]
    model = build_model("lightgbm", params, BuildOptions("hog", False, 1, 2013))
    start = time.perf_counter()
    model.fit(x, y)
    return time.perf_counter() - start


def parallel_capacity(store: Path) -> tuple[float, float]:
    """Seconds of one fit alone, and of each of two fits run at once (separate processes): how
    much parallel CPU this machine gives right now (2x the first over the second)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        alone = statistics.median(pool.map(_fit_once, [store] * 3))
    with ctx.Pool(2) as pool:
        together = statistics.median(pool.map(_fit_once, [store] * 6))
    return alone, together


def round_trip_ms(storage: str, calls: int = 200) -> float:
    """Median wall time of one small storage call (reading a study's attributes)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name="round-trip", load_if_exists=True)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        _ = study.user_attrs
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="FER2013 (csv or csv.gz)")
    parser.add_argument("--rows", type=int, default=2000, help="Training rows in the sample")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (temporary)")
    args = parser.parse_args()
    if not args.csv.exists():
        sys.exit(f"FER2013 not found at {args.csv}; pass --csv")
    # A terminated benchmark still stops its PostgreSQL server (the finally clause below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench_search: terminated"))
    binaries = bin_dir()
    if binaries is None:
        sys.exit("PostgreSQL server binaries not found: apt-get install -y postgresql")
    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="ferbench-bench-search-"))
    store = scratch / "store"
    n_rows = build_store(args.csv, args.rows, store)
    print(f"bench_search: {N_TRIALS} LightGBM trials on HOG of {n_rows} FER2013 Training rows")
    print(f"machine: {_load()}")
    alone, together = parallel_capacity(store)
    print(
        f"parallel capacity: one LightGBM fit {alone:.2f} s alone, {together:.2f} s each with two "
        f"at once: {2 * alone / together:.2f} fits' worth of CPU (2 cores; {_load()})"
    )
    server = PgServer(binaries)
    results = []
    try:
        sqlite_rt = round_trip_ms(f"sqlite:///{scratch}/round-trip.db")
        pg_rt = round_trip_ms(server.database())
        print(
            f"one storage call, median of 200: PostgreSQL {pg_rt:.2f} ms, SQLite {sqlite_rt:.2f} ms"
        )
        for name, fresh in (("PostgreSQL", server.database), ("SQLite", lambda: None)):
            for processes in (1, 2):
                result = one_run(store, scratch / "run", fresh(), processes)
                result.update(storage=name, processes=processes)
                results.append(result)
                print(
                    f"  {name} x{processes}: {result['wall_s']:.1f} s "
                    f"({result['load_before']} -> {result['load_after']})",
                    flush=True,
                )
    finally:
        server.close()
    print()
    header = (
        f"{'storage':<11} {'processes':>9} {'wall s':>7} {'trials':>6} {'trials/min':>10} "
        f"{'speed-up':>8} {'trial s':>7} {'optuna ms':>9} {'SQL ms':>7} {'SQL/trial':>9} "
        f"{'SQL share':>9} {'best acc':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        single = next(x for x in results if x["storage"] == r["storage"] and x["processes"] == 1)
        print(
            f"{r['storage']:<11} {r['processes']:>9} {r['wall_s']:>7.1f} {r['trials']:>6} "
            f"{r['per_min']:>10.2f} {single['wall_s'] / r['wall_s']:>7.2f}x "
            f"{r['trial_s']:>7.2f} {r['optuna_ms']:>9.1f} {r['sql_ms']:>7.1f} {r['sql_n']:>9.1f} "
            f"{r['sql_ms'] / (10.0 * r['trial_s']):>8.1f}% {r['best']:>8.4f}"
        )
    print(
        "optuna ms, SQL ms, SQL/trial: per trial the stage ran, the wall time in Optuna calls "
        "(storage, TPE sampling, pruning), of it in SQL round trips, and their number; "
        "SQL share: SQL ms over the mean trial time"
    )
    print(f"\nmachine after: {_load()}")
    if args.workdir is None:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
