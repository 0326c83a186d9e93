"""Benchmark: the `cnn` stage on the full FER2013, run and timed exactly as DVC runs it.

    python bench/bench_cnn.py run [--arch mini_xception] [--epochs N] [--set cnn.threads=1 ...]
    python bench/bench_cnn.py run --arch vgg --arch resnet18 --parallel --budget-s 420
    python bench/bench_cnn.py pack DIR    # the ingested splits, compact, to carry to a GPU machine
    python bench/bench_cnn.py unpack DIR  # ... and back to data/ingested/ in --workdir there
    nice -n 10 python bench/bench_cnn.py archs [--threads 2] [--batches 3] [--arch lenet ...]

``run`` ingests the CSV into a scratch folder (never the repository), then runs
``python -m pipeline.cli cnn <arch>`` there (several at once with ``--parallel``: they share one
GPU) and prints wall time, seconds per epoch and the test accuracies; ``--epochs N`` times a
slice of the default run. ``--budget-s S`` first runs two epochs of each architecture (which also
checks the whole stage end to end), then sets each one's epochs so that its run fits in S seconds.

``archs`` times every architecture's training step the way the stage takes it (the loop's
``train_epoch``: random crops of the recipe's side, mirrors, standardisation, forward, backward,
SGD step; channels-last as params.yaml sets it) on real FER2013 faces, 64 images a batch, after
one warm-up batch, in float32 and, where the stage would use it (``cnn.bf16`` on a CPU with native
bf16), with bf16 autocast, and projects an epoch on the 25,838-image train split; mini_xception,
the CPU default until vgg_small, is the baseline of the same run. It prints the load average
before and after: the machine's other work slows every figure alike.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
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

from fer_data.faces import USAGES, FaceTable, read_faces, write_faces  # noqa: E402
from pipeline import paths  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared/data/fer2013/fer2013.csv.gz"
SPLITS = ("train", "dev", "test")


# --- carrying the ingested splits: MED-predicted residuals (as in LOCO-I) + LZMA -----------------


def _med(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Median edge detector: predicts a pixel from its left (a), upper (b) and upper-left (c)."""
    high, low = np.maximum(a, b), np.minimum(a, b)
    return np.where(c >= high, low, np.where(c <= low, high, a + b - c))


def encode_images(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.int16)
    a, b, c = (np.zeros_like(x) for _ in range(3))
    a[:, :, 1:], b[:, 1:, :], c[:, 1:, 1:] = x[:, :, :-1], x[:, :-1, :], x[:, :-1, :-1]
    return ((x - _med(a, b, c)) % 256).astype(np.uint8)


def decode_images(residuals: np.ndarray) -> np.ndarray:
    n, rows, cols = residuals.shape
    x = np.zeros((n, rows + 1, cols + 1), np.int16)  # a zero top row and left column
    r = residuals.astype(np.int16)
    for i in range(rows):
        for j in range(cols):
            pred = _med(x[:, i + 1, j], x[:, i, j + 1], x[:, i, j])
            x[:, i + 1, j + 1] = (r[:, i, j] + pred) % 256
    return x[:, 1:, 1:].astype(np.uint8)


