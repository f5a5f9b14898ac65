"""``edit``, ``traverse``, ``analogy`` on files: plan, read, edit once, write."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..checks import check_amount, check_steps
from ..concepts.expressions import split_amount
from ..editing.analogies import analogy
from ..editing.concepts import ConceptArg, concept_slug, parse_concepts
from ..editing.editor import EditResult, edit
from ..editing.options import EditOptions, amounts_between
from ..editing.traversal import traverse
from ..errors import ConceptError, ConceptVAEError, param
from ..images import array_to_pil, check_image_suffix, save_pil
from ..options import MAX_ANALOGY_STEPS
from ..outputs import plan_outputs, refuse_overwriting_model, single_target
from ..resolve import other_holders, referenced_names, resolve_library, resolve_model
from .batch import Batch, Written, input_error
from .inputs import expand_inputs

__all__ = ["Batch", "Written", "analogy_file", "edit_files", "traverse_file"]


def edit_files(
    model: Any,
    inputs: Sequence[str | os.PathLike],
    concepts: Sequence[str],
    out: str | os.PathLike | None = None,
    *,
    options: EditOptions | None = None,
    sweep: Sequence[float] | np.ndarray | None = None,
    size: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **changes: Any,
) -> Batch:
    """One edited file per input, or one strip across the ``sweep`` amounts.

    Inputs are edited one at a time (a folder of large photographs never sits in
    memory at once), each written as soon as it is done. Of several inputs, one
    that cannot be edited (unreadable, no face found) is left out with its error
    in :attr:`Batch.skipped` and the others are still done; with a single input,
    or when the error is not an input's own, it is raised. ``progress(done,
    total)`` is called after each input.

    The edit's options are ``options`` (an :class:`EditOptions`) and/or its fields
    as keywords. A photograph given to a face model is written whole, at its own
    size, with its faces edited (``align``, ``face``: see
    :func:`conceptvae.editing.edit`)."""
    if not concepts:
        raise ConceptError(f"name at least one {param('concepts')}")
    # Options first, so a typo is reported before any file is looked at.
    opts = EditOptions.make(options, **changes)
    paths = expand_inputs(inputs)
    if sweep is not None:
        if opts.until is not None:
            raise ConceptVAEError(
                f"{param('sweep')} and {param('until')} do not go together: a sweep sets the "
                "amounts"
            )
        if opts.amount is not None:
            raise ConceptVAEError(f"{param('sweep')} sets the amounts; leave out {param('amount')}")
        values = np.asarray([check_amount(a, param("sweep")) for a in sweep], np.float64)
        check_steps(len(values), f"{param('sweep')} COUNT")
        return _strip_file(model, paths, concepts, values, out, kind="sweep", options=opts,
                           size=size, overwrite=overwrite)  # fmt: skip
    if opts.until is not None and opts.amount is not None:
        raise ConceptVAEError(
            f"{param('amount')} and {param('until')} do not go together: {param('until')} "
            "chooses the amount (give other concepts their own as EXPR=AMOUNT)"
        )
    tag = _name_tag(concepts, opts.amount_or_default, opts.until)
    # A JPEG photograph comes back as a JPEG (at quality 95, 4:4:4), not a PNG
    # several times its size, unless -o names the file.
    targets = plan_outputs(
        paths, out, default_name="{stem}_" + tag + "{suffix}", overwrite=overwrite, keep_jpeg=True
    )
    for t in targets:
        check_image_suffix(t)
    model = resolve_model(model, concepts, opts.backend)
    refuse_overwriting_model(targets, model)
    # The library once, and every concept checked, before the first input.
    lib = resolve_library(model, opts.library, opts.ignore_fingerprint)
    with _other_holders(model, concepts, opts.library):
        parse_concepts(lib, concepts)
    one = EditOptions.make(opts, library=lib)
    batch = Batch([])
    for k, (path, target) in enumerate(zip(paths, targets)):
        try:
            # uint8: the photograph as the file will hold it, never as floats.
            result = edit(model, [path], concepts, options=one, as_uint8=True)
        except ConceptVAEError as exc:
            if len(paths) == 1 or not input_error(exc, path):
                raise
            batch.skipped.append(exc)
        else:
            batch.written.append(_write_edit(result, target, size))
        if progress is not None:
            progress(k + 1, len(paths))
    return batch


def _write_edit(result: EditResult, target: Path, size: int | None) -> Written:
    photo = result.faces[0] is not None
    # A photograph keeps its own size (--size scales its longer side).
    im = _photo_pil(result.images[0], size) if photo else array_to_pil(result.images[0], size)
    save_pil(im, target, fast=photo)
    return Written(
        target,
        result.names[0],
        dict(zip(result.concepts, map(float, result.amounts[0]))),
        None if result.probability is None else float(result.probability[0]),
        bool(result.capped[0]) if result.capped is not None else False,
        result.faces[0],
    )


def _photo_pil(image: np.ndarray, size: int | None) -> Image.Image:
    im = array_to_pil(image)
    if size is not None and size != max(im.size):
        f = size / max(im.size)
        im = im.resize((max(1, round(im.size[0] * f)), max(1, round(im.size[1] * f))),
                       Image.LANCZOS)  # fmt: skip
    return im


def _name_tag(concepts: Sequence[str], amount: float, until: float | None) -> str:
    """``smile1.5``, ``smile1.5_thick-0.5``, ``3to8=1``, ``smile_p0.9``: safe in a file name."""
    parts = []
    for c in concepts:
        text, value = split_amount(str(c))
        if value is None or not text:
            value, text = None, str(c)
        slug = concept_slug([ConceptArg(text, ())])
        if until is not None and value is None:
            parts.append(f"{slug}_p{until:g}")
            continue
        # "pc1" + "2" would read as "pc12": a name ending in a digit gets an '='.
        sep = "=" if slug[-1:].isdigit() else ""
        parts.append(f"{slug}{sep}{(amount if value is None else value):g}")
    return "_".join(parts).replace("{", "(").replace("}", ")")


def traverse_file(
    model: Any,
    inputs: Sequence[str | os.PathLike],
    concepts: Sequence[str],
    range_: tuple[float, float] = (-3.0, 3.0),
    steps: int = 9,
    out: str | os.PathLike | None = None,
    *,
    options: EditOptions | None = None,
    size: int | None = None,
    overwrite: bool = False,
    **changes: Any,
) -> Batch:
    """One labelled strip, one row per input, across ``steps`` amounts in ``range_``.

    Of several inputs, one that cannot be used (unreadable, no face found) is
    left out of the strip, with its error in :attr:`Batch.skipped`."""
    start, stop = (check_amount(v, param("range")) for v in range_)
    values = amounts_between(start, stop, check_steps(steps))
    opts = EditOptions.make(options, **changes)
    paths = expand_inputs(inputs)
    return _strip_file(model, paths, concepts, values, out, kind="traverse", options=opts,
                       size=size, overwrite=overwrite)  # fmt: skip


def _strip_file(
    model: Any,
    paths: list[Path],
    concepts: Sequence[str],
    amounts: np.ndarray,
    out: str | os.PathLike | None,
    *,
    kind: str,
    options: EditOptions,
    size: int | None,
    overwrite: bool,
) -> Batch:
    slug = concept_slug([ConceptArg(str(c), ()) for c in concepts])
    default = f"{paths[0].stem}_{kind}_{slug}.png"
    target = single_target(out, default, paths, overwrite)
    model = resolve_model(model, concepts, options.backend)
    refuse_overwriting_model([target], model)
    skipped: list[ConceptVAEError] | None = [] if len(paths) > 1 else None
    try:
        with _other_holders(model, concepts, options.library):
            result = traverse(model, paths, concepts, amounts, size=size, options=options,
                              skipped=skipped)  # fmt: skip
    except ConceptVAEError:
        if skipped and len(skipped) == len(paths):
            return Batch([], skipped, 0)
        raise
    save_pil(result.picture, target)
    return Batch([Written(target, paths[0].stem, {})], skipped or [], len(result.names))


@contextlib.contextmanager
def _other_holders(model: Any, concepts: Sequence[str], library: Any) -> Iterator[None]:
    """An unknown concept that another model holds says which (``3->8`` on faces:
    the digits model holds 3, 8)."""
    try:
        yield
    except ConceptError as exc:
        if library is not None or not exc.raw.startswith("unknown concept"):
            raise
        hint = other_holders(referenced_names(concepts), model)
        if not hint:
            raise
        raise ConceptError(exc.raw.split(";")[0] + hint, exc.path) from None


def analogy_file(
    model: Any,
    a: str | os.PathLike,
    b: str | os.PathLike,
    c: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    steps: int = 3,
    size: int | None = None,
    overwrite: bool = False,
    backend: str = "auto",
) -> Written:
    """The J-diagram picture of D = C + (B - A)."""
    check_steps(steps, param("steps"), MAX_ANALOGY_STEPS)
    from ..shipped import example_path

    paths = [Path(example_path(x)) for x in (a, b, c)]
    default = f"analogy_{paths[0].stem}_{paths[1].stem}_{paths[2].stem}.png"
    target = single_target(out, default, paths, overwrite)
    model = resolve_model(model, (), backend)
    refuse_overwriting_model([target], model)
    result = analogy(model, *paths, steps=steps, size=size)
    save_pil(result.picture, target)
    return Written(target, paths[2].stem, {})
