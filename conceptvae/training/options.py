"""What a training run is: its options' defaults, its result, its interruption.

The options themselves are :class:`conceptvae.config.TrainOptions` (validated
where they are read); a run's record is that plus the data and labels paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainOptions, VAEConfig
from ..errors import ConceptVAEError

TRAIN_DEFAULTS: dict[str, Any] = {
    k: v for k, v in TrainOptions().to_dict().items() if k not in ("image_size", "channels")
}


class TrainingInterrupted(ConceptVAEError):
    """Ctrl-C during training; the last finished epoch is saved and resumable."""


@dataclass
class TrainResult:
    path: Path
    config: VAEConfig
    history: dict[str, list[float]]
    metrics: dict[str, float] = field(default_factory=dict)
    chief: bool = True  # False on the other workers of a multi-worker run: they write nothing


__all__ = ["TRAIN_DEFAULTS", "TrainOptions", "TrainResult", "TrainingInterrupted"]
