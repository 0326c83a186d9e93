"""Benchmarks of the classical model zoo on full FER2013 (README figures come from here).

Subcommands:

``svc``    stock scikit-learn (libsvm) vs scikit-learn-intelex (oneDAL) RBF SVC in one run: the
           same pipeline and parameters (``models.svm`` of params.yaml), fitted on train + dev
           (the whole Training split; ``--augmentation mirror`` adds the mirrors the default
           model trains on) and timed on fit and on predicting the test split; prints both, the
           ratio and accuracies.
``repro``  a full ``dvc repro`` with default parameters in a fresh copy of this checkout with the
           FER2013 CSV in ``data/raw``: the wall time of the whole run and of every stage (read
           from the stages' own "stage <name>: done in <s> s" log lines), then the results table.
``table``  the results table (model, test accuracy with its 95% CI, macro-F1, fit seconds,
           predict milliseconds per image) from ``metrics/models/*.json`` of a finished run.

Examples::

    python bench/bench_models.py svc --features /path/to/data/features
    python bench/bench_models.py repro --csv ../shared/data/fer2013/fer2013.csv.gz \
        --workdir /tmp/zoo
    python bench/bench_models.py table --metrics /tmp/zoo/repo/metrics/models
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.checkout import copy_checkout  # noqa: E402
from models.registry import MODEL_NAMES  # noqa: E402
from pipeline.params import load_params  # noqa: E402

STAGE_LINE = re.compile(r"stage (?P<name>.+?): done in (?P<seconds>[0-9.]+) s")


def _machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"


# --- svc -----------------------------------------------------------------------------------------


def bench_svc(features: Path, params_path: Path, augmentation: str = "none") -> dict:
    from features.store import load_xy
    from models.data import training_data
    from models.registry import build_model
    from models.spec import BuildOptions

    params = load_params(params_path)
    cfg = params.models["svm"]
    x, y, _ = training_data(features, cfg.feature_set, augmentation, with_dev=True)
    x_test, y_test, _ = load_xy(features, "test", cfg.feature_set)
    print(
        f"svc: {len(y)} training rows x {x.shape[1]} ({cfg.feature_set}, augmentation "
        f"{augmentation}), {len(y_test)} test rows"
    )
    print(f"svc: params {cfg.params}; machine: {_machine()}")
    results = {}
    for name, accelerate in (("scikit-learn-intelex", True), ("scikit-learn (libsvm)", False)):
        options = BuildOptions(cfg.feature_set, accelerate, params.compute.n_jobs, params.seed)
        pipeline = build_model("svm", cfg.params, options)
        start = time.perf_counter()
        pipeline.fit(x, y)
        fitted = time.perf_counter()
        predicted = pipeline.predict(x_test)
        done = time.perf_counter()
        results[name] = {
            "fit_s": round(fitted - start, 1),
            "predict_s": round(done - fitted, 1),
            "accuracy": round(float(np.mean(predicted == y_test)), 4),
        }
        print(f"svc: {name}: {results[name]}", flush=True)
    fast, stock = results["scikit-learn-intelex"], results["scikit-learn (libsvm)"]
    results["fit_speedup"] = round(stock["fit_s"] / fast["fit_s"], 1)
    results["predict_speedup"] = round(stock["predict_s"] / fast["predict_s"], 1)
    results["machine"] = _machine()
    print(
        f"svc: intelex is {results['fit_speedup']}x faster to fit, "
        f"{results['predict_speedup']}x to predict"
    )
    return results


# --- repro ---------------------------------------------------------------------------------------


def bench_repro(csv: Path, workdir: Path, targets: list[str], resume: bool = False) -> dict:
    """``resume``: go on in the repository of an interrupted run (its finished stages stay cached);
    per-stage times then come from every run's log, the later run's where a stage ran twice."""
    repo = workdir / "repo"
    if not (resume and repo.exists()):
        if repo.exists():
            shutil.rmtree(repo)
        repo.mkdir(parents=True)
        copy_checkout(repo)
        suffix = ".csv.gz" if csv.name.endswith(".gz") else ".csv"
        (repo / "data" / "raw").mkdir(parents=True, exist_ok=True)
        os.symlink(csv.resolve(), repo / "data" / "raw" / f"fer2013{suffix}")
        for old in workdir.glob("repro*.log"):
            old.unlink()
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    print(f"repro: dvc repro {' '.join(targets)} in {repo}; machine: {_machine()}", flush=True)
    start = time.perf_counter()
    log_path = workdir / f"repro{len(list(workdir.glob('repro*.log'))) or ''}.log"
    with log_path.open("w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "dvc", "repro", *targets],
            cwd=repo,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wall = time.perf_counter() - start
    logs = sorted(workdir.glob("repro*.log"), key=lambda p: p.stat().st_mtime)
    text = "".join(p.read_text() for p in logs)
    stages = {m["name"]: float(m["seconds"]) for m in STAGE_LINE.finditer(text)}
    for name, seconds in stages.items():
        print(f"repro: {name:<28} {seconds:8.1f} s")
    print(f"repro: this run's wall time {wall:.0f} s ({wall / 60:.1f} min), exit {done.returncode}")
    print(f"repro: sum of stage times {sum(stages.values()):.0f} s over {len(logs)} run(s)")
    print(f"repro: machine after the run: {_machine()}")
    return {
        "wall_s": round(wall, 1),
        "exit_code": done.returncode,
        "stages_s": stages,
        "log": str(log_path),
        "table": results_table(repo / "metrics" / "models"),
    }


# --- table ---------------------------------------------------------------------------------------


def results_table(metrics_dir: Path) -> str:
    lines = [
        "| model | features | test accuracy (95% CI) | public / private | macro-F1 | fit s "
        "| predict ms/img | status |",
        "| --- | --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for model in MODEL_NAMES:
        path = metrics_dir / f"{model}.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        if m["test"] is None:
            lines.append(f"| {model} | {m['feature_set']} | - | - | - | - | - | {m['status']} |")
            continue
        a = m["test"]["all"]
        lo, hi = a["accuracy_ci95"] or (a["accuracy"], a["accuracy"])
        public, private = m["test"]["public"]["accuracy"], m["test"]["private"]["accuracy"]
        accuracy = f"{100 * a['accuracy']:.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"
        split = f"{100 * public:.1f}% / {100 * private:.1f}%"
        lines.append(
            f"| {model} | {m['feature_set']} | {accuracy} | {split} "
            f"| {a['macro_f1']:.3f} | {m['fit_seconds']:.1f} | {m['predict_ms_per_image']:.3f} "
            f"| {m['status']} |"
        )
    data = next(
        (json.loads(p.read_text())["data"] for p in sorted(metrics_dir.glob("*.json"))), None
    )
    if data is not None and data.get("synthetic"):
        lines.append("\nSYNTHETIC DATA: these numbers are not FER2013.")
    table = "\n".join(lines)
    print(table)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    svc = sub.add_parser("svc", help="stock vs accelerated RBF SVC")
    svc.add_argument("--features", type=Path, default=REPO_ROOT / "data" / "features")
    svc.add_argument("--params", type=Path, default=REPO_ROOT / "params.yaml")
    svc.add_argument(
        "--augmentation",
        default="none",
        help="training copies to add: none (default: the full Training split, as libsvm's "
        "reference timing) or an augment mode, e.g. mirror (models.svm's default)",
    )
    repro = sub.add_parser("repro", help="full dvc repro with default parameters, timed per stage")
    repro.add_argument("--csv", type=Path, required=True, help="FER2013 CSV (.csv or .csv.gz)")
    repro.add_argument(
        "--workdir", type=Path, required=True, help="scratch folder outside the checkout"
    )
    repro.add_argument("targets", nargs="*", help="stages to reproduce (default: all)")
    repro.add_argument("--resume", action="store_true", help="go on in the last run's repository")
    table = sub.add_parser("table", help="results table from metrics/models/*.json")
    table.add_argument("--metrics", type=Path, default=REPO_ROOT / "metrics" / "models")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.command == "svc":
        result: object = bench_svc(args.features, args.params, args.augmentation)
    elif args.command == "repro":
        result = bench_repro(args.csv, args.workdir, args.targets, args.resume)
    else:
        result = results_table(args.metrics)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
