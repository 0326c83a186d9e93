"""Measure the stacking ensemble on a finished run made before the ensemble existed.

    nice -n 19 python bench/ensemble_run.py RUN_REPO WORKDIR [--skip MODEL ...] [--budget-s S]

A run made by an earlier commit saved each model (refitted on train + dev) but not the members'
per-class scores. This copies what the ensemble needs from RUN_REPO into WORKDIR (the feature
store, the ingested splits, the searches' parameters, the saved models; never writing in
RUN_REPO) and, with this code, there:

1. refits each classical model that trained ok on the training rows alone with its chosen
   parameters and saves its per-class dev scores (the train stage's ``fit_and_score_dev``);
2. scores the run's saved models on test (the evaluate stage, which now saves the test scores);
3. scores the run's CNNs (their saved weights are the dev-chosen ones when no fine-tune ran) on
   dev and test, 10-crop, as the cnn stage now does;
4. runs the ensemble stage, and prints every member's dev and test accuracy beside it.

Members are scored in :data:`ORDER` (the CNN, then the strongest classical models first); past
``--budget-s`` no new member starts and the ensemble stacks those done (the others are named
as skipped). Rerunning in the same WORKDIR keeps the scores already saved.

RUN_REPO's params.yaml is used, with this checkout's ``ensemble`` section added where it lacks one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fer_data.faces import read_faces  # noqa: E402
from fer_data.records import DataSource  # noqa: E402
from models import fitting  # noqa: E402
from models.cnn.data import Normalizer  # noqa: E402
from models.cnn.device import Runtime  # noqa: E402
from models.cnn.infer import predict_logits  # noqa: E402
from models.cnn.names import model_name  # noqa: E402
from models.cnn.nets import build_net  # noqa: E402
from models.member_scores import ClassScores, save_scores  # noqa: E402
from models.names import MODEL_NAMES  # noqa: E402
from models.records import CnnTrainRecord, ModelMetrics, TrainRecord  # noqa: E402
from models.spec import BuildOptions  # noqa: E402
from models.worker import BudgetWorker  # noqa: E402
from pipeline import paths  # noqa: E402
from pipeline.params import parse_params  # noqa: E402
from pipeline.stages import ensemble, evaluate, train  # noqa: E402

ORDER = ("mlp", "svm", "lightgbm", "xgboost", "knn", "rf", "gnb", "adaboost")
COPIED = ("data/features", "data/ingested", "artifacts/search", "artifacts/models")


def prepare(run: Path, workdir: Path) -> None:
    """Copy what the ensemble needs and write the merged params.yaml."""
    for part in COPIED:
        if not (workdir / part).exists():
            shutil.copytree(run / part, workdir / part)
    raw = yaml.safe_load((run / "params.yaml").read_text())
    raw.setdefault("ensemble", yaml.safe_load((REPO / "params.yaml").read_text())["ensemble"])
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))


def dev_scores_of(params, model: str) -> float:
    """Refit ``model`` on the training rows alone; save its dev scores; seconds taken."""
    record = TrainRecord.read(paths.train_record(model))
    cfg = params.models[model]
    context = train.fit_context(params, model)
    n_classes = len(DataSource.read(paths.SOURCE_FILE).classes)
    options = BuildOptions(
        cfg.feature_set, cfg.accelerate, params.compute.n_jobs, params.seed, n_classes
    )
    start = time.perf_counter()
    with BudgetWorker(context) as worker:
        outcome = worker.run(
            fitting.fit_and_score_dev,
            {"model": model, "params": record.params, "options": options},
            timeout=cfg.fit_timeout_s,
        )
    if outcome.status != "ok":
        raise RuntimeError(f"{model}: {outcome.status}: {outcome.error}")
    fitted_on = "train" + ("" if cfg.augmentation == "none" else f" + {cfg.augmentation}")
    train.save_dev_scores(model, context, outcome.value, outcome.value["score_kind"], fitted_on)
    return time.perf_counter() - start


def cnn_scores(arch: str) -> None:
    """10-crop softmax scores of a CNN's saved (dev-chosen) weights on dev and test."""
    name = model_name(arch)
    payload = torch.load(paths.cnn_weights(name), map_location="cpu", weights_only=True)
    dev, test = read_faces(paths.ingested("dev")), read_faces(paths.ingested("test"))
    net = build_net(arch, len(dev.classes))
    net.load_state_dict(payload["state_dict"])
    net.eval()
    norm = Normalizer(payload["mean"], payload["std"])
    runtime = Runtime(torch.device("cpu"), bf16=False, channels_last=False)
    for table, path in ((dev, paths.dev_scores(name)), (test, paths.test_scores(name))):
        images = torch.from_numpy(np.ascontiguousarray(table.images))
        logits = predict_logits(net, images, payload["crop"], norm, runtime, 512, True)
        scores = ClassScores(
            torch.softmax(logits.float(), dim=1).numpy(),
            table.row_id.astype(np.int64),
            table.emotion.astype(np.int64),
            "probability",
            "train (dev-chosen epoch, 10-crop)",
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        save_scores(path, scores)
        accuracy = float(np.mean(scores.scores.argmax(axis=1) == scores.labels))
        print(f"{name}: {path} accuracy {accuracy:.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--skip", action="append", default=[], help="a model to leave out")
    parser.add_argument("--budget-s", type=float, default=float("inf"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    prepare(args.run.resolve(), args.workdir)
    os.chdir(args.workdir)
    params = parse_params(yaml.safe_load(Path("params.yaml").read_text()))
    start = time.perf_counter()
    for arch in params.cnn.archs:
        name = model_name(arch)
        info = CnnTrainRecord.read_optional(paths.train_record(name))
        if info is None or name in args.skip or info.params.get("finetune_epochs"):
            # Fine-tuned weights have seen dev: their dev scores would leak.
            print(f"{name}: skipped", flush=True)
            continue
        cnn_scores(arch)
    for model in ORDER:
        record = TrainRecord.read_optional(paths.train_record(model))
        late = time.perf_counter() - start > args.budget_s
        if model in args.skip or record is None or record.status != "ok" or late:
            print(f"{model}: skipped", flush=True)
            continue
        if not paths.dev_scores(model).exists():
            seconds = dev_scores_of(params, model)
            print(f"{model}: dev scores from the train-only fit in {seconds:.0f} s", flush=True)
        if not paths.test_scores(model).exists():
            metrics = evaluate.run(params, model)
            print(f"{model}: test accuracy {metrics.test.all.accuracy:.4f}", flush=True)
    result = ensemble.run(params)
    print(f"total {time.perf_counter() - start:.0f} s")
    print(yaml.safe_dump(result.params, sort_keys=False))
    for model in [*MODEL_NAMES, *(model_name(a) for a in params.cnn.archs), "ensemble"]:
        found = ModelMetrics.read_optional(paths.metrics(model))
        if found is not None and found.ok:
            s = found.test.all
            print(
                f"{model:18s} test accuracy {s.accuracy:.4f} {s.accuracy_ci95} "
                f"macro-F1 {s.macro_f1:.4f}"
            )


if __name__ == "__main__":
    main()
