"""FER+ labels through the pipeline (data.labels: ferplus), on a real FER2013 sample and the
matching rows of the real FER+ vote file: ingest (8 classes, counted drops, rejects, alignment
checked), the face table's label space, a classical model's stages, the CNN's targets and stage."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional

from bench.checkout import copy_checkout
from fer_data.errors import DataError
from fer_data.faces import EMOTIONS, FaceTable, read_faces, write_faces
from fer_data.ferplus import FERPLUS_CLASSES, make_labels, read_votes
from fer_data.relabel import REASON_PREFIX
from models.cnn.data import Split
from models.cnn.targets import epoch_labels, scheme_targets, target_loss
from models.predictor import load_model
from models.records import ModelCard
from pipeline import paths
from pipeline.params import ParamsError
from pipeline.predict_rows import RowWriter
from pipeline.stages import cnn, competency, evaluate, ingest, report, search, train
from reports import tables
from reports.predictions import read_predictions
from tests.models_helpers import _write_split
from tests.stage_helpers import make_params, repo_params, stage_run

REPO_ROOT = Path(__file__).resolve().parents[1]
VOTES_CSV = (
    Path(os.environ.get("FERBENCH_SHARED", REPO_ROOT.parent / "shared"))
    / "data/ferplus/fer2013new.csv"
)


def _vote_lines() -> list[str]:
    if not VOTES_CSV.exists():
        pytest.skip(f"FER+ vote file not found at {VOTES_CSV} (put ../shared beside the repo)")
    return VOTES_CSV.read_text().splitlines()


def _write_votes(path: Path, lines: list[str], rows: np.ndarray) -> Path:
    """The header and the vote lines of FER2013 data rows ``rows``, in that order."""
    path.write_text("\n".join([lines[0], *(lines[1 + i] for i in rows)]) + "\n")
    return path


@pytest.fixture(scope="module")
def ferplus_files(fer2013_frame, fer2013_sample_csv, tmp_path_factory) -> tuple[Path, Path]:
    """(FER2013 sample CSV, its FER+ vote file): the same data rows of both real files, so the
    sample's vote file is row-aligned with the sample CSV as the full files are."""
    votes = _write_votes(
        tmp_path_factory.mktemp("ferplus") / "fer2013new.csv",
        _vote_lines(),
        fer2013_frame.index.to_numpy(),
    )
    return fer2013_sample_csv, votes


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _ferplus_params(workdir: Path, files: tuple[Path, Path], overrides: dict | None = None):
    csv, votes = files
    return make_params(
        workdir,
        {
            "data.path": str(csv),
            "data.labels": "ferplus",
            "data.ferplus_path": str(votes),
            **(overrides or {}),
        },
    )


