"""Latent maps: pictures of a model's latent space, drawn by :mod:`conceptvae.render`.

:func:`grid` walks a 2-D
slice of the latent space (the whole manifold, by normal quantiles, for a 2-D
latent; two concept or principal directions otherwise), :func:`scatter` plots
a dataset's latents coloured by a label column, with axes, ticks and a legend
(PCA or t-SNE from scikit-learn when the latent has more than 2 dimensions).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np
from PIL import Image

from .checks import positive, whole
from .errors import ConceptVAEError, param
from .keyframes import KeySpec, keyframe_latents, parse_key
from .model.loaded import VAEModel
from .options import MAX_GRID, MAX_POINTS, MAX_SPAN, PLOT_PIXELS, PROJECTIONS
from .render import plot_points, sheet
from .resolve import resolve_model

# progress(done, total, stage): "encoding", then "t-SNE".
Progress = Callable[[int, int, str], None]

GRID_QUANTILES = (0.05, 0.95)
_LATENT_AXIS = re.compile(r"z(\d+)")


def _fmt(v: float) -> str:
    text = f"{v:+.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("+0", "-0") else text


# -- grid: a 2-D slice of the latent space --------------------------------------------


def _axis_vector(name: str, model: VAEModel, center: np.ndarray, lib: object) -> np.ndarray:
    """A concept (expression) of the library, or a raw latent axis z1..zD."""
    m = _LATENT_AXIS.fullmatch(name)
    if m and (lib is None or name not in lib) and 1 <= int(m.group(1)) <= model.latent_dim:  # type: ignore[operator]
        e = np.zeros(model.latent_dim, np.float32)
        e[int(m.group(1)) - 1] = 1.0
        return e
    if lib is None:
        raise ConceptVAEError(
            f"axis {name!r} is not a latent axis (z1..z{model.latent_dim}) and this model "
            "has no concept library; build one with `conceptvae concepts build`"
        )
    return lib.direction(name, center)  # type: ignore[attr-defined]


def concept_axes(axes: Sequence[str] | None) -> list[str]:
    """The axes that name concepts (they choose the default model)."""
    return [a for a in axes or () if not _LATENT_AXIS.fullmatch(a)]


def _open_library_for(model: VAEModel, names: Sequence[str]) -> object | None:
    """The model's concept library, when an axis is not a raw latent axis."""
    if all(_LATENT_AXIS.fullmatch(n) for n in names):  # z1..zD need no library
        return None
    from .concepts import open_library

    return open_library(model, ignore_fingerprint=None)


def grid_latents(
    model: VAEModel,
    n: int = 9,
    axes: Sequence[str] | None = None,
    span: float = 2.0,
    center: KeySpec | None = None,
) -> tuple[np.ndarray, dict]:
    """Latents (n*n, D) of the grid, row by row from the top, and its labels."""
    n = check_grid_n(n)
    span = check_span(span)
    d = model.latent_dim
    if axes is None and d == 2 and center is None:
        lo, hi = GRID_QUANTILES
        vals = np.array([NormalDist().inv_cdf(p) for p in np.linspace(lo, hi, n)], np.float32)
        xs, ys = np.meshgrid(vals, vals[::-1])
        z = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
        ticks = [_fmt(v) for v in vals]
        return z, {
            "title": f"latent manifold: normal quantiles {lo:.0%} to {hi:.0%}",
            "x": "z1", "y": "z2", "cols": ticks, "rows": ticks[::-1],
        }  # fmt: skip
    if axes is None:
        axes = ("pc1", "pc2")
    if len(axes) != 2 or not all(isinstance(a, str) and a.strip() for a in axes):
        raise ConceptVAEError(
            f"{param('axes')} takes two names separated by a comma, got {axes!r}"
        )
    z0 = np.zeros(d, np.float32) if model.prior is None else model.prior.mean
    where = "the prior mean"
    if center is not None:
        kind, value = parse_key(center)
        z0 = keyframe_latents(model, [center])[0]
        where = f"seed {value}" if kind == "seed" else Path(str(value)).name
    if tuple(axes) == ("pc1", "pc2"):
        from .concepts import open_library

        lib = open_library(model, ignore_fingerprint=None, missing_ok=True)
        if "pc1" not in lib or "pc2" not in lib:
            raise ConceptVAEError(
                f"this model's latent has {d} dimensions: name two axes with {param('axes')} A,B "
                f"(concepts, or latent axes z1..z{d}), or add principal directions pc1, pc2 "
                "with `conceptvae concepts build MODEL DATA --pca 2`"
            )
    else:
        lib = _open_library_for(model, axes)
    u = _axis_vector(axes[0], model, z0, lib)
    v = _axis_vector(axes[1], model, z0, lib)
    amounts = np.linspace(-span, span, n).astype(np.float32)
    ax, ay = np.meshgrid(amounts, amounts[::-1])
    z = z0[None] + ax.ravel()[:, None] * u[None] + ay.ravel()[:, None] * v[None]
    ticks = [_fmt(a) for a in amounts]
    return z.astype(np.float32), {
        "title": f"{axes[0]} across, {axes[1]} up, around {where}",
        "x": axes[0], "y": axes[1], "cols": ticks, "rows": ticks[::-1],
    }  # fmt: skip


