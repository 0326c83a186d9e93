"""Test images with a copy in train + dev: exact and near copies found, unrelated faces not, and
every model's scores on the test images without one (the duplicates stage, ``test.clean``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import f1_score

from features.store import load_features, load_rows
from fer_data.duplicates import (
    clean_mask,
    exact_copies,
    find_copies,
    image_hashes,
    nearest_hamming,
    write_copies,
)
from fer_data.errors import DataError
from fer_data.faces import read_faces
from models.metrics import score_predictions, score_subset
from pipeline import paths
from pipeline.params import ParamsError, parse_params
from pipeline.stages import duplicates, evaluate, ingest, search, train
from tests.stage_helpers import make_params, merged_raw, repo_params, stage_run

CFG = repo_params().duplicates  # the configured hash and threshold


def _near_copy(image: np.ndarray) -> np.ndarray:
    """Brightness + 2 and a one-pixel shift right (the edge column repeated)."""
    shifted = np.concatenate([image[:, :1], image[:, :-1]], axis=1)
    return np.clip(shifted.astype(np.int16) + 2, 0, 255).astype(np.uint8)


def _recropped(image: np.ndarray) -> np.ndarray:
    """The same photo cropped 1 px tighter on each side, resized back (4% larger) and darker
    (gamma 1.25): FER2013's usual kind of copy."""
    crop = Image.fromarray(image[1:-1, 1:-1]).resize((48, 48), Image.Resampling.LANCZOS)
    return (255 * (np.asarray(crop) / 255.0) ** 1.25).astype(np.uint8)


@pytest.fixture(scope="module")
def planted(fer2013_frame: pd.DataFrame, real_faces) -> dict:
    """The sample's training faces, and test faces plus planted copies of three of them."""
    images, _ = real_faces
    usage = fer2013_frame["Usage"].to_numpy(str)
    row_id = fer2013_frame.index.to_numpy(np.int64)
    training = np.flatnonzero(usage == "Training")
    test = np.flatnonzero(usage != "Training")
    source = training[[10, 20, 30]]
    test_images = np.concatenate(
        [
            images[test],
            images[source[0]][None],
            _near_copy(images[source[1]])[None],
            _recropped(images[source[2]])[None],
        ]
    )
    copies = find_copies(
        test_images,
        np.concatenate([row_id[test], [-1, -2, -3]]),
        np.concatenate([usage[test], ["PublicTest"] * 3]),
        images[training],
        row_id[training],
        CFG.hash,
        CFG.hash_size,
        CFG.max_distance,
    )
    return {"copies": copies, "n_test": len(test), "source_rows": row_id[source]}


def test_planted_exact_and_near_copies_are_found(planted: dict) -> None:
    copies, n = planted["copies"], planted["n_test"]
    exact_row, near_row, recrop_row = planted["source_rows"]
    # The pixel-identical copy: exact, at distance 0, pointing at its source.
    assert copies.exact_copy[n] and not copies.near_copy[n]
    assert copies.nearest_distance[n] == 0 and copies.nearest_row_id[n] == exact_row
    # Brightness + 2 with a one-pixel shift, and a re-crop: near copies of their sources.
    for i, row in ((n + 1, near_row), (n + 2, recrop_row)):
        assert not copies.exact_copy[i] and copies.near_copy[i]
        assert 0 < copies.nearest_distance[i] <= CFG.max_distance
        assert copies.nearest_row_id[i] == row
    assert not copies.clean[n:].any()


def test_unrelated_faces_are_not_copies(planted: dict) -> None:
    copies, n = planted["copies"], planted["n_test"]
    # The sample's own test faces against 1,400 of FER2013's 28,709 training faces: a copy is
    # rare (a few per cent on the full data), so nearly every one is clean, and far from the
    # threshold.
    assert copies.clean[:n].mean() > 0.95
    assert np.median(copies.nearest_distance[:n]) > CFG.max_distance + 10
    assert (copies.exact_copy[:n] == (copies.nearest_distance[:n] == 0)).mean() > 0.99