def pack(workdir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tables = {name: read_faces(workdir / paths.INGESTED_DIR / f"{name}.feather") for name in SPLITS}
    columns: dict[str, np.ndarray] = {}
    for name, table in tables.items():
        columns[f"{name}_row_id"], columns[f"{name}_aug"] = table.row_id, table.aug_index
        columns[f"{name}_emotion"] = table.emotion
        columns[f"{name}_usage"] = np.array([USAGES.index(u) for u in table.usage], np.int8)
    np.savez(out / "columns.npz", **columns)
    images = np.concatenate([t.images for t in tables.values()])
    residuals = encode_images(images)
    assert np.array_equal(decode_images(residuals[:50]), images[:50])
    (out / "images.xz").write_bytes(lzma.compress(residuals.tobytes(), preset=6))
    (out / "source.json").write_text((workdir / paths.SOURCE_FILE).read_text())
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    print(f"packed {len(images)} images into {out} ({size:.1f} MiB)")


def unpack(src: Path, workdir: Path) -> None:
    columns = np.load(src / "columns.npz")
    raw = np.frombuffer(lzma.decompress((src / "images.xz").read_bytes()), np.uint8)
    images = decode_images(raw.reshape(-1, 48, 48))
    meta = json.loads((src / "source.json").read_text())
    start = 0
    for name in SPLITS:
        n = len(columns[f"{name}_row_id"])
        table = FaceTable(
            row_id=columns[f"{name}_row_id"],
            emotion=columns[f"{name}_emotion"],
            usage=np.asarray(USAGES, dtype=object)[columns[f"{name}_usage"]],
            images=images[start : start + n],
            aug=columns[f"{name}_aug"],
            meta=meta,
        )
        write_faces(table, workdir / paths.INGESTED_DIR / f"{name}.feather")
        start += n
    (workdir / paths.SOURCE_FILE).write_text(json.dumps(meta))
    print(f"unpacked {start} images into {workdir / paths.INGESTED_DIR}")


# --- running and timing the stage ----------------------------------------------------------------


def _set(raw: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def write_params(workdir: Path, base: Path, csv: Path, overrides: dict[str, object]) -> dict:
    raw = yaml.safe_load(base.read_text())
    _set(raw, "data.source", "path")
    _set(raw, "data.path", str(csv))
    for dotted, value in overrides.items():
        _set(raw, dotted, value)
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return raw


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def run_stages(workdir: Path, archs: list[str], parallel: bool) -> dict[str, tuple[float, float]]:
    """Run ``cnn <arch>`` for each arch (at once when ``parallel``); (wall, CPU) seconds of each."""
    (workdir / "logs").mkdir(exist_ok=True)
    procs, walls = {}, {}
    for arch in archs:
        log = (workdir / "logs" / f"cnn_{arch}.log").open("w")
        cmd = [sys.executable, "-m", "pipeline.cli", "cnn", arch]
        procs[arch] = (
            subprocess.Popen(cmd, cwd=workdir, env=_env(), stdout=log, stderr=subprocess.STDOUT),
            time.perf_counter(),
            log,
        )
        if not parallel:
            walls[arch] = _wait(arch, *procs.pop(arch), workdir)
    for arch, (proc, start, log) in procs.items():
        walls[arch] = _wait(arch, proc, start, log, workdir)
    return walls


def _wait(
    arch: str, proc: subprocess.Popen, start: float, log, workdir: Path
) -> tuple[float, float]:
    # wait4 gives this child's own CPU time: with one thread, what its wall time would be on an
    # idle core, whatever else the machine is running.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    log.close()
    if code != 0:
        tail = (workdir / "logs" / f"cnn_{arch}.log").read_text()[-3000:]
        raise SystemExit(f"cnn {arch} failed ({code}):\n{tail}")
    return wall, usage.ru_utime + usage.ru_stime


def summarise(workdir: Path, arch: str, times: tuple[float, float]) -> dict:
    metrics = json.loads((workdir / paths.METRICS_DIR / "models" / f"cnn_{arch}.json").read_text())
    info = json.loads((workdir / paths.MODELS_DIR / f"cnn_{arch}" / "train.json").read_text())
    history = pd.read_csv(workdir / paths.RESULTS_DIR / "plots" / "cnn" / f"{arch}_history.csv")
    ten, centre = metrics["test"], metrics["test_center_crop"]
    return {
        "arch": arch,
        "device": metrics["params"]["device"],
        "epochs": len(history),
        "wall_s": round(times[0], 1),
        "cpu_s": round(times[1], 1),
        "fit_s": metrics["fit_seconds"],
        "s_per_epoch": round(float(history["seconds"].median()), 2),
        "first_epoch_s": round(float(history["seconds"].iloc[0]), 2),
        "last_epoch_s": round(float(history["seconds"].iloc[-1]), 2),
        "best_epoch": info["best_epoch"],
        "dev_acc": round(info["best_dev_accuracy"], 4),
        "test_10crop": round(ten["all"]["accuracy"], 4),
        "public_10crop": round(ten["public"]["accuracy"], 4),
        "private_10crop": round(ten["private"]["accuracy"], 4),
        "test_centre": round(centre["all"]["accuracy"], 4),
        "private_centre": round(centre["private"]["accuracy"], 4),
        "ms_per_image_10crop": metrics["predict_ms_per_image"],
    }


def budget_epochs(probe: dict, configured: int, budget_s: float) -> int:
    """Epochs that fit ``budget_s``, from a two-epoch probe: its fixed costs (start-up, test, the
    first epoch's warm-up, e.g. cuDNN's autotuning) and its second, steady epoch."""
    fixed = probe["wall_s"] - probe["fit_s"] + probe["first_epoch_s"] - probe["last_epoch_s"]
    return max(1, min(configured, math.floor((budget_s - fixed) / probe["last_epoch_s"])))


def cmd_run(args: argparse.Namespace) -> None:
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    raw = write_params(workdir, args.params, args.csv, overrides)
    archs = args.arch or raw.get("cnn", {}).get("archs", ["mini_xception"])
    if not (workdir / paths.INGESTED_DIR / "train.feather").exists():
        subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "ingest"], cwd=workdir, env=_env(), check=True
        )
    from pipeline.params import load_params

    configured = {
        arch: load_params(workdir / "params.yaml").cnn.arch(arch).epochs for arch in archs
    }
    if args.epochs:
        configured = dict.fromkeys(archs, args.epochs)
    if args.budget_s:
        write_params(
            workdir, args.params, args.csv, overrides | {f"cnn.{a}.epochs": 2 for a in archs}
        )
        probes = {
            a: summarise(workdir, a, t)
            for a, t in run_stages(workdir, archs, args.parallel).items()
        }
        for arch, probe in probes.items():
            print(f"probe {arch}: {json.dumps(probe)}")
            configured[arch] = budget_epochs(probe, configured[arch], args.budget_s)
    write_params(
        workdir,
        args.params,
        args.csv,
        overrides | {f"cnn.{a}.epochs": configured[a] for a in archs},
    )
    how = "in parallel" if args.parallel else "one after another"
    print(f"running {configured} in {workdir} ({how})")
    walls = run_stages(workdir, archs, args.parallel)
    rows = [summarise(workdir, arch, times) for arch, times in walls.items()]
    (workdir / "bench_cnn.json").write_text(json.dumps(rows, indent=2))
    print(pd.DataFrame(rows).set_index("arch").T.to_string())


