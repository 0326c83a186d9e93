"""The `cnn` stage end to end on a real sample, its metrics format, and its parameter validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from models import artifacts
from models.metrics import score_predictions
from pipeline import cnn, ingest, layout
from pipeline.cli import main as cli_main
from pipeline.faces import read_faces
from pipeline.params import ParamsError, parse_params
from tests.stage_helpers import make_params

# The top-level keys of the classical models' metrics files (pipeline/evaluate.py), plus the
# CNN's centre-crop scores.
CLASSICAL_KEYS = {
    "data",
    "model",
    "feature_set",
    "augmentation",
    "params",
    "fit_seconds",
    "model_bytes",
    "predict_ms_per_image",
    "test",
    "status",
}
HISTORY_COLUMNS = [
    "epoch",
    "finetune",
    "lr",
    "train_loss",
    "train_acc",
    "dev_loss",
    "dev_acc",
    "seconds",
]


@pytest.fixture(scope="module")
def stage_run(
    fer2013_sample_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    workdir = tmp_path_factory.mktemp("cnn_stage")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        overrides = {
            "data.csv": str(fer2013_sample_csv),
            "evaluate.n_boot": 50,
            "cnn.threads": 1,
            "cnn.mini_xception": {"epochs": 2, "crop": 32, "finetune_epochs": 1},
        }
        params = make_params(workdir, overrides)
        ingest.run(params)
        metrics = cnn.run(params, "mini_xception")
    return workdir, metrics


def test_metrics_match_the_classical_format(stage_run) -> None:
    workdir, metrics = stage_run
    written = json.loads((workdir / artifacts.metrics_path("cnn_mini_xception")).read_text())
    assert written == json.loads(json.dumps(metrics))
    assert set(written) == CLASSICAL_KEYS | {"test_center_crop"}
    assert written["model"] == "cnn_mini_xception" and written["status"] == "ok"
    assert written["data"]["synthetic"] is False and written["feature_set"] == "pixels"
    assert (
        written["fit_seconds"] > 0
        and written["model_bytes"] > 0
        and written["predict_ms_per_image"] > 0
    )
    assert (
        written["params"]["arch"] == "mini_xception" and written["params"]["n_parameters"] > 50_000
    )

    reference = score_predictions(
        np.array([0, 1]), np.array([0, 1]), np.array(["PublicTest", "PrivateTest"]), 0
    )
    test = read_faces(workdir / layout.INGESTED_DIR / "test.feather")
    for key in ("test", "test_center_crop"):
        assert set(written[key]) == {"all", "public", "private"}
        for subset, n in (("all", len(test)), ("public", (test.usage == "PublicTest").sum())):
            scores = written[key][subset]
            assert set(scores) == set(reference["all"]) and scores["n"] == n
            assert (
                len(scores["accuracy_ci95"]) == 2
                and np.array(scores["confusion_matrix"]).sum() == n
            )


def test_history_model_and_confusion_are_written(stage_run) -> None:
    workdir, _ = stage_run
    history = pd.read_csv(workdir / cnn.history_path("mini_xception"))
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [1, 2, 3] and history["finetune"].tolist() == [0, 0, 1]
    model_dir = workdir / artifacts.model_dir("cnn_mini_xception")
    saved = torch.load(model_dir / cnn.MODEL_FILE, weights_only=True)
    assert saved["arch"] == "mini_xception" and saved["crop"] == 32
    assert not (model_dir / cnn.CHECKPOINT_FILE).exists()  # finished: nothing left to resume
    info = json.loads((model_dir / artifacts.TRAIN_INFO).read_text())
    assert info["epochs_run"] == 3 and info["best_epoch"] in (1, 2)
    confusion = pd.read_csv(workdir / artifacts.confusion_path("cnn_mini_xception"))
    assert list(confusion.columns) == ["actual", "predicted"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"cnn": {"archs": ["resnet50"]}}, "cnn.archs.0: got 'resnet50'"),
        ({"cnn": {"archs": ["vgg", "vgg"]}}, "cnn.archs"),
        ({"cnn": {"resnet50": {"epochs": 3}}}, "cnn.resnet50: unknown key"),
        ({"cnn": {"vgg": {"crop": 50}}}, "cnn.vgg.crop: got 50"),
        ({"cnn": {"mini_xception": {"crop": 49}}}, "cnn.mini_xception.crop: got 49"),
        ({"cnn": {"vgg": {"crop": 28}}}, "cnn.vgg.crop: got 28; vgg needs at least 32"),
        ({"cnn": {"resnet18": {"lr": 0.01, "lr_min": 0.1}}}, "cnn.resnet18.lr_min"),
        ({"cnn": {"resnet18": {"augmentation": "full"}}}, "cnn.resnet18.augmentation: got 'full'"),
        ({"cnn": {"device": "tpu"}}, "cnn.device: got 'tpu'"),
    ],
)
def test_bad_cnn_parameters_name_their_key(raw: dict, expected: str) -> None:
    with pytest.raises(ParamsError, match="invalid parameters") as info:
        parse_params(raw)
    assert expected in str(info.value)


def test_per_architecture_defaults_survive_partial_overrides() -> None:
    params = parse_params({"cnn": {"vgg": {"epochs": 3}}})
    assert params.cnn.vgg.epochs == 3 and params.cnn.vgg.dropout == 0.5
    assert params.cnn.mini_xception.dropout == 0.0


def test_the_cli_refuses_unknown_architectures(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["cnn", "resnet50"])
    assert "invalid choice: 'resnet50'" in capsys.readouterr().err