def grid(
    model: str | os.PathLike | VAEModel | None,
    n: int = 9,
    axes: Sequence[str] | None = None,
    span: float = 2.0,
    center: KeySpec | None = None,
    cell: int | None = None,
) -> Image.Image:
    """An n x n picture of decoded latents on a 2-D slice, with labelled axes.

    For a 2-D latent (and no ``axes``/``center``) the slice is the whole manifold,
    z1 and z2 at normal quantiles 5%..95%. Otherwise the grid is ``center`` (an
    image, ``seed:N``, or the prior mean) plus amounts from -span to +span of two
    ``axes``: concept names or expressions from the model's library (default
    pc1, pc2) or raw latent axes z1..zD. Cells are ``cell`` pixels (default: the
    model's size, at least 48).
    """
    m = resolve_model(model, concept_axes(axes))
    z, labels = grid_latents(m, n, axes, span, center)
    images = m.decode(z)
    return sheet(
        images, int(np.sqrt(len(z))), cell=cell or max(m.config.image_size, 48),
        title=labels["title"], row_labels=labels["rows"], col_labels=labels["cols"],
        x_caption=labels["x"], y_caption=labels["y"],
    )  # fmt: skip


def check_grid_n(n: object) -> int:
    return whole(n, f"{param('n')} (cells per side)", 2, MAX_GRID)


def check_span(span: object) -> float:
    return positive(span, param("span"), MAX_SPAN)


# -- scatter: a dataset's latents, coloured by label ----------------------------------

METHODS = PROJECTIONS


def _categories(values: np.ndarray, column: str) -> tuple[list[str], np.ndarray]:
    """(names, index per point); unlabelled points get index -1."""
    if values.dtype.kind in "iub":  # an attribute column: 1, 0, -1 unknown
        names = [column, f"not {column}"]
        idx = np.where(values == 1, 0, np.where(values == 0, 1, -1))
        return names, idx
    vals = values.astype(str)
    present = sorted({v for v in vals if v != ""}, key=_natural)
    index = {v: i for i, v in enumerate(present)}
    return present, np.array([index.get(v, -1) for v in vals])


def _natural(s: str) -> tuple:
    return tuple(int(t) if t.isdecimal() else t for t in re.split(r"(\d+)", s))


def _choose_column(labels: dict[str, np.ndarray], column: str | None, source: str) -> str | None:
    if column is not None:
        if column not in labels:
            have = ", ".join(labels) or "none"
            raise ConceptVAEError(f"no label column {column!r} (columns: {have})", source)
        return column
    if not labels:
        return None
    classes = [c for c, v in labels.items() if v.dtype.kind in "US"]
    return classes[0] if classes else next(iter(labels))