def test_ingest_with_ferplus_labels(workdir: Path, ferplus_files) -> None:
    metrics = stage_run(ingest, _ferplus_params(workdir, ferplus_files))
    expected = make_labels(read_votes(ferplus_files[1]), "majority")

    # Drops per reason are make_labels' own, per Usage, and each dropped row is a reject.
    summary = metrics["labels"]["ferplus"]
    dropped = {r: c for r, c in expected.counts.items() if r not in ("rows", "kept") and c}
    assert {r: c["total"] for r, c in summary["dropped_by_reason"].items()} == dropped
    assert summary["kept"] == expected.counts["kept"] and summary["dropped"] == sum(
        dropped.values()
    )
    for reason, counts in summary["dropped_by_reason"].items():
        rows = expected.drop_reason == reason
        for usage in ("Training", "PublicTest", "PrivateTest"):
            assert counts[usage] == int(np.sum(rows & (expected.usage == usage)))
    rejects = pd.read_csv(paths.REJECTS_FILE)
    ferplus_rejects = rejects[rejects["reason"].str.startswith(REASON_PREFIX)]
    assert sorted(ferplus_rejects["row_id"]) == sorted(expected.row_id[~expected.keep])
    assert summary["alignment"]["agreement_checked"] and summary["alignment"]["agreement"] > 0.5

    # The tables carry FER+'s 8 classes, the majority labels and every row's votes.
    assert metrics["data"]["label_source"] == "ferplus"
    assert metrics["labels"]["classes"] == list(FERPLUS_CLASSES)
    majority = dict(zip(expected.row_id.tolist(), expected.majority.tolist(), strict=True))
    votes = read_votes(ferplus_files[1]).votes
    vote_of = dict(zip(expected.row_id.tolist(), map(tuple, votes), strict=True))
    n_rows = 0
    for split in ("train", "dev", "test"):
        table = read_faces(paths.ingested(split))
        n_rows += len(table)
        assert table.classes == FERPLUS_CLASSES and table.label_source == "ferplus"
        assert table.votes.shape == (len(table), 10) and table.votes.dtype == np.uint8
        assert [majority[r] for r in table.row_id] == table.emotion.tolist()
        assert tuple(table.votes[0]) == vote_of[int(table.row_id[0])]
        assert list(metrics["splits"][split]) == [*FERPLUS_CLASSES, "total"]
    assert metrics["splits"]["train"]["contempt"] > 0
    assert list(tables.class_counts(metrics["splits"]).index) == list(FERPLUS_CLASSES)
    assert n_rows == expected.counts["kept"] - metrics["blank_images"]["training_dropped"]
    assert json.loads(paths.SOURCE_FILE.read_text())["classes"] == list(FERPLUS_CLASSES)


def test_fer2013_labels_say_so(workdir: Path, ferplus_files) -> None:
    metrics = stage_run(ingest, make_params(workdir, {"data.path": str(ferplus_files[0])}))
    assert metrics["data"]["label_source"] == "fer2013"
    assert metrics["data"]["classes"] == list(EMOTIONS)
    table = read_faces(paths.ingested("train"))
    assert table.votes is None and table.classes == EMOTIONS


def test_a_folder_holding_the_vote_file_is_read(workdir: Path, ferplus_files) -> None:
    folder = ferplus_files[1].parent
    metrics = stage_run(ingest, _ferplus_params(workdir, (ferplus_files[0], folder)))
    assert metrics["data"]["label_file"] == str(folder / paths.FERPLUS_FILE_NAME)


def _cli_error(workdir: Path, caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.ERROR):
        assert ingest.cli(["--params", str(workdir / "params.yaml")]) == 2
    (message,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "\n" not in message
    return message


def test_a_misaligned_vote_file_is_one_line_and_exit_2(
    workdir: Path, fer2013_frame, ferplus_files, caplog: pytest.LogCaptureFixture
) -> None:
    # The vote lines of the next data row: the same row count, rows out of step by one.
    shifted = _write_votes(
        workdir / "shifted.csv", _vote_lines(), fer2013_frame.index.to_numpy() + 1
    )
    _ferplus_params(workdir, (ferplus_files[0], shifted))
    message = _cli_error(workdir, caplog)
    assert message.startswith(f"{shifted}: ")
    assert "not aligned" in message or "not in the original fer2013.csv order" in message
    assert not paths.INGESTED_DIR.exists()


def test_a_missing_vote_file_names_the_key(
    workdir: Path, ferplus_files, caplog: pytest.LogCaptureFixture
) -> None:
    _ferplus_params(workdir, (ferplus_files[0], workdir / "nowhere.csv"))
    message = _cli_error(workdir, caplog)
    assert message.startswith(f"data.ferplus_path={workdir / 'nowhere.csv'}: ")


def test_ferplus_needs_real_data(workdir: Path) -> None:
    with pytest.raises(ParamsError, match=r"data\.labels: got 'ferplus' with data\.source"):
        repo_params({"data": {"labels": "ferplus", "source": "synthetic"}})
    params = make_params(workdir, {"data.labels": "ferplus"})  # auto, nothing in data/raw
    with pytest.raises(DataError, match="FER\\+ labels need the real FER2013 CSV"):
        ingest.run(params)


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (
            {"cnn": {"vgg": {"targets": "crossentropy"}}},
            "cnn.vgg.targets: got 'crossentropy'; with data.labels: fer2013 only 'majority'",
        ),
        (
            {
                "data": {"labels": "ferplus"},
                "cnn": {"mini_xception": {"targets": "multi_target", "label_smoothing": 0.1}},
            },
            "cnn.mini_xception.label_smoothing: got 0.1; targets: multi_target",
        ),
        ({"data": {"labels": "fer+"}}, "data.labels: got 'fer+'"),
        ({"cnn": {"vgg": {"targets": "soft"}}}, "cnn.vgg.targets: got 'soft'"),
    ],
)
def test_label_parameters_are_checked(update: dict, expected: str) -> None:
    with pytest.raises(ParamsError, match=expected.replace("+", "\\+")):
        repo_params(update)
    ok = {"data": {"labels": "ferplus"}, "cnn": {"vgg": {"targets": "multi_target"}}}
    assert repo_params(ok).cnn.vgg.targets == "multi_target"


