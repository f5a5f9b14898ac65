"""The concepts an edit names, parsed against a library."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..checks import check_amount
from ..concepts.expressions import split_amount
from ..errors import ConceptError, param

if TYPE_CHECKING:
    from ..concepts.expressions import Term
    from ..concepts.library import ConceptLibrary

ConceptsArg = str | Sequence[str] | Mapping[str, float]


@dataclass(frozen=True)
class ConceptArg:
    """One ``--concept``: the expression as written, its terms, and its amount if given."""

    expr: str
    terms: tuple[Term, ...]
    amount: float | None = None

    @property
    def label(self) -> str:
        return self.expr if self.amount is None else f"{self.expr}={self.amount:g}"


def concept_names(concepts: ConceptsArg) -> list[str]:
    """The expressions as written, for choosing the model that holds them."""
    return list(concepts) if not isinstance(concepts, str) else [concepts]


def parse_concepts(lib: ConceptLibrary, concepts: ConceptsArg) -> list[ConceptArg]:
    """Each item is ``EXPR`` or ``EXPR=AMOUNT``; a mapping gives ``{EXPR: AMOUNT}``."""
    if isinstance(concepts, Mapping):
        items = [(str(k), check_amount(v, f"amount of {k!r}")) for k, v in concepts.items()]
    else:
        if isinstance(concepts, str):
            concepts = [concepts]
        items = [_split_amount(lib, str(c)) for c in concepts]
    if not items:
        raise ConceptError("name at least one concept")
    return [ConceptArg(e, tuple(lib.parse(e)), a) for e, a in items]


def _split_amount(lib: ConceptLibrary, text: str) -> tuple[str, float | None]:
    expr, value = split_amount(text, lib.names())
    if value is None:
        return text, None
    if not expr:
        raise ConceptError(f"{param('concepts')} {text!r} has an amount but no concept")
    return expr, check_amount(value, f"amount in {param('concepts')} {text!r}")


def concept_slug(args: Sequence[ConceptArg]) -> str:
    """File-name-safe text for concepts: ``3->8`` -> ``3to8``, ``a+0.5*b`` -> ``a+0.5xb``."""
    parts = []
    for a in args:
        s = a.expr.replace("->", "to").replace("*", "x")
        s = re.sub(r"[\s'\"]", "", s)
        s = re.sub(r"[^\w.+=-]", "_", s)
        parts.append(s[:60] or "concept")
    return "_".join(parts)
