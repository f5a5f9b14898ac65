"""Which detector and landmark model find faces: two small protocols and their registry.

A detector proposes face candidates (:class:`Detection`: a box, six keypoints, a
score); a landmark model turns one candidate into the face mesh (468 points in
MediaPipe's face-mesh topology, see :mod:`.landmarks`, and a presence score).
Adding either is one module holding a class with that one method, plus one
entry below (``"module:Class"``, imported on first use) or a call of
:func:`register_detector` / :func:`register_landmark_model`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ConceptVAEError, param

if TYPE_CHECKING:
    from PIL import Image

    from .landmarks import Mesh


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    keypoints: np.ndarray  # (6, 2) image pixels, order detect.KEYPOINTS (eyes first)
    score: float


class Detector(Protocol):
    def detect(self, im: Image.Image, padding: float) -> list[Detection]:
        """Candidates in an RGB image, best first; ``padding`` (a fraction of the
        longer side) is a black border to see around it (a face filling the frame)."""
        ...


class LandmarkModel(Protocol):
    min_presence: float  # below this presence a mesh is no face

    def landmarks(self, im: Image.Image, det: Detection) -> Mesh:
        """The face mesh of the face a detection found."""
        ...


DEFAULT_DETECTOR = "blazeface"
DEFAULT_LANDMARKS = "face_mesh"
# name -> "module:Class" (imported on first use) or a factory.
DETECTORS: dict[str, str | Callable[[], Detector]] = {
    "blazeface": "conceptvae.faces.detect:BlazeFace",
}
LANDMARK_MODELS: dict[str, str | Callable[[], LandmarkModel]] = {
    "face_mesh": "conceptvae.faces.landmarks:FaceMesh",
}
_MADE: dict[tuple[str, str], Any] = {}


def register_detector(name: str, factory: str | Callable[[], Detector]) -> None:
    DETECTORS[name] = factory
    _MADE.pop(("detector", name), None)


def register_landmark_model(name: str, factory: str | Callable[[], LandmarkModel]) -> None:
    LANDMARK_MODELS[name] = factory
    _MADE.pop(("landmarks", name), None)


def detector(name: str = DEFAULT_DETECTOR) -> Detector:
    return _make("detector", DETECTORS, name)


def landmark_model(name: str = DEFAULT_LANDMARKS) -> LandmarkModel:
    return _make("landmarks", LANDMARK_MODELS, name)


def _make(kind: str, table: dict[str, Any], name: str) -> Any:  # noqa: ANN401
    made = _MADE.get((kind, name))
    if made is not None:
        return made
    factory = table.get(name)
    if factory is None:
        raise ConceptVAEError(f"{param(kind)}: no {name!r} (known: {', '.join(sorted(table))})")
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    made = _MADE[(kind, name)] = factory()
    return made
