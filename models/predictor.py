"""Apply a trained model: load its directory, predict emotions of faces or of whole images.

A trained model's directory (``artifacts/models/<model>/``) holds its weights and a model card
(:class:`models.records.ModelCard`, ``model_card.json``) that says how to feed it: the feature
parameters of a classical model, the crop and normaliser of a CNN, the class names. Nothing else
is read, so a directory copied elsewhere works the same. For notebooks::

    from models.predictor import load_model
    from features.detect import HaarDetector

    model = load_model("artifacts/models/svm")
    result = model.predict_faces(faces)            # faces: uint8 (n, 48, 48), 0-255
    result.emotions, result.scores                 # names (n,), float32 (n, n_classes)
    for face in model.predict_image(image, HaarDetector(), margin=0.2, channels="rgb"):
        print(face.box, face.emotion, face.scores)

``scores`` are probabilities (``predict_proba``, or the CNN's softmax) where the model has them;
the RBF-SVM has none, and its scores are scikit-learn's ``ovr`` decision values (one-vs-one votes
plus squashed confidences, largest = predicted class); ``model.score_kind`` says which.
"""

from __future__ import annotations

import os

from models.openmp import openmp_wait_settings

# Read by torch's OpenMP runtime when torch loads (lazily, below): idle threads spin briefly, then
# sleep. On 2 busy cores, libgomp's default long spin made one Mini-Xception face take 1.36 s
# instead of 48 ms with no spin at all (measured; models/openmp.py). A user's value wins.
os.environ.update(openmp_wait_settings())

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import joblib
import numpy as np

from features.crop import CropViews, crop_face, crop_views, to_gray
from features.detect import Box, DetectorChain, FaceDetector, found_by
from features.names import stored_parts
from features.sets import (
    FeatureConfig,
    HogConfig,
    HogMultiConfig,
    LandmarkConfig,
    LbpConfig,
    compute_set,
)
from features.sift import BovwConfig
from features.store import load_vocabulary
from fer_data.errors import DataError
from fer_data.records import RecordError
from fer_data.version import ferbench_version
from models.records import ModelCard


@dataclass(frozen=True)
class Prediction:
    """Predictions for n faces: ``labels`` int64 (n,) indexes into ``classes``; ``scores``
    float32 (n, len(classes)) are per-class probabilities or decision values (``score_kind``)."""

    labels: np.ndarray
    scores: np.ndarray
    classes: tuple[str, ...]
    score_kind: str

    @property
    def emotions(self) -> list[str]:
        return [self.classes[i] for i in self.labels]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class FaceResult:
    """One face found in an image: its box, the 48x48 crop the model saw, and the prediction."""

    box: Box
    face: np.ndarray  # uint8 (48, 48)
    emotion: str
    label: int
    scores: np.ndarray  # float32 (n_classes,)


def check_faces(faces: np.ndarray, side: int) -> np.ndarray:
    """``faces`` as a C-contiguous uint8 (n, side, side) array (one (side, side) face is n = 1).

    Raises
    ------
    ValueError
        Wrong dtype or shape: faces must be grayscale uint8 in 0-255, already cropped and
        resized (see :func:`features.crop.crop_face`).
    """
    faces = np.asarray(faces)
    if faces.ndim == 2:
        faces = faces[None]
    if faces.dtype != np.uint8 or faces.ndim != 3 or faces.shape[1:] != (side, side):
        raise ValueError(
            f"faces must be uint8 grayscale of shape (n, {side}, {side}) with values 0-255, "
            f"got {faces.dtype} of shape {faces.shape}"
        )
    return np.ascontiguousarray(faces)


