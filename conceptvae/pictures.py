"""Pictures of a model: labelled sample sheets, latent grids and latent scatter plots.

Everything is drawn with Pillow (no plotting library): :func:`grid` walks a 2-D
slice of the latent space (the whole manifold, by normal quantiles, for a 2-D
latent; two concept or principal directions otherwise), :func:`scatter` plots
a dataset's latents coloured by a label column, with axes, ticks and a legend
(PCA or t-SNE from scikit-learn when the latent has more than 2 dimensions).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import ConceptVAEError
from .images import array_to_pil, check_image_suffix, save_pil
from .model.loaded import VAEModel
from .outputs import check_writable_parent, refuse_overwriting_inputs
from .sequences import KeySpec, keyframe_latents, load_sequence_model, parse_key

# progress(done, total, stage): "encoding", then "t-SNE".
Progress = Callable[[int, int, str], None]

INK = (34, 34, 34)
MUTED = (120, 120, 120)
RULE = (225, 225, 225)
WHITE = (255, 255, 255)
# Tableau's 20 colours, strong ones first: distinguishable and colour-blind friendlier.
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (127, 127, 127),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (219, 219, 141), (158, 218, 229), (199, 199, 199),
]  # fmt: skip
UNLABELLED = (190, 190, 190)
MAX_GRID = 50
MAX_SPAN = 10.0
GRID_QUANTILES = (0.05, 0.95)
_LATENT_AXIS = re.compile(r"z(\d+)")


def _font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _width(font: ImageFont.ImageFont, text: str) -> int:
    box = font.getbbox(text)
    return int(box[2] - box[0])


def _fmt(v: float) -> str:
    text = f"{v:+.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("+0", "-0") else text


# -- a labelled sheet of tiles ---------------------------------------------------------


def sheet(
    images: np.ndarray,
    ncols: int,
    cell: int | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    x_caption: str | None = None,
    y_caption: str | None = None,
    pad: int = 2,
) -> Image.Image:
    """Tiles row by row with tick labels left of rows and under columns, axis captions
    and a title; the canvas widens to fit its text, and column labels that would
    collide are thinned out."""
    font = _font(12)
    tiles = [array_to_pil(im, cell) for im in np.asarray(images)]
    w, h = tiles[0].size
    nrows = -(-len(tiles) // ncols)
    rl = list(row_labels or [])
    cl = list(col_labels or [])
    left = (max((_width(font, s) for s in rl), default=0) + 8) if rl else 0
    left += 16 if y_caption else 0
    top = 22 if title else pad
    bottom = (16 if cl else 0) + (16 if x_caption else 0)
    grid_w = ncols * (w + pad) + pad
    width = max(left + grid_w + pad, (_width(font, title) + 12) if title else 0)
    height = top + nrows * (h + pad) + pad + bottom
    canvas = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(canvas)
    x0 = left + (width - left - grid_w) // 2
    if title:
        draw.text((6, 5), title, fill=INK, font=font)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        canvas.paste(tile.convert("RGB"), (x0 + pad + c * (w + pad), top + pad + r * (h + pad)))
    for r, label in enumerate(rl[:nrows]):
        y = top + pad + r * (h + pad) + h // 2 - 6
        draw.text((left - 4 - _width(font, label), y), label, fill=MUTED, font=font)
    if cl:
        # Show every k-th label so neighbours never overlap.
        widest = max(_width(font, s) for s in cl) + 6
        step = max(1, math.ceil(widest / (w + pad)))
        y = top + nrows * (h + pad) + pad + 1
        for c, label in enumerate(cl[:ncols]):
            if c % step == 0:
                cx = x0 + pad + c * (w + pad) + w // 2
                draw.text((cx - _width(font, label) // 2, y), label, fill=MUTED, font=font)
    if x_caption:
        y = height - 15
        draw.text((x0 + grid_w // 2 - _width(font, x_caption) // 2, y), x_caption, fill=INK,
                  font=font)  # fmt: skip
    if y_caption:
        tw = _width(font, y_caption) + 4
        label = Image.new("RGB", (tw, 14), WHITE)
        ImageDraw.Draw(label).text((2, 0), y_caption, fill=INK, font=font)
        label = label.rotate(90, expand=True)
        y = top + (nrows * (h + pad)) // 2 - label.size[1] // 2
        canvas.paste(label, (1, max(top, y)))
    return canvas


def sample_sheet(
    images: np.ndarray,
    seed: int | None = None,
    temperature: float = 1.0,
    cell: int | None = None,
) -> Image.Image:
    """A grid of prior samples; rows are labelled with the index of their first sample
    (the numbers ``sample --no-grid`` puts in its file names)."""
    n = len(images)
    ncols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // ncols)
    title = f"{n} samples, seed {seed}, temperature {temperature:g}" if seed is not None else None
    labels = [str(r * ncols) for r in range(rows)] if rows > 1 else None
    return sheet(images, ncols, cell=cell, title=title, row_labels=labels)


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


def _concept_axes(axes: Sequence[str] | None) -> list[str]:
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
    n = _check_grid_n(n)
    span = _check_span(span)
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
        raise ConceptVAEError(f"--axes takes two names separated by a comma, got {axes!r}")
    z0 = np.zeros(d, np.float32)
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
                f"this model's latent has {d} dimensions: name two axes with --axes A,B "
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
    m = load_sequence_model(model, concepts=_concept_axes(axes))
    z, labels = grid_latents(m, n, axes, span, center)
    images = m.decode(z)
    return sheet(
        images, int(np.sqrt(len(z))), cell=cell or max(m.config.image_size, 48),
        title=labels["title"], row_labels=labels["rows"], col_labels=labels["cols"],
        x_caption=labels["x"], y_caption=labels["y"],
    )  # fmt: skip


def _check_grid_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_GRID:
        raise ConceptVAEError(
            f"-n (cells per side) must be a whole number from 2 to {MAX_GRID}, got {n!r}"
        )
    return int(n)


def _check_span(span: object) -> float:
    if (
        isinstance(span, bool)
        or not isinstance(span, (int, float, np.floating))
        or not math.isfinite(float(span))
        or not 0 < float(span) <= MAX_SPAN
    ):
        raise ConceptVAEError(
            f"--span must be a finite number above 0 and at most {MAX_SPAN:g}, got {span!r}"
        )
    return float(span)


def _check_picture_out(out: str | os.PathLike, inputs: Sequence[str | os.PathLike] = ()) -> Path:
    out = Path(out)
    check_image_suffix(out)
    check_writable_parent(out)
    refuse_overwriting_inputs([out], list(inputs), overwrite=False, offer_overwrite=False)
    return out


def grid_file(
    model: str | os.PathLike | VAEModel | None,
    out: str | os.PathLike,
    n: int = 9,
    axes: Sequence[str] | None = None,
    span: float = 2.0,
    center: KeySpec | None = None,
    cell: int | None = None,
    backend: str = "auto",
) -> Path:
    """``conceptvae grid``: write :func:`grid` to ``out``."""
    _check_grid_n(n)
    _check_span(span)
    inputs = []
    if center is not None and parse_key(center)[0] == "image":
        inputs.append(center)
    target = _check_picture_out(out, inputs)  # type: ignore[arg-type]
    m = load_sequence_model(model, backend, _concept_axes(axes))
    save_pil(grid(m, n, axes, span, center, cell), target)
    return target


# -- scatter: a dataset's latents, coloured by label ----------------------------------

METHODS = ("pca", "tsne")
MAX_POINTS = 100_000


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
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


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
    _check_scatter(method, max_points, width, height)
    m = load_sequence_model(model)
    z, cols, name = encode_dataset(m, data, labels, max_points, seed, progress)
    column = _choose_column(cols, color_by, os.fspath(data))
    xy, axis_names = project(z, method, seed, progress)
    if column is None:
        names, idx = [], np.full(len(z), -1)
    else:
        names, idx = _categories(cols[column], column)
    title = f"{Path(name).name}: {len(z)} latents" + (f" by {column}" if column else "")
    return plot_points(xy, idx, names, axis_names, title, width, height, seed)


def _check_scatter(method: str, max_points: object, width: object, height: object) -> None:
    if method not in METHODS:
        raise ConceptVAEError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    if (
        isinstance(max_points, bool)
        or not isinstance(max_points, int)
        or not 2 <= max_points <= MAX_POINTS
    ):
        raise ConceptVAEError(
            f"--max-points must be a whole number from 2 to {MAX_POINTS}, got {max_points!r}"
        )
    for opt, v in (("--width", width), ("--height", height)):
        if isinstance(v, bool) or not isinstance(v, int) or not 200 <= v <= 4000:
            raise ConceptVAEError(
                f"{opt} must be a whole number of pixels from 200 to 4000, got {v!r}"
            )


def _nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _tick_text(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-9 else "0"


def plot_points(
    xy: np.ndarray,
    category: np.ndarray,
    names: Sequence[str],
    axis_names: tuple[str, str],
    title: str,
    width: int = 800,
    height: int = 600,
    seed: int = 0,
) -> Image.Image:
    """Draw points (N, 2) coloured by ``category`` (index into ``names``, -1 unlabelled)."""
    s = 2  # drawn at twice the size and scaled down: smooth dots and lines
    font, small = _font(14 * s), _font(12 * s)
    # The 19 most common categories get colours; the rest share "other".
    counts = np.bincount(category[category >= 0], minlength=len(names))
    order = sorted(range(len(names)), key=lambda i: (-counts[i], i))[: len(PALETTE) - 1]
    shown = sorted(order) if len(names) <= len(PALETTE) - 1 else order
    colour = {i: PALETTE[k] for k, i in enumerate(shown)}
    legend = [(names[i], colour[i], int(counts[i])) for i in shown]
    other = int(sum(counts[i] for i in range(len(names)) if i not in colour))
    if other:
        legend.append(("other", MUTED, other))
    unlabelled = int((category < 0).sum())
    if unlabelled and names:
        legend.append(("unlabelled", UNLABELLED, unlabelled))
    entries = [f"{n} ({c})" for n, _, c in legend]
    legend_w = (max(_width(small, t) for t in entries) + 34 * s) if entries else 0
    left, right, top, bottom = 70 * s, 20 * s + legend_w, 40 * s, 56 * s
    W, H = width * s, height * s
    if W - left - right < 100 * s:
        raise ConceptVAEError("the legend leaves no room for the plot; raise --width")
    img = Image.new("RGB", (W, H), WHITE)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = left, top, W - right, H - bottom
    lo = xy.min(0)
    hi = xy.max(0)
    padding = np.maximum((hi - lo) * 0.05, 1e-6)
    lo, hi = lo - padding, hi + padding

    def px(p: np.ndarray) -> np.ndarray:
        return np.stack(
            [x0 + (p[:, 0] - lo[0]) / (hi[0] - lo[0]) * (x1 - x0),
             y1 - (p[:, 1] - lo[1]) / (hi[1] - lo[1]) * (y1 - y0)], 1)  # fmt: skip

    for t in _nice_ticks(lo[0], hi[0]):
        x = px(np.array([[t, lo[1]]]))[0, 0]
        d.line([(x, y0), (x, y1)], fill=RULE, width=s)
        d.line([(x, y1), (x, y1 + 5 * s)], fill=INK, width=s)
        label = _tick_text(t)
        d.text((x - _width(small, label) / 2, y1 + 8 * s), label, fill=INK, font=small)
    for t in _nice_ticks(lo[1], hi[1]):
        y = px(np.array([[lo[0], t]]))[0, 1]
        d.line([(x0, y), (x1, y)], fill=RULE, width=s)
        d.line([(x0 - 5 * s, y), (x0, y)], fill=INK, width=s)
        label = _tick_text(t)
        d.text((x0 - 8 * s - _width(small, label), y - 7 * s), label, fill=INK, font=small)
    d.rectangle([x0, y0, x1, y1], outline=INK, width=s)
    # Points in a seeded random order, so no class always hides another.
    pts = px(xy)
    r = (2.5 if len(xy) > 2000 else 3.5) * s
    for i in np.random.default_rng(seed).permutation(len(xy)):
        c = category[i]
        fill = colour.get(int(c), MUTED) if c >= 0 else UNLABELLED
        if not names:
            fill = PALETTE[0]
        x, y = pts[i]
        d.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    d.text((x0, 10 * s), title, fill=INK, font=font)
    xl, yl = axis_names
    d.text(((x0 + x1) / 2 - _width(font, xl) / 2, H - 26 * s), xl, fill=INK, font=font)
    if yl:
        tw = _width(font, yl) + 8 * s
        label = Image.new("RGB", (tw, 18 * s), WHITE)
        ImageDraw.Draw(label).text((4 * s, 0), yl, fill=INK, font=font)
        label = label.rotate(90, expand=True)
        img.paste(label, (8 * s, int((y0 + y1) / 2 - label.size[1] / 2)))
    lx, ly = x1 + 18 * s, y0
    for (_, fill, _), text in zip(legend, entries):
        d.ellipse([lx, ly + 3 * s, lx + 10 * s, ly + 13 * s], fill=fill)
        d.text((lx + 16 * s, ly), text, fill=INK, font=small)
        ly += 20 * s
    return img.resize((width, height), Image.LANCZOS)


def scatter_file(
    model: str | os.PathLike | VAEModel | None,
    data: str | os.PathLike,
    out: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    color_by: str | None = None,
    method: str = "pca",
    max_points: int = 2000,
    seed: int = 0,
    width: int = 800,
    height: int = 600,
    backend: str = "auto",
    progress: Progress | None = None,
) -> Path:
    """``conceptvae scatter``: write :func:`scatter` to ``out``."""
    _check_scatter(method, max_points, width, height)
    if seed < 0:
        raise ConceptVAEError(f"--seed must be a non-negative integer, got {seed}")
    target = _check_picture_out(out, [data])
    m = load_sequence_model(model, backend)
    pic = scatter(m, data, labels, color_by, method, max_points, seed, width, height, progress)
    save_pil(pic, target)
    return target
