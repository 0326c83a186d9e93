"""How one CNN trains: the recipe the training loop follows (``cnn.<arch>`` in params.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum, cosine annealing per step, random crops and mirrors, optional
    fine-tuning on train + dev at a constant rate."""

    epochs: int
    batch_size: int
    lr: float  # cosine annealing, per step, from lr ...
    lr_min: float  # ... to lr_min at the last step
    momentum: float
    nesterov: bool
    weight_decay: float
    label_smoothing: float
    crop: int  # side of the random training crops (pixels); centre and 10-crop to test
    flip: bool  # random horizontal mirrors
    finetune_epochs: int  # then this many epochs on train + dev ...
    finetune_lr: float  # ... at this constant rate
    targets: str = "majority"  # models.cnn.targets.SCHEMES: what the loss trains on
    # Random zoom of each training crop by a factor in [1 - j, 1 + j] (0: none): a face
    # detector's box varies in scale from face to face, FER2013's registration does not.
    scale_jitter: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Recipe:
        """The recipe's fields taken from ``values`` (other keys, e.g. dropout, are ignored).

        Raises
        ------
        KeyError
            If a field of the recipe is missing from ``values``.
        """
        return cls(**{f.name: values[f.name] for f in fields(cls)})
