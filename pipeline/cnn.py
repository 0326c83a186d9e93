"""Stage ``cnn <arch>``: train one CNN on the ingested faces and score it like the classical models.

Reads ``data/ingested/{train,dev,test}.feather`` (plus ``data/augmented/<mode>.feather`` when the
architecture's ``augmentation`` names a mode). Writes, for model ``cnn_<arch>``:

- ``artifacts/models/cnn_<arch>/model.pt`` (weights chosen on dev, or fine-tuned on train + dev
  from them) and ``train.json``; while training, ``checkpoint.pt`` to resume an interrupted run;
- ``metrics/models/cnn_<arch>.json`` in the classical models' format, ``test`` holding the 10-crop
  scores and ``test_center_crop`` the centre-crop ones;
- ``results/plots/cnn/<arch>_history.csv`` (per-epoch train / dev loss and accuracy) and
  ``results/plots/confusion/cnn_<arch>.csv`` (10-crop predictions).
"""

from __future__ import annotations

import os

# Read by torch's OpenMP runtime when torch loads, so it must come before the imports below: idle
# threads sleep instead of spinning. On 2 cores shared with other jobs, spinning made 2-thread
# Mini-Xception training 4-7x slower than 1 thread; sleeping brought it level. A user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models import artifacts
from models.cnn.checkpoint import fingerprint
from models.cnn.data import Normalizer, Split, class_weights, read_split, training_table
from models.cnn.device import Runtime, resolve_runtime
from models.cnn.infer import predict_logits
from models.cnn.loop import FitResult, fit
from models.cnn.names import model_name
from models.cnn.nets import build_net, count_parameters
from models.metrics import N_CLASSES, score_predictions
from pipeline import layout
from pipeline.atomic import atomic_path, write_json
from pipeline.evaluate import write_confusion
from pipeline.faces import FaceTable
from pipeline.params import Params
from pipeline.stage_log import get_logger, log_wrote, stage

MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"


def history_path(arch: str) -> Path:
    return layout.RESULTS_DIR / "plots" / "cnn" / f"{arch}_history.csv"


def write_history(arch: str, history: list[dict]) -> None:
    path = history_path(arch)
    with atomic_path(path) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    log_wrote(path, f"{len(history)} epochs")


