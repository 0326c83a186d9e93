"""Stage ``train <model>``: fit the searched (or configured) parameters and save the model.

Reads ``artifacts/search/<model>/best_params.json`` and the training features (train, plus the
model's augmentation, plus dev when ``train.refit_on_dev``); writes ``artifacts/models/<model>/``:
``model.joblib`` and ``train.json`` (status, parameters, fit seconds, model bytes). The fit runs in
a child process killed at ``fit_timeout_s``; a fit that fails or runs out of time is recorded in
``train.json`` and the stage still succeeds, so one model never takes the others down.
"""

from __future__ import annotations

import json

from models import artifacts, tasks
from models.data import training_data
from models.spec import BuildOptions
from models.worker import BudgetWorker
from pipeline import layout
from pipeline.atomic import write_json
from pipeline.params import Params
from pipeline.stage_log import get_logger, log_read, log_wrote, stage


def chosen_params(model: str) -> tuple[dict, str]:
    """The parameters to fit and where they come from (search result or configuration)."""
    path = artifacts.search_dir(model) / artifacts.BEST_PARAMS
    found = json.loads(path.read_text())
    log_read(path, f"search status {found['status']}")
    return found["params"], "search" if found["status"] == "ok" else "configured"


def run(params: Params, model: str) -> dict:
    log = get_logger()
    cfg = params.models[model]
    out = artifacts.model_dir(model)
    out.mkdir(parents=True, exist_ok=True)
    fitted, source = chosen_params(model)
    info: dict = {
        "model": model,
        "feature_set": cfg.feature_set,
        "augmentation": cfg.augmentation,
        "params": fitted,
        "params_from": source,
        "refit_on_dev": params.train.refit_on_dev,
        "fit_seconds": None,
        "model_bytes": None,
    }
    if not cfg.enabled:
        info["status"] = "disabled"
    else:
        x, y, _ = training_data(
            layout.FEATURES_DIR, cfg.feature_set, cfg.augmentation, params.train.refit_on_dev
        )
        log_read(layout.FEATURES_DIR, f"{len(y)} training rows of {cfg.feature_set}")
        options = BuildOptions(cfg.feature_set, cfg.accelerate, params.compute.n_jobs, params.seed)
        path = out / artifacts.MODEL_FILE
        with BudgetWorker({"x": x, "y": y}) as worker:
            outcome = worker.run(
                tasks.fit_and_save,
                {"model": model, "params": fitted, "options": options, "path": str(path)},
                timeout=cfg.fit_timeout_s,
            )
        info["train_rows"] = len(y)
        info["status"] = outcome.report_status
        if outcome.status == "ok":
            info |= {
                k: round(v, 3) if isinstance(v, float) else v for k, v in outcome.value.items()
            }
            log_wrote(path, f"fit in {info['fit_seconds']:.1f} s")
        else:
            info["error"] = outcome.error
            log.error(
                "!!! train %s: %s after %.0f s: %s",
                model,
                info["status"],
                outcome.seconds,
                outcome.error,
            )
    log_wrote(write_json(out / artifacts.TRAIN_INFO, info))
    return info


def main(params: Params, model: str) -> None:
    with stage(f"train {model}"):
        run(params, model)
