"""Image folders and their labels: finding the files, parsing a labels CSV and label arrays."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..images import IMAGE_SUFFIXES

FILE_COLUMNS = ("file", "filename", "path", "image", "img")


def find_images(root: Path) -> list[Path]:
    """All image files under ``root``, recursively, in a stable (sorted) order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith("."):
                out.append(Path(dirpath) / f)
    return out


def read_labels_csv(csv_path: Path, root: Path) -> tuple[list[Path], dict[str, np.ndarray]]:
    """Parse a labels CSV: one file column plus label columns."""
    from ..readers import MAX_CSV_BYTES, read_bytes

    raw = read_bytes(csv_path, "labels file", MAX_CSV_BYTES, DataError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("labels file is not UTF-8 text", csv_path) from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise DataError(f"labels file is not valid CSV ({exc})", csv_path) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataError("labels file needs a header row and at least one data row", csv_path)
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    file_col = next((lowered.index(c) for c in FILE_COLUMNS if c in lowered), None)
    if file_col is None:
        raise DataError(
            f"labels file has no file column (one of {', '.join(FILE_COLUMNS)}); header is {','.join(header)}",
            csv_path,
        )
    if len(set(header)) != len(header):
        raise DataError("labels file has duplicate column names", csv_path)
    label_cols = [i for i in range(len(header)) if i != file_col]

    by_name: dict[str, list[Path]] | None = None
    paths: list[Path] = []
    seen: dict[str, int] = {}
    missing: list[str] = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(
                f"line {lineno} has {len(row)} fields, the header has {len(header)}", csv_path
            )
        name = row[file_col].strip()
        if not name:
            raise DataError(f"line {lineno} has an empty file name", csv_path)
        if name in seen:
            raise DataError(
                f"duplicate row for {name!r} (lines {seen[name]} and {lineno})", csv_path
            )
        seen[name] = lineno
        candidates = [root / name, csv_path.parent / name]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            if by_name is None:
                by_name = {}
                for p in find_images(root):
                    by_name.setdefault(p.name, []).append(p)
            match = by_name.get(Path(name).name, [])
            found = match[0] if len(match) == 1 else None
        if found is None:
            missing.append(name)
        paths.append(found if found is not None else root / name)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise DataError(
            f"{len(missing)} listed image(s) not found under {root}: {', '.join(missing[:3])}{more}",
            csv_path,
        )
    labels = {header[i]: _parse_label_column([r[i].strip() for r in rows[1:]]) for i in label_cols}
    return paths, labels


_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f", "-1"}


def _parse_label_column(values: list[str]) -> np.ndarray:
    """0/1-like values give an int8 attribute column (-1 unknown); anything else is classes."""
    known = [v.lower() for v in values if v != ""]
    if known and all(v in _TRUE | _FALSE for v in known):
        return np.array([-1 if v == "" else int(v.lower() in _TRUE) for v in values], np.int8)
    return np.array(values, dtype=str)



def class_labels(y: np.ndarray) -> np.ndarray:
    return (
        np.asarray(y).astype(np.int64).astype(str)
        if np.asarray(y).dtype.kind in "iu"
        else np.asarray(y).astype(str)
    )


def labels_from_y(y: np.ndarray | None, n: int, source: str) -> dict[str, np.ndarray]:
    if y is None:
        return {}
    y = np.asarray(y)
    if (
        y.ndim not in (1, 2)
        or y.dtype.kind not in "biufUS"
        or (y.ndim == 2 and y.dtype.kind in "US")
    ):
        raise DataError(
            f"labels must be 1-D (classes) or 2-D numeric (attributes), got {y.dtype} {y.shape}",
            source,
        )
    if len(y) != n:
        raise DataError(f"labels have {len(y)} rows but there are {n} images", source)
    if y.ndim == 1:
        return {"label": class_labels(y)}
    if y.ndim == 2:
        return {
            f"y{i}": _parse_label_column(
                [str(int(v)) if float(v).is_integer() else str(v) for v in y[:, i]]
            )
            for i in range(y.shape[1])
        }
    raise DataError(f"labels must be 1-D or 2-D, got shape {y.shape}", source)