def test_face_tables_round_trip_the_label_space(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    meta = {"label_source": "ferplus", "classes": list(FERPLUS_CLASSES)}
    table = FaceTable(
        row_id=np.arange(5, dtype=np.int64),
        emotion=np.array([0, 7, 3, 1, 7], np.int8),
        usage=np.array(["Training"] * 5, dtype=object),
        images=rng.integers(0, 256, (5, 48, 48), dtype=np.uint8),
        meta=meta,
        votes=rng.integers(0, 11, (5, 10)).astype(np.uint8),
    )
    back = read_faces(write_faces(table, tmp_path / "t.feather"))
    assert back.classes == FERPLUS_CLASSES and back.label_source == "ferplus"
    np.testing.assert_array_equal(back.votes, table.votes)
    np.testing.assert_array_equal(back.take(np.array([1, 4])).votes, table.votes[[1, 4]])


# --- a classical model on FER+ labels ------------------------------------------------------------


def _feature_store_from_ingest() -> None:
    """HOG, pixels and stand-in landmarks of the ingested tables (tests.models_helpers' layout)."""
    for split in ("train", "dev", "test"):
        table = read_faces(paths.ingested(split))
        rows = pd.DataFrame(
            {
                "row_id": table.row_id,
                "aug": table.aug_index,
                "emotion": table.emotion,
                "usage": table.usage.astype(str),
            }
        )
        _write_split(paths.FEATURES_DIR, split, np.asarray(table.images), rows)


def test_a_classical_model_trains_and_scores_on_8_classes(workdir: Path, ferplus_files) -> None:
    params = _ferplus_params(
        workdir,
        ferplus_files,
        {
            "evaluate.n_boot": 50,
            "models.gnb.search.enabled": False,
            "competency.feature_sets": ["hog"],
            "competency.train_rows": 400,
        },
    )
    stage_run(ingest, params)
    _feature_store_from_ingest()
    stage_run(search, params, "gnb")
    assert stage_run(train, params, "gnb")["status"] == "ok"
    metrics = stage_run(evaluate, params, "gnb")
    assert metrics["data"]["label_source"] == "ferplus"
    for subset in ("all", "public", "private"):
        assert list(metrics["test"][subset]["per_class"]) == list(FERPLUS_CLASSES)
        assert np.shape(metrics["test"][subset]["confusion_matrix"]) == (8, 8)
    card = ModelCard.read(paths.model_card("gnb"))
    assert card.classes == list(FERPLUS_CLASSES) and card.label_source == "ferplus"
    test = read_faces(paths.ingested("test"))
    predicted = read_predictions(paths.confusion("gnb"), test.emotion, None, test.classes)
    assert len(predicted) == len(test)
    assert [r["label"] for r in tables.per_class(_scores(metrics))][:8] == list(FERPLUS_CLASSES)
    (cell,) = stage_run(competency, params, "gnb")["cells"]
    assert cell["status"] == "ok" and 0 < cell["accuracy"] < 1
    # The report names the label source and shows the 8 classes.
    html = stage_run(report, params).read_text()
    assert "labels: FER+ (8 classes, majority test labels)" in html
    assert "FER+ majority labels (8 classes)" in html and "contempt" in html


def _scores(metrics: dict):
    from models.metrics import Scores

    return Scores.model_validate(metrics["test"]["all"])


def test_xgboost_answers_on_every_class_of_the_label_space() -> None:
    from models.registry import build_model
    from models.spec import BuildOptions

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)), np.repeat(np.arange(6), 10)  # no class 6 or 7 in training
    model = build_model("xgboost", {"n_estimators": 5}, BuildOptions("hog", False, 1, 0, 8))
    model.fit(x, y)
    assert model.predict_proba(x).shape == (60, 8)