def save_model(path: Path, net: torch.nn.Module, arch: str, crop: int, norm: Normalizer) -> int:
    state = {k: v.cpu() for k, v in net.state_dict().items()}
    payload = {"arch": arch, "crop": crop, "mean": norm.mean, "std": norm.std, "state_dict": state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    log_wrote(path)
    return path.stat().st_size


@dataclass(frozen=True)
class StageData:
    tables: dict[str, FaceTable]  # train (plus augmented copies), dev, test
    train: Split
    dev: Split
    test: Split
    norm: Normalizer

    @classmethod
    def load(cls, augmentation: str, device: torch.device) -> StageData:
        tables = {
            "train": training_table(augmentation),
            "dev": read_split("dev"),
            "test": read_split("test"),
        }
        splits = {name: Split.from_table(table, device) for name, table in tables.items()}
        return cls(tables, **splits, norm=Normalizer.fit(tables["train"].images))

    def fingerprint(self, settings: dict) -> str:
        """Settings plus the exact training and dev rows: a checkpoint resumes only on a match."""
        train, dev = self.tables["train"], self.tables["dev"]
        return fingerprint(
            settings,
            train.row_id,
            train.aug_index,
            train.emotion,
            train.images,
            dev.row_id,
            dev.images,
        )


def timed_predictions(
    net: torch.nn.Module, data: StageData, crop: int, runtime: Runtime, batch: int, ten: bool
) -> tuple[np.ndarray, float]:
    """Test predictions and milliseconds per image (timed after one warm-up batch)."""
    images = data.test.images
    warm_up = images[
        : max(1, batch // 10) if ten else batch
    ]  # one batch, as predict_logits cuts it
    predict_logits(net, warm_up, crop, data.norm, runtime, batch, ten)
    runtime.synchronize()
    start = time.perf_counter()
    logits = predict_logits(net, images, crop, data.norm, runtime, batch, ten)
    ms = 1000 * (time.perf_counter() - start) / max(len(images), 1)
    return logits.argmax(dim=1).numpy().astype(np.int64), round(ms, 4)


def train_net(
    params: Params, arch: str, data: StageData, runtime: Runtime, out: Path
) -> tuple[torch.nn.Module, FitResult]:
    cfg = params.cnn.arch(arch)
    torch.manual_seed(params.seed)
    net = build_net(arch, N_CLASSES, cfg.dropout)
    get_logger().info(
        "cnn %s: %d parameters on %s; %d train / %d dev / %d test images, %d + %d epochs",
        arch,
        count_parameters(net),
        runtime.describe(),
        len(data.train),
        len(data.dev),
        len(data.test),
        cfg.epochs,
        cfg.finetune_epochs,
    )
    labels = data.tables["train"].emotion.astype(np.int64)
    weights = class_weights(labels, N_CLASSES) if cfg.class_weights == "balanced" else None
    key = data.fingerprint({"arch": arch, "seed": params.seed, "cnn": cfg.model_dump()})
    result = fit(
        net,
        cfg,
        data.train,
        data.dev,
        data.norm,
        runtime,
        seed=params.seed,
        checkpoint=out / CHECKPOINT_FILE,
        fingerprint=key,
        eval_batch_size=params.cnn.eval_batch_size,
        checkpoint_every_s=params.cnn.checkpoint_every_s,
        weights=weights,
    )
    return net, result


def run(params: Params, arch: str) -> dict:
    cfg, name = params.cnn.arch(arch), model_name(arch)
    runtime = resolve_runtime(
        params.cnn.device, params.cnn.threads, params.cnn.bf16, params.cnn.channels_last
    )
    out = artifacts.model_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    data = StageData.load(cfg.augmentation, runtime.device)
    net, result = train_net(params, arch, data, runtime, out)
    model_bytes = save_model(out / MODEL_FILE, net, arch, cfg.crop, data.norm)
    write_history(arch, result.history)

    test = data.tables["test"]
    y_true, usage = test.emotion.astype(np.int64), test.usage.astype(str)
    batch = params.cnn.eval_batch_size
    ten_pred, ten_ms = timed_predictions(net, data, cfg.crop, runtime, batch, ten=True)
    center_pred, center_ms = timed_predictions(net, data, cfg.crop, runtime, batch, ten=False)
    described = {
        "arch": arch,
        **cfg.model_dump(),
        "n_parameters": count_parameters(net),
        "device": runtime.describe(),
    }
    n_boot, seed = params.evaluate.n_boot, params.seed
    metrics = {
        "data": layout.data_source(),
        "model": name,
        "feature_set": "pixels",
        "augmentation": cfg.augmentation,
        "params": described,
        "fit_seconds": round(result.seconds, 3),
        "model_bytes": model_bytes,
        "predict_ms_per_image": ten_ms,
        "test": score_predictions(y_true, ten_pred, usage, n_boot, seed),
        "test_center_crop": score_predictions(y_true, center_pred, usage, n_boot, seed),
        "status": "ok",
    }
    write_confusion(name, y_true, ten_pred)
    log_wrote(write_json(artifacts.metrics_path(name), metrics))
    info = {
        "model": name,
        "status": "ok",
        "params": described,
        "fit_seconds": metrics["fit_seconds"],
        "model_bytes": model_bytes,
        "train_rows": len(data.train),
        "epochs_run": len(result.history),
        "resumed_at_epoch": result.resumed_at,
        "best_epoch": result.best_epoch,
        "best_dev_accuracy": result.best_dev_accuracy,
        "predict_ms_per_image": {"ten_crop": ten_ms, "center_crop": center_ms},
    }
    log_wrote(write_json(out / artifacts.TRAIN_INFO, info))
    # Done: a later run with the same settings must retrain, not resume.
    (out / CHECKPOINT_FILE).unlink(missing_ok=True)
    return metrics


def main(params: Params, arch: str) -> None:
    with stage(f"cnn {arch}") as log:
        metrics = run(params, arch)
        for key, label in (("test", "10-crop"), ("test_center_crop", "centre crop")):
            scores = metrics[key]
            public, private = (
                scores[s]["accuracy"] if scores[s] else float("nan") for s in ("public", "private")
            )
            log.info(
                "cnn %s %s: test accuracy %.4f (95%% CI %s), PublicTest %.4f, PrivateTest %.4f, "
                "macro-F1 %.4f",
                arch,
                label,
                scores["all"]["accuracy"],
                scores["all"]["accuracy_ci95"],
                public,
                private,
                scores["all"]["macro_f1"],
            )
