"""The label columns of a build: which are 0/1 attributes, which are classes, each
checked with the file it came from named in the error."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import Dataset, FolderDataset
from ..errors import ConceptError, DataError, param
from .expressions import check_name

MIN_EXAMPLES = 5  # of each side of an attribute, and of each class


def label_source(dataset: Dataset) -> str:
    if isinstance(dataset, FolderDataset) and dataset.labels_file is not None:
        return str(dataset.labels_file)
    return dataset.name


def as_binary(col: np.ndarray) -> np.ndarray | None:
    """int8 0/1/-1 for an attribute column, or a class column whose values are all 0/1."""
    if col.dtype.kind in "iub":
        return col.astype(np.int8)
    values = set(np.unique(col).tolist()) - {""}
    if values and values <= {"0", "1"}:
        return np.where(col == "1", 1, np.where(col == "0", 0, -1)).astype(np.int8)
    return None


def attribute_columns(columns: dict[str, np.ndarray]) -> list[str]:
    return [c for c, v in columns.items() if as_binary(v) is not None]


def attribute_column(columns: dict[str, np.ndarray], col: str, source: str) -> np.ndarray:
    if col not in columns:
        have = ", ".join(columns) or "none"
        raise DataError(f"no label column {col!r} (columns: {have})", source)
    y = as_binary(columns[col])
    if y is None:
        values = sorted(set(np.unique(columns[col]).tolist()) - {""})
        shown = ", ".join(values[:4]) + (", ..." if len(values) > 4 else "")
        raise DataError(
            f"column {col!r} is not a 0/1 attribute (values: {shown}); "
            f"use {param('classes')} {col} for one concept per value",
            source,
        )
    return y


def class_column(columns: dict[str, np.ndarray], col: str, source: str) -> np.ndarray:
    if col not in columns:
        have = ", ".join(columns) or "none"
        raise DataError(f"no label column {col!r} (columns: {have})", source)
    raw = columns[col]
    labels = raw.astype(np.int64).astype(str) if raw.dtype.kind in "iub" else raw.astype(str)
    if raw.dtype.kind in "iub":
        labels = np.where(raw < 0, "", labels)
    values, counts = np.unique(labels[labels != ""], return_counts=True)
    if len(values) < 2:
        only = f" ({values[0]!r})" if len(values) else ""
        raise DataError(f"column {col!r} has {len(values)} class{only}; need at least two", source)
    rare = [f"{v!r} ({c})" for v, c in zip(values.tolist(), counts.tolist()) if c < MIN_EXAMPLES]
    if rare:
        raise DataError(
            f"column {col!r}: class {', '.join(rare[:3])} has fewer than {MIN_EXAMPLES} examples",
            source,
        )
    for v in values.tolist():
        try:
            check_name(v, "class name")
        except ConceptError as exc:
            raise DataError(f"column {col!r}: {exc.raw}", source) from None
    return labels


def covariates_of(binary: dict[str, Any], names: list[str], idx: np.ndarray) -> np.ndarray:
    if not names:
        return np.zeros((len(idx), 0), np.int8)
    return np.stack([binary[n][idx] for n in names], 1)