# --- the CNN's training targets ------------------------------------------------------------------


def test_target_losses_on_a_tiny_batch() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 8)
    labels = torch.tensor([0, 7, 3, 1, 2, 5])
    one_hot = functional.one_hot(labels, 8).float()
    hard = target_loss(logits, labels, None, "majority")
    # Soft-target cross-entropy on one-hot targets is the hard cross-entropy ...
    torch.testing.assert_close(target_loss(logits, labels, one_hot, "crossentropy"), hard)
    torch.testing.assert_close(
        target_loss(logits, labels, one_hot, "crossentropy", None, 0.1),
        target_loss(logits, labels, None, "majority", None, 0.1),
    )
    # Class weights scale each image's term (torch's soft-target rule: a plain mean over images).
    weights = torch.linspace(0.5, 2.0, 8)
    per_image = functional.cross_entropy(logits, labels, reduction="none")
    torch.testing.assert_close(
        target_loss(logits, labels, one_hot, "crossentropy", weights),
        (weights[labels] * per_image).mean(),
    )
    # ... and on a spread distribution it is -sum t log p, per image, averaged.
    soft = torch.softmax(torch.randn(6, 8), dim=1)
    expected = -(soft * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(target_loss(logits, labels, soft, "crossentropy"), expected)
    # Multi-label BCE: summed over the 8 classes, averaged over images.
    multi = (soft > 0.1).float()
    p = torch.sigmoid(logits)
    bce = -(multi * torch.log(p) + (1 - multi) * torch.log(1 - p)).sum(dim=1).mean()
    torch.testing.assert_close(target_loss(logits, labels, multi, "multi_target"), bce)
    loss = target_loss(logits.requires_grad_(), labels, multi, "multi_target", weights)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_probability_targets_draw_labels_each_epoch(ferplus_files) -> None:
    votes = read_votes(ferplus_files[1]).votes[:300]
    made = scheme_targets(votes, len(votes), "probability")
    kept = made.targets[made.keep]
    split = Split(
        torch.zeros(len(kept), 48, 48, dtype=torch.uint8),
        torch.from_numpy(kept.argmax(axis=1)),
        torch.from_numpy(kept),
    )
    first, again, other = (epoch_labels(split, "probability", s) for s in (1, 1, 2))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert (kept[np.arange(len(kept)), first.numpy()] > 0).all()  # only classes with votes
    assert torch.equal(epoch_labels(split, "crossentropy", 1), split.labels)
    with pytest.raises(ValueError, match="need FER\\+ votes"):
        scheme_targets(None, 3, "multi_target")


@pytest.mark.parametrize("targets", ["probability", "multi_target"])
def test_the_cnn_stage_trains_on_ferplus_targets(
    workdir: Path, ferplus_files, targets: str
) -> None:
    params = _ferplus_params(
        workdir,
        ferplus_files,
        {
            "evaluate.n_boot": 20,
            "cnn.threads": 1,
            "cnn.mini_xception.epochs": 1,
            "cnn.mini_xception.crop": 32,
            "cnn.mini_xception.targets": targets,
        },
    )
    stage_run(ingest, params)
    metrics = stage_run(cnn, params, "mini_xception")
    assert metrics["data"]["label_source"] == "ferplus"
    assert metrics["params"]["targets"] == targets
    assert list(metrics["test"]["all"]["per_class"]) == list(FERPLUS_CLASSES)
    assert metrics["test"]["all"]["n"] == len(read_faces(paths.ingested("test")))
    card = ModelCard.read(paths.model_card("cnn_mini_xception"))
    assert card.classes == list(FERPLUS_CLASSES) and card.label_source == "ferplus"
    # `ferbench predict`: a score per FER+ class, in its output columns too.
    model = load_model(paths.model_dir("cnn_mini_xception"))
    result = model.predict_faces(np.asarray(read_faces(paths.ingested("test")).images[:4]))
    assert result.scores.shape == (4, 8) and set(result.emotions) <= set(FERPLUS_CLASSES)
    columns = RowWriter(workdir / "out.csv", model.classes, False).columns()
    assert [c for c in columns if c.startswith("score_")][1:] == [
        f"score_{c}" for c in FERPLUS_CLASSES
    ]


# --- dvc repro ------------------------------------------------------------------------------------


def _dvc(repo: Path, *args: str) -> str:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.slow
def test_dvc_repro_switches_to_ferplus_labels(tmp_path: Path, ferplus_files) -> None:
    """A fresh clone reproduces with FER2013 labels (data/ferplus holds only its README), then
    with data.labels: ferplus and the vote file dropped into data/ferplus."""
    repo = copy_checkout(tmp_path / "repo", jit_cache=True)
    shutil.copy(ferplus_files[0], repo / "data/raw/fer2013.csv")
    _dvc(repo, "repro", "ingest", "augment")
    ingested = json.loads((repo / "metrics/ingest.json").read_text())
    assert ingested["data"]["label_source"] == "fer2013"

    shutil.copy(ferplus_files[1], repo / "data/ferplus" / paths.FERPLUS_FILE_NAME)
    params = repo / "params.yaml"
    text = params.read_text()
    assert text.count("  labels: fer2013 ") == 1
    params.write_text(text.replace("  labels: fer2013 ", "  labels: ferplus "))
    _dvc(repo, "repro", "ingest", "augment")
    for stage in ("ingest", "augment"):
        written = json.loads((repo / f"metrics/{stage}.json").read_text())
        assert written["data"]["label_source"] == "ferplus"
        assert written["data"]["classes"] == list(FERPLUS_CLASSES)
    assert "up to date" in _dvc(repo, "status", "ingest", "augment")


def test_a_bad_vote_line_makes_its_face_a_counted_reject(
    workdir: Path, fer2013_frame, ferplus_files
) -> None:
    lines = ferplus_files[1].read_text().splitlines()
    fields = lines[4].split(",")  # data row 3 of the sample (file line 5)
    fields[2] = "x"
    lines[4] = ",".join(fields)
    bad = workdir / "votes.csv"
    bad.write_text("\n".join(lines) + "\n")
    metrics = stage_run(ingest, _ferplus_params(workdir, (ferplus_files[0], bad)))
    (reason,) = [r for r in metrics["labels"]["ferplus"]["dropped_by_reason"] if "rejected" in r]
    assert reason.startswith("vote line rejected (vote in neutral is not a non-negative integer")
    assert metrics["labels"]["ferplus"]["vote_lines_rejected"] == 1
    rejects = pd.read_csv(paths.REJECTS_FILE)
    (row,) = rejects[rejects["reason"] == REASON_PREFIX + reason].itertuples()
    assert row.row_id == 3 and row.line == 5 and row.detail == fer2013_frame["Usage"].iloc[3]
    assert row.raw == lines[4]