TRAIN_ROWS = 25_838  # FER2013's train split (90% of Training; dev holds out the rest)


def _real_faces(csv: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` Training rows of the FER2013 CSV: uint8 (n, 48, 48) and int64 (n,)."""
    frame = pd.read_csv(csv, nrows=2 * n)
    frame = frame[frame["Usage"] == "Training"].head(n)
    pixels = np.stack([np.array(p.split(), np.uint8) for p in frame["pixels"]])
    return pixels.reshape(-1, 48, 48), frame["emotion"].to_numpy(np.int64)


def cmd_archs(args: argparse.Namespace) -> None:
    import dataclasses

    import torch

    from models.cnn.data import Normalizer, Split
    from models.cnn.device import cpu_has_native_bf16, resolve_runtime
    from models.cnn.loop import lr_schedule, make_optimizer, train_epoch
    from models.cnn.names import ARCHITECTURES
    from models.cnn.nets import build_net, count_parameters
    from models.cnn.recipe import Recipe
    from pipeline.params import load_params

    params = load_params(args.params)
    archs = args.arch or list(ARCHITECTURES)
    if "mini_xception" not in archs:
        archs.insert(0, "mini_xception")  # the baseline
    batch = 64
    images, labels = _real_faces(args.csv, batch * (args.batches + 1))
    split = Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.copy()))
    warm, timed = (
        Split(split.images[a:b], split.labels[a:b])
        for a, b in ((0, batch), (batch, batch * (args.batches + 1)))
    )
    norm = Normalizer.fit(images)
    # float32 always; bf16 autocast too where the stage would use it (cnn.bf16 on native bf16).
    precisions = [False, True] if params.cnn.bf16 and cpu_has_native_bf16() else [False]
    runtimes = {
        bf16: resolve_runtime("cpu", args.threads, bf16, params.cnn.channels_last)
        for bf16 in precisions
    }
    print(f"load average before: {os.getloadavg()}; torch threads: {torch.get_num_threads()}")
    rows = []
    for arch in archs:
        cfg = dataclasses.replace(
            Recipe.from_mapping(params.cnn.arch(arch).model_dump()), batch_size=batch
        )
        row = {"arch": arch, "crop": cfg.crop}
        for bf16, runtime in runtimes.items():
            torch.manual_seed(0)
            net = build_net(arch, 7, params.cnn.arch(arch).dropout)
            net.to(runtime.device, memory_format=runtime.memory_format())
            opt = make_optimizer(net, cfg, cfg.lr, runtime)
            lr_at = lr_schedule(cfg, 0, TRAIN_ROWS // batch)  # the first epoch's rates
            train_epoch(net, opt, warm, cfg, norm, runtime, 0, lr_at, None)
            start = time.perf_counter()
            train_epoch(net, opt, timed, cfg, norm, runtime, 1, lr_at, None)
            ms = 1000 * (time.perf_counter() - start) / args.batches
            suffix = "_bf16" if bf16 else ""
            row |= {
                "parameters": count_parameters(net),
                f"ms_per_batch64{suffix}": round(ms, 1),
                f"epoch_min{suffix}": round(ms * TRAIN_ROWS / batch / 60_000, 1),
            }
        fastest = min(v for k, v in row.items() if k.startswith("ms_per_batch64"))
        row |= {
            "recipe_epochs": cfg.epochs,
            "recipe_hours": round(fastest * TRAIN_ROWS / batch * cfg.epochs / 3_600_000, 1),
            "load1": round(os.getloadavg()[0], 1),  # the machine's other work, meanwhile
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows).set_index("arch")
    for column in [c for c in table.columns if c.startswith("ms_per_batch64")]:
        table[f"x_baseline{column.removeprefix('ms_per_batch64')}"] = (
            table[column] / table.loc["mini_xception", column]
        ).round(2)
    print(f"load average after: {os.getloadavg()}")
    print(table.to_string())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run and time the cnn stage")
    run.add_argument("--workdir", type=Path, default=Path("/tmp/ferbench-bench-cnn"))
    run.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    run.add_argument("--params", type=Path, default=REPO / "params.yaml")
    run.add_argument("--arch", action="append", help="architecture (repeat); default: cnn.archs")
    run.add_argument(
        "--epochs", type=int, help="override every architecture's epochs (a timed slice)"
    )
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter"
    )
    run.add_argument("--parallel", action="store_true", help="run the architectures at once")
    run.add_argument(
        "--budget-s", type=float, help="probe two epochs, then fit each run in this many seconds"
    )
    archs = sub.add_parser("archs", help="time each architecture's training step on the CPU")
    archs.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    archs.add_argument("--params", type=Path, default=REPO / "params.yaml")
    archs.add_argument("--arch", action="append", help="architecture (repeat); default: all")
    archs.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    archs.add_argument("--batches", type=int, default=3, help="timed batches of 64")
    for name, help_text in (
        ("pack", "write the ingested splits compactly to DIR"),
        ("unpack", "restore them from DIR"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("dir", type=Path)
        p.add_argument("--workdir", type=Path, default=Path("/tmp/ferbench-bench-cnn"))
    args = parser.parse_args()
    if args.command == "run":
        cmd_run(args)
    elif args.command == "archs":
        cmd_archs(args)
    elif args.command == "pack":
        pack(args.workdir, args.dir)
    else:
        unpack(args.dir, args.workdir)


if __name__ == "__main__":
    main()