def project(
    z: np.ndarray, method: str = "pca", seed: int = 0, progress: Progress | None = None
) -> tuple[np.ndarray, tuple[str, str]]:
    """2-D coordinates of latents and the axis names (identity for a 2-D latent);
    ``progress(done, total, "t-SNE")`` hears of t-SNE's iterations."""
    if method not in METHODS:
        raise ConceptVAEError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    if z.shape[1] == 1:
        return np.stack([z[:, 0], np.zeros(len(z))], 1), ("z1", "")
    if z.shape[1] == 2:
        return z.astype(np.float64), ("z1", "z2")
    if method == "pca" or len(z) < 4:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full").fit(z)
        r = pca.explained_variance_ratio_
        return pca.transform(z), (f"PC1 ({r[0]:.0%} of variance)", f"PC2 ({r[1]:.0%})")
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(z) - 1) / 3.0)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    if progress is None:
        return tsne.fit_transform(z.astype(np.float64)), ("t-SNE 1", "t-SNE 2")
    # t-SNE has no callback; at verbose=2 scikit-learn prints "[t-SNE] Iteration N: ..."
    # every 50 iterations, which become the progress bar.
    total = int(getattr(tsne, "max_iter", None) or 1000)
    tsne.set_params(verbose=2)
    with contextlib.redirect_stdout(_TSNEProgress(progress, total)):
        xy = tsne.fit_transform(z.astype(np.float64))
    progress(total, total, "t-SNE")
    return xy, ("t-SNE 1", "t-SNE 2")


class _TSNEProgress(io.TextIOBase):
    _ITERATION = re.compile(r"\[t-SNE\] Iteration (\d+):")

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total = progress, total

    def write(self, text: str) -> int:
        for m in self._ITERATION.finditer(text):
            self.progress(min(int(m.group(1)), self.total), self.total, "t-SNE")
        return len(text)


def encode_dataset(
    model: VAEModel,
    data: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    max_points: int = 2000,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """Posterior means of (a seeded sample of at most ``max_points``) images of ``data``;
    ``progress(done, total, "encoding")`` hears of each batch."""
    from .data import open_dataset

    ds = open_dataset(data, labels, model.config.image_size, model.config.channels)
    if len(ds) < 2:
        raise ConceptVAEError(f"a scatter plot needs at least 2 images, found {len(ds)}", data)
    idx = np.arange(len(ds))
    if len(ds) > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(len(ds), max_points, replace=False))
    parts = [np.zeros((0, model.latent_dim), np.float32)]
    for _, batch in ds.iter_batches(256, idx):
        parts.append(model.encode(batch.astype(np.float32) / 255.0))
        if progress:
            progress(sum(map(len, parts)), len(idx), "encoding")
    z = np.concatenate(parts)
    return z, {k: np.asarray(v)[idx] for k, v in ds.labels.items()}, ds.name


def scatter(
    model: str | os.PathLike | VAEModel | None,
    data: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    color_by: str | None = None,
    method: str = "pca",
    max_points: int = 2000,
    seed: int = 0,
    width: int = 800,
    height: int = 600,
    progress: Progress | None = None,
) -> Image.Image:
    """A scatter plot of ``data``'s latents coloured by a label column, with a legend.

    ``color_by`` defaults to the first class column (else the first attribute
    column); a latent of more than 2 dimensions is projected with ``method``
    (pca or tsne). At most ``max_points`` images (a seeded sample) are plotted.
    """
    check_scatter(method, max_points, width, height)
    m = resolve_model(model)
    z, cols, name = encode_dataset(m, data, labels, max_points, seed, progress)
    column = _choose_column(cols, color_by, os.fspath(data))
    xy, axis_names = project(z, method, seed, progress)
    if column is None:
        names, idx = [], np.full(len(z), -1)
    else:
        names, idx = _categories(cols[column], column)
    title = f"{Path(name).name}: {len(z)} latents" + (f" by {column}" if column else "")
    return plot_points(xy, idx, names, axis_names, title, width, height, seed)


def check_scatter(method: str, max_points: object, width: object, height: object) -> None:
    if method not in METHODS:
        raise ConceptVAEError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    whole(max_points, param("max_points"), 2, MAX_POINTS)
    for name, v in (("width", width), ("height", height)):
        whole(v, param(name), *PLOT_PIXELS, what="whole number of pixels")
