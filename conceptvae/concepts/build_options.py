"""The choices of a concept build, in one frozen object checked where it is made."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import ConceptError, param
from ..options import BUILD_BATCH_SIZE
from .labels import MIN_EXAMPLES
from .methods import check_method
from .stats import BOOTSTRAPS, PERMUTATIONS

SAMPLE_SIZE = 10000


@dataclass(frozen=True)
class BuildOptions:
    """What to build and how; see :func:`conceptvae.concepts.build.build_concepts`.

    ``attributes`` are 0/1 label columns (``all_attributes``: every one), built
    with ``method`` (a name of :mod:`conceptvae.concepts.methods`) and
    optionally made orthogonal to the concepts named in ``orthogonal_to``.
    ``classes`` is a multi-class column, ``pca`` a number of principal
    directions, ``morpho`` labels digit thickness and slant from the pixels,
    ``name`` renames a single attribute concept (or names the class set).
    Invalid combinations raise :class:`~conceptvae.errors.ConceptError` here.
    """

    attributes: tuple[str, ...] = ()
    all_attributes: bool = False
    method: str = "mean"
    orthogonal_to: tuple[str, ...] = ()
    classes: str | None = None
    pca: int = 0
    name: str | None = None
    morpho: bool = False
    replace: bool = False
    ignore_fingerprint: bool = False
    seed: int = 0
    batch_size: int = BUILD_BATCH_SIZE
    sample_size: int = SAMPLE_SIZE
    permutations: int = PERMUTATIONS
    bootstraps: int = BOOTSTRAPS
    backend: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(
            self, "orthogonal_to", tuple(o.strip() for o in self.orthogonal_to if o.strip())
        )
        self._check_choices()
        for knob, value, low in (
            ("batch size", self.batch_size, 1),
            ("sample size", self.sample_size, 2 * MIN_EXAMPLES),
            ("permutations", self.permutations, 1),
            ("bootstraps", self.bootstraps, 2),
        ):
            if value < low:
                raise ConceptError(f"{knob} must be at least {low}, got {value}")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def given(
        cls, options: BuildOptions | None, overrides: dict[str, Any], caller: str
    ) -> BuildOptions:
        """``options`` with keyword ``overrides`` of its fields (checked once, here)."""
        unknown = sorted(set(overrides) - set(cls.names()))
        if unknown:
            raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
        if options is None:
            return cls(**overrides)
        return dataclasses.replace(options, **overrides) if overrides else options

    def _check_choices(self) -> None:
        attributes, all_attributes, classes = self.attributes, self.all_attributes, self.classes
        pca, name, morpho = self.pca, self.name, self.morpho
        check_method(self.method)
        if attributes and all_attributes:
            raise ConceptError(
                f"give {param('attributes')} NAME or {param('all_attributes')}, not both"
            )
        if not (attributes or all_attributes or classes or pca or morpho):
            raise ConceptError(
                f"nothing to build: give {param('attributes')} NAME, {param('all_attributes')}, "
                f"{param('classes')} COLUMN, {param('pca')} K or {param('morpho')}"
            )
        if pca < 0:
            raise ConceptError(f"{param('pca')} must be positive, got {pca}")
        n_attr = len(dict.fromkeys(attributes)) or (2 if (all_attributes or morpho) else 0)
        if name is not None and not (n_attr == 1 or (n_attr == 0 and classes)):
            raise ConceptError(
                f"{param('name')} names a single attribute concept (or the class column with "
                f"{param('classes')} alone)"
            )
        if self.orthogonal_to and not (attributes or all_attributes or morpho):
            raise ConceptError(
                f"{param('orthogonal_to')} applies to attribute concepts; give "
                f"{param('attributes')} or {param('all_attributes')}"
            )
