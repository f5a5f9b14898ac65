"""Where a command's results go: the naming rules shared by every command.

One input and ``-o FILE`` writes FILE; several inputs and ``-o DIR/`` (or an
existing directory) write ``DIR/<input stem>.png``. Output paths are planned
(and refused) before any work starts, and planning creates nothing: a missing
``DIR/`` is made only when the first result is written (by
:func:`conceptvae.io.atomic_path`), so a bad input or a failed model load never
leaves an empty output directory behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .errors import ConceptVAEError, param
from .images import check_image_suffix


def is_dir_target(out: str | os.PathLike) -> bool:
    s = os.fspath(out)
    return s.endswith(("/", os.sep)) or Path(s).is_dir()


def ensure_dir(path: Path) -> Path:
    """Create ``path`` now (prefer :func:`check_dir_creatable` while planning)."""
    check_dir_creatable(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConceptVAEError(f"cannot create output directory ({exc.strerror})", path) from None
    return path


def check_dir_creatable(path: Path) -> None:
    """Refuse a directory that neither exists (writable) nor could be created; create nothing."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConceptVAEError("is a file, not a directory, so it cannot hold the output", probe)
    if probe.exists() and not os.access(probe, os.W_OK):
        raise ConceptVAEError("output directory is not writable", probe)


def check_output_files(paths: Sequence[Path]) -> None:
    """Refuse, before the first is written, any planned output file that could not be
    written: a directory standing at its path, or a file where one of its folders
    should be. A command writing several files checks them all first, so it never
    stops halfway with some written."""
    checked: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            raise ConceptVAEError("is a directory, so the output file cannot be written", p)
        parent = p.parent if str(p.parent) else Path(".")
        if parent not in checked:
            check_dir_creatable(parent)
            checked.add(parent)


def check_writable_parent(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise ConceptVAEError("is a file, not a directory, so it cannot hold the output", parent)
    if not parent.is_dir():
        raise ConceptVAEError("output directory does not exist", parent)
    if not os.access(parent, os.W_OK):
        raise ConceptVAEError("output directory is not writable", parent)


def refuse_overwriting_inputs(
    outputs: Sequence[Path],
    inputs: Sequence[str | os.PathLike],
    overwrite: bool,
    offer_overwrite: bool = True,
) -> None:
    """Refuse an output that is one of the inputs; ``offer_overwrite`` when the command
    has an ``--overwrite`` to allow it."""
    if overwrite:
        return
    ins = {real_path(p) for p in inputs}
    for out in outputs:
        if real_path(out) in ins:
            raise ConceptVAEError(
                "output path is also an input; refusing"
                + (f" without {param('overwrite')}" if offer_overwrite else " to overwrite it"),
                out,
            )


def real_path(p: str | os.PathLike) -> str:
    """The path as the file system resolves it, for telling whether two paths are one file."""
    return os.path.normcase(os.path.realpath(os.fspath(p)))


JPEG_SUFFIXES = (".jpg", ".jpeg")


def plan_outputs(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None,
    suffix: str = ".png",
    default_name: str = "{stem}{suffix}",
    overwrite: bool = False,
    keep_jpeg: bool = False,
) -> list[Path]:
    """One output path per input, following the naming rules above; creates nothing.

    ``keep_jpeg``: a JPEG input's output (unless ``out`` names a file) is a JPEG
    with the input's suffix, not a ``suffix`` file."""
    stems = [Path(p).stem for p in inputs]
    suffixes = [
        Path(p).suffix if keep_jpeg and Path(p).suffix.lower() in JPEG_SUFFIXES else suffix
        for p in inputs
    ]
    dir_target = out is not None and is_dir_target(out)
    if out is None:
        paths = [Path(default_name.format(stem=s, suffix=x)) for s, x in zip(stems, suffixes)]
    elif dir_target:
        d = Path(out)
        check_dir_creatable(d)
        paths = [d / f"{s}{x}" for s, x in zip(stems, suffixes)]
    elif len(inputs) == 1:
        paths = [Path(out)]
    else:
        raise ConceptVAEError(
            f"{len(inputs)} inputs need a directory output (end it with '/'), not a file", out
        )
    seen: dict[Path, int] = {}
    for i, p in enumerate(paths):
        if p in seen:
            raise ConceptVAEError(
                f"inputs {inputs[seen[p]]} and {inputs[i]} would both be written to this file", p
            )
        seen[p] = i
    if not dir_target:
        for p in paths:
            check_writable_parent(p)
    check_output_files(paths)
    refuse_overwriting_inputs(paths, inputs, overwrite)
    return paths


def single_target(
    out: str | os.PathLike | None, default: str, inputs: Sequence[Path], overwrite: bool
) -> Path:
    """Where a one-picture command writes: ``-o FILE``, ``-o DIR/`` + default, or default."""
    if out is None:
        target = Path(default)
    elif is_dir_target(out):
        check_dir_creatable(Path(out))
        target = Path(out) / default
    else:
        target = Path(out)
    check_image_suffix(target)
    if out is None or not is_dir_target(out):
        check_writable_parent(target)
    check_output_files([target])
    refuse_overwriting_inputs([target], inputs, overwrite)
    return target


def picture_target(out: str | os.PathLike, inputs: Sequence[str | os.PathLike] = ()) -> Path:
    """A picture file that must be named (``grid``, ``scatter``): checked, not created."""
    out = Path(out)
    check_image_suffix(out)
    check_writable_parent(out)
    check_output_files([out])
    refuse_overwriting_inputs([out], list(inputs), overwrite=False, offer_overwrite=False)
    return out


def refuse_writing_into_data(
    outputs: Sequence[Path], data: Sequence[str | os.PathLike], overwrite: bool = False
) -> None:
    """Refuse outputs that are a data file, or that land inside a data folder: a picture
    written there would replace one of its images or join the data next time."""
    if overwrite:
        return
    for d in data:
        real = real_path(d)
        for out in outputs:
            o = real_path(out)
            if o == real:
                raise ConceptVAEError(
                    f"output path is also an input; refusing without {param('overwrite')}", out
                )
            if os.path.isdir(real) and os.path.commonpath([real, o]) == real:
                raise ConceptVAEError(
                    f"is inside the data folder {os.fspath(d)}; write the output elsewhere", out
                )


def refuse_overwriting_model(outputs: Sequence[str | os.PathLike], model: object) -> None:
    """Outputs never replace a file of the model the command runs on (its checkpoint,
    preview, concept library, weights...): no --overwrite makes that a good idea."""
    path = getattr(model, "path", None)
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        files = [f for f in p.iterdir() if f.is_file()] + [p / "concepts.h5"]
    else:  # a .keras file and the library beside it
        files = [p, p.with_name(p.stem + ".concepts.h5")]
    taken = {real_path(f) for f in files}
    for out in outputs:
        if real_path(out) in taken:
            raise ConceptVAEError(
                "is a file of the model this command runs on; write the output elsewhere", out
            )
