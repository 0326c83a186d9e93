"""Model cards: the train and cnn stages describe each trained model beside its weights.

A card (:class:`models.records.ModelCard`) holds what applying the model needs and where it came
from: feature parameters or the CNN's crop and normaliser, class names and label source, the data
source, the code's commit and version, and the model's dev score (what ``ferbench predict``
picks its default model by).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from features.names import stored_parts
from fer_data.atomic import atomic_path
from fer_data.faces import IMAGE_SIDE
from fer_data.logs import log_wrote
from fer_data.records import DataSource
from fer_data.version import ferbench_version
from models.records import (
    CnnSpec,
    DevScores,
    FeatureSpec,
    HogMultiSpec,
    HogSpec,
    LandmarkSpec,
    LbpSpec,
    ModelCard,
    ScoreKind,
    SiftSpec,
)
from pipeline import paths
from pipeline.params import FeatureParams
from reports.summary import git_commit


def feature_spec(feature_set: str, features: FeatureParams) -> FeatureSpec:
    """The parameters of the feature columns a model of ``feature_set`` reads."""
    parts = stored_parts(feature_set)
    hog, lm = features.hog, features.landmarks
    return FeatureSpec(
        feature_set=feature_set,
        hog=HogSpec(
            orientations=hog.orientations,
            pixels_per_cell=hog.pixels_per_cell,
            cells_per_block=hog.cells_per_block,
        )
        if "hog" in parts
        else None,
        landmarks=LandmarkSpec(upscale=lm.upscale, normalise=lm.normalise, backend=lm.backend)
        if "landmarks" in parts
        else None,
        lbp=LbpSpec(**features.lbp.model_dump()) if "lbp" in parts else None,
        sift=SiftSpec(**features.sift.model_dump(), vocabulary=paths.SIFT_VOCABULARY.name)
        if "sift_bovw" in parts
        else None,
        hog_multi=HogMultiSpec(**features.hog_multi.model_dump()) if "hog_multi" in parts else None,
    )


def _common(model: str, weights: Path) -> dict[str, Any]:
    # The label space the ingested data has (data.labels): FER2013's 7 emotions or FER+'s 8.
    data = DataSource.read(paths.SOURCE_FILE)
    return {
        "ferbench_version": ferbench_version(),
        "model": model,
        "weights": weights.name,
        "weights_bytes": weights.stat().st_size,
        "classes": list(data.classes),
        "label_source": data.label_source,
        "image_side": IMAGE_SIDE,
        "data": data,
        "commit": git_commit(Path("."), paths.GENERATED),
    }


def write_classical_card(
    model: str,
    features: FeatureParams,
    feature_set: str,
    params: dict[str, Any],
    augmentation: str,
    refit_on_dev: bool,
    train_rows: int,
    dev: DevScores | None,
    score_kind: ScoreKind,
) -> ModelCard:
    """The card of a saved classical pipeline (``score_kind``: what its per-class scores are).

    A ``sift_bovw`` model gets a copy of the feature store's vocabulary beside its weights, so
    that its directory alone re-encodes new faces with the words it was trained on.
    """
    if "sift_bovw" in stored_parts(feature_set):
        target = paths.model_vocabulary(model)
        with atomic_path(target) as tmp:
            shutil.copyfile(paths.SIFT_VOCABULARY, tmp)
        log_wrote(target)
    card = ModelCard(
        **_common(model, paths.model_file(model)),
        kind="classical",
        score_kind=score_kind,
        features=feature_spec(feature_set, features),
        params=params,
        augmentation=augmentation,
        refit_on_dev=refit_on_dev,
        train_rows=train_rows,
        dev=dev,
    )
    log_wrote(card.write(paths.model_card(model)))
    return card


def write_cnn_card(
    model: str,
    cnn: CnnSpec,
    recipe: dict[str, Any],
    augmentation: str,
    train_rows: int,
    dev: DevScores,
) -> ModelCard:
    """The card of a saved CNN (softmax probabilities)."""
    card = ModelCard(
        **_common(model, paths.cnn_weights(model)),
        kind="cnn",
        score_kind="probability",
        cnn=cnn,
        params=recipe,
        augmentation=augmentation,
        refit_on_dev=recipe.get("finetune_epochs", 0) > 0,
        train_rows=train_rows,
        dev=dev,
    )
    log_wrote(card.write(paths.model_card(model)))
    return card