class Predictor:
    """A loaded model: :meth:`predict_faces` on cropped faces, :meth:`predict_image` on images."""

    def __init__(self, card: ModelCard, directory: Path) -> None:
        self.card = card
        self.directory = directory

    @property
    def name(self) -> str:
        return self.card.model

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.card.classes)

    @property
    def score_kind(self) -> str:
        return self.card.score_kind

    @property
    def weights(self) -> Path:
        return self.directory / self.card.weights

    def _predict(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def predict_faces(self, faces: np.ndarray) -> Prediction:
        """Emotions of already cropped faces: uint8 (n, 48, 48) (or one (48, 48)), 0-255."""
        faces = check_faces(faces, self.card.image_side)
        if len(faces) == 0:
            empty = np.zeros((0, len(self.classes)), np.float32)
            return Prediction(np.zeros(0, np.int64), empty, self.classes, self.score_kind)
        labels, scores = self._predict(faces)
        return Prediction(
            np.asarray(labels, np.int64),
            np.asarray(scores, np.float32),
            self.classes,
            self.score_kind,
        )

    def predict_views(self, views: np.ndarray) -> Prediction:
        """Emotions of faces each read at several framings: uint8 (n, k, 48, 48), 0-255.

        The model scores all n * k crops; each face's scores are the mean over its k views
        (probabilities stay probabilities; the SVM's decision values are averaged as they are)
        and its label is the class of the largest mean score. With k = 1 this is
        :meth:`predict_faces`. Test-time augmentation over crops, as in Krizhevsky et al.,
        "ImageNet Classification with Deep Convolutional Neural Networks", NIPS 2012.
        """
        views = np.asarray(views)
        side = self.card.image_side
        if views.ndim != 4 or views.shape[2:] != (side, side):
            raise ValueError(
                f"views must be uint8 of shape (n, k, {side}, {side}), got {views.shape}"
            )
        n, k = views.shape[:2]
        if k == 1:
            return self.predict_faces(views[:, 0])
        each = self.predict_faces(views.reshape(n * k, side, side))
        scores = each.scores.reshape(n, k, -1).mean(axis=1)
        return Prediction(scores.argmax(axis=1), scores, self.classes, self.score_kind)

    def warm_up(self) -> float:
        """Load the weights and run one blank face (compiled kernels load too); seconds taken."""
        start = time.perf_counter()
        side = self.card.image_side
        self.predict_faces(np.full((1, side, side), 128, np.uint8))
        return time.perf_counter() - start

    def predict_image(
        self,
        image: np.ndarray,
        detector: FaceDetector | DetectorChain,
        margin: float | Mapping[str, float],
        channels: str = "bgr",
        views: CropViews = CropViews(),  # noqa: B008 (frozen, so one shared default is safe)
    ) -> list[FaceResult]:
        """Detect the faces of a whole image and predict each (largest face first).

        ``image``: uint8 (h, w) grayscale or (h, w, 3|4) colour in ``channels`` order;
        ``margin``: the crop margin (see :mod:`features.crop`; ``predict.<detector>.margin`` in
        params.yaml is the one chosen on dev), or one per detector name for a
        :class:`~features.detect.DetectorChain` (the margin of the detector that found the
        faces); ``views``: the framings each face is read at, scores averaged over them
        (:meth:`predict_views`; ``predict.jitter`` in params.yaml, what ``ferbench predict``
        uses on photos). An image with no face gives an empty list; ``FaceResult.face`` is the
        plain crop.
        """
        gray = to_gray(image, channels)
        boxes = detector.detect(gray)
        if not boxes:
            return []
        if isinstance(margin, Mapping):
            margin = margin[found_by(detector)]
        side = self.card.image_side
        faces = np.stack([crop_face(gray, box, margin, side) for box in boxes])
        result = self.predict_views(
            np.stack([crop_views(gray, box, margin, views, side) for box in boxes])
        )
        return [
            FaceResult(box, face, result.classes[label], int(label), scores)
            for box, face, label, scores in zip(
                boxes, faces, result.labels, result.scores, strict=True
            )
        ]


class ClassicalPredictor(Predictor):
    """A scikit-learn pipeline on the card's features (pixels, HOG, landmarks, LBP, ...)."""

    def __init__(self, card: ModelCard, directory: Path, n_jobs: int = 1) -> None:
        super().__init__(card, directory)
        self.n_jobs = n_jobs

    @cached_property
    def pipeline(self):  # -> sklearn.pipeline.Pipeline
        return joblib.load(self.weights)

    @cached_property
    def feature_config(self) -> FeatureConfig:
        """The card's feature settings (and its own copy of a sift_bovw vocabulary)."""
        spec = self.card.features
        sift, vocabulary = None, None
        if spec.sift is not None:
            values = spec.sift.model_dump(exclude={"vocabulary", "vocabulary_images"})
            sift = BovwConfig(**{**values, "pyramid": tuple(values["pyramid"])})
            path = self.directory / spec.sift.vocabulary
            try:
                vocabulary = load_vocabulary(path)
            except FileNotFoundError:
                raise DataError(
                    f"{self.directory}: the card names the SIFT vocabulary {spec.sift.vocabulary}, "
                    "which is missing; train the model again (dvc repro)"
                ) from None
        hm = spec.hog_multi
        return FeatureConfig(
            hog=HogConfig(**spec.hog.model_dump()) if spec.hog else None,
            landmarks=LandmarkConfig(**spec.landmarks.model_dump()) if spec.landmarks else None,
            lbp=LbpConfig(**spec.lbp.model_dump()) if spec.lbp else None,
            sift=sift,
            vocabulary=vocabulary,
            hog_multi=HogMultiConfig(hm.orientations, tuple(hm.pixels_per_cell), hm.cells_per_block)
            if hm
            else None,
        )

    def features(self, faces: np.ndarray) -> np.ndarray:
        """The model's input columns for uint8 (n, 48, 48) faces: float32 (n, d), computed as
        the features stage computes them (:func:`features.sets.compute_set`, the card's
        parameters, a sift_bovw model's own vocabulary)."""
        config = self.feature_config
        parts = [
            compute_set(name, faces, config, self.n_jobs).astype(np.float32, copy=False)
            for name in stored_parts(self.card.features.feature_set)
        ]
        return parts[0] if len(parts) == 1 else np.hstack(parts)

    def _predict(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pipeline = self.pipeline
        x = self.features(faces)
        if len(pipeline.steps) > 1:
            x = pipeline[:-1].transform(x)
        estimator = pipeline[-1]
        if hasattr(estimator, "pair_decisions"):  # compact SVM: one kernel pass for both
            decisions = estimator.pair_decisions(x)
            labels = estimator.classes_[estimator.votes(decisions).argmax(axis=1)]
            scores = estimator.ovr_scores(decisions)
        elif self.score_kind == "probability":
            labels, scores = estimator.predict(x), estimator.predict_proba(x)
        else:
            labels, scores = estimator.predict(x), estimator.decision_function(x)
        # Labels are the class codes; a class absent from training has no column: its
        # probability is 0, its decision value undefined (NaN).
        full = np.full(
            (len(x), len(self.classes)), 0.0 if self.score_kind == "probability" else np.nan
        )
        full[:, np.asarray(estimator.classes_, np.int64)] = scores
        return np.asarray(labels, np.int64), full


class CnnPredictor(Predictor):
    """A torch CNN on the card's crop and normaliser; softmax probabilities."""

    def __init__(self, card: ModelCard, directory: Path, views: str | None = None) -> None:
        super().__init__(card, directory)
        self.views = views or card.cnn.views

    @cached_property
    def _net(self):  # -> (torch.nn.Module, Normalizer, Runtime)
        import torch

        from models.cnn.data import Normalizer
        from models.cnn.device import Runtime
        from models.cnn.nets import build_net

        spec = self.card.cnn
        net = build_net(spec.arch, len(self.classes), spec.dropout)
        payload = torch.load(self.weights, map_location="cpu", weights_only=True)
        net.load_state_dict(payload["state_dict"])
        net.eval()
        runtime = Runtime(torch.device("cpu"), bf16=False, channels_last=False)
        return net, Normalizer(spec.mean, spec.std), runtime

    def _predict(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from models.cnn.infer import predict_logits

        net, norm, runtime = self._net
        images = torch.from_numpy(faces if faces.flags.writeable else faces.copy())
        ten = self.views == "ten_crop"
        logits = predict_logits(net, images, self.card.cnn.crop, norm, runtime, ten_crops=ten)
        probabilities = torch.softmax(logits, dim=1).numpy()
        return probabilities.argmax(axis=1), probabilities


def read_card(directory: str | os.PathLike[str]) -> ModelCard:
    """The card of the model in ``directory``, checked against this code's version.

    Raises
    ------
    DataError
        No such directory, no card in it (not a trained model, or one trained before model
        cards existed), an unreadable card, or a card written by another ferbench version.
    """
    directory = Path(directory)
    path = directory / ModelCard.FILE
    if not directory.is_dir():
        raise DataError(f"{directory}: no such model directory")
    if not path.exists():
        raise DataError(
            f"{directory}: no {ModelCard.FILE}: not a trained ferbench model, or one trained "
            "by a version without model cards; train it again (dvc repro)"
        )
    try:
        card = ModelCard.read(path)
    except RecordError as exc:
        raise DataError(str(exc)) from None
    if card.ferbench_version != ferbench_version():
        raise DataError(
            f"{path}: trained by ferbench {card.ferbench_version}, this is ferbench "
            f"{ferbench_version()}; train it again with this version (dvc repro) or use "
            f"ferbench {card.ferbench_version}"
        )
    if not (directory / card.weights).exists():
        raise DataError(f"{directory}: the card names {card.weights}, which is missing")
    return card


def load_model(directory: str | os.PathLike[str], n_jobs: int = 1) -> Predictor:
    """The trained model in ``directory`` (e.g. ``artifacts/models/svm``), ready to predict.

    ``n_jobs``: threads for the landmark features of classical models. Weights load on first
    use. Raises :class:`DataError` as :func:`read_card` does.
    """
    directory = Path(directory)
    card = read_card(directory)
    if card.kind == "cnn":
        return CnnPredictor(card, directory)
    return ClassicalPredictor(card, directory, n_jobs)