def test_hamming_search_matches_a_bit_by_bit_count(real_faces) -> None:
    images, _ = real_faces
    hashes = image_hashes(images[:300], CFG.hash, CFG.hash_size)
    assert hashes.shape == (300, CFG.hash_size**2 // 64) and hashes.dtype == np.uint64
    bits = np.unpackbits(hashes[:, None].view(np.uint8), axis=-1).reshape(300, -1)
    query, reference = bits[:40], bits[40:]
    by_hand = (query[:, None, :] != reference[None, :, :]).sum(-1)
    distance, index = nearest_hamming(hashes[:40], hashes[40:], n_jobs=2)
    np.testing.assert_array_equal(distance, by_hand.min(1))
    np.testing.assert_array_equal(index, by_hand.argmin(1))
    # Two processes hash exactly as one.
    np.testing.assert_array_equal(
        image_hashes(images[:300], CFG.hash, CFG.hash_size, 2, chunk=64), hashes
    )
    exact = exact_copies(images[[5, 7]], images[:300])
    assert exact.tolist() == [5, 7]


def test_clean_scores_equal_the_scores_computed_by_hand_on_the_subset(
    fer2013_frame: pd.DataFrame,
) -> None:
    test = fer2013_frame[fer2013_frame["Usage"] != "Training"]
    y_true = test["emotion"].to_numpy(np.int64)
    rng = np.random.default_rng(0)
    y_pred = np.where(rng.random(len(y_true)) < 0.6, y_true, rng.integers(0, 7, len(y_true)))
    clean = rng.random(len(y_true)) > 0.2
    scores = score_predictions(y_true, y_pred, test["Usage"].to_numpy(str), 200, 7, clean=clean)
    assert scores.clean.n == clean.sum()
    assert scores.clean.accuracy == pytest.approx(np.mean(y_true[clean] == y_pred[clean]))
    assert scores.clean.macro_f1 == pytest.approx(
        f1_score(y_true[clean], y_pred[clean], average="macro", labels=range(7), zero_division=0)
    )
    # The subset's intervals: resampled from its rows alone, with seed + 3.
    alone = score_subset(y_true[clean], y_pred[clean], 200, 7 + 3)
    assert scores.clean.accuracy_ci95 == alone.accuracy_ci95
    assert scores.all.n == len(y_true)  # the full-test scores are unchanged
    assert score_predictions(y_true, y_pred, test["Usage"].to_numpy(str), 0).clean is None
    assert "clean" not in score_predictions(y_true, y_pred, np.full(len(y_true), "x")).to_json()


def test_clean_mask_aligns_on_row_id_and_rejects_a_stale_table(tmp_path: Path, planted) -> None:
    copies = planted["copies"]
    path = write_copies(copies, tmp_path / "copies.csv")
    order = np.random.default_rng(1).permutation(len(copies.row_id))
    np.testing.assert_array_equal(clean_mask(path, copies.row_id[order]), copies.clean[order])
    with pytest.raises(DataError, match=r"copies.csv: 1 of 2 test rows \(e.g. row_id 999999"):
        clean_mask(path, np.array([copies.row_id[0], 999_999]))
    assert clean_mask(tmp_path / "absent.csv", copies.row_id) is None  # warned, not scored


def test_threshold_beyond_the_hash_is_a_params_error() -> None:
    raw = merged_raw({"duplicates": {"hash_size": 8, "max_distance": 65}})
    with pytest.raises(ParamsError, match=r"duplicates: .*max_distance 65 exceeds the hash's 64"):
        parse_params(raw)


def test_the_stage_runs_on_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fer2013_sample_csv: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    params = make_params(tmp_path, {"data.path": str(fer2013_sample_csv)})
    ingest.run(params)
    metrics = stage_run(duplicates, params)
    table = pd.read_csv(paths.DUPLICATES_TABLE)
    test = read_faces(paths.ingested("test"))
    np.testing.assert_array_equal(table["row_id"], test.row_id)
    counts = metrics["counts"]
    assert counts["all"]["test"] == len(test)
    assert counts["all"]["clean"] == int((~table["exact_copy"] & ~table["near_copy"]).sum())
    for usage in ("PublicTest", "PrivateTest"):
        part = counts[usage]
        assert part["exact"] + part["near"] + part["clean"] == part["test"]
        assert part["test"] == int((test.usage == usage).sum())
    training = sum(len(read_faces(paths.ingested(s))) for s in ("train", "dev"))
    assert metrics["hash_bits"] == CFG.hash_size**2 and metrics["training_images"] == training
    assert paths.stage_metrics("duplicates").exists()


def test_evaluate_scores_the_clean_subset(store_workdir: Path) -> None:
    params = make_params(store_workdir, {"evaluate.n_boot": 50, "models.gnb.search.enabled": False})
    splits = {s: load_features(paths.FEATURES_DIR, s, "pixels") for s in ("train", "dev", "test")}
    rows = {s: load_rows(paths.FEATURES_DIR, s) for s in ("train", "dev", "test")}
    images = {s: x.reshape(-1, 48, 48).astype(np.uint8) for s, x in splits.items()}
    # Plant: the first five test images become copies of training images (table only).
    images["test"][:5] = images["train"][:5]
    copies = find_copies(
        images["test"],
        rows["test"]["row_id"].to_numpy(),
        rows["test"]["usage"].to_numpy(str),
        np.concatenate([images["train"], images["dev"]]),
        np.concatenate([rows["train"]["row_id"], rows["dev"]["row_id"]]),
        CFG.hash,
        CFG.hash_size,
        CFG.max_distance,
    )
    paths.DUPLICATES_DIR.mkdir(parents=True)
    write_copies(copies, paths.DUPLICATES_TABLE)
    stage_run(search, params, "gnb")  # skipped: the configured parameters
    stage_run(train, params, "gnb")
    metrics = stage_run(evaluate, params, "gnb")
    clean = metrics["test"]["clean"]
    assert clean["n"] == copies.clean.sum() <= len(copies.row_id) - 5
    predictions = pd.read_csv(paths.confusion("gnb"))
    right = (predictions["actual"] == predictions["predicted"]).to_numpy()
    assert clean["accuracy"] == pytest.approx(right[copies.clean].mean())
