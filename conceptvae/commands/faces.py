"""``faces`` and ``align-faces`` on files: list and draw faces; aligned training crops.

``faces_files`` lists the faces of photographs (and draws them); ``align_folder``
turns a folder of photographs into aligned face crops for training a face model
of your own, with ``face_alignment.json`` beside them: training on that folder
records the alignment in the model's ``meta.json``, so the model finds, aligns
and pastes back faces exactly as the shipped faces model does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..errors import ConceptVAEError, DataError, param
from ..faces.align import ALIGNMENT_FILE, META_KEY, SMILES_ALIGNMENT, FaceAlignment, align
from ..faces.find import Face, find_faces
from ..faces.inputs import check_face_choice, choose
from ..io import atomic_path, atomic_write_json
from ..outputs import check_dir_creatable, plan_outputs, real_path
from .batch import input_error
from .inputs import expand_inputs


@dataclass
class FacesReport:
    path: Path
    size: tuple[int, int]
    faces: list[Face]
    overlay: Path | None = None

    def to_list(self) -> list[dict]:
        return [f.to_dict() for f in self.faces]


def faces_files(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    padding: float = SMILES_ALIGNMENT.detect_padding,
    skipped: list[ConceptVAEError] | None = None,
) -> list[FacesReport]:
    """Find the faces of each photograph; with ``out``, draw them (one overlay per
    input: ``-o FILE`` for one input, ``-o DIR/`` for several). A photograph with
    no face is an error, raised before anything is written; of several, with a
    ``skipped`` list, it is left out and its error appended there."""
    from ..images import load_pil, save_pil

    paths = expand_inputs(inputs)
    targets = plan_outputs(paths, out, overwrite=overwrite) if out is not None else None
    if targets is not None:
        from ..images import check_image_suffix

        for t in targets:
            check_image_suffix(t)
    # One photograph in memory at a time, however many there are: every photo is
    # searched first (a photo without a face is refused before anything is
    # written), then each drawn photo is decoded again for its overlay.
    reports = []
    plan = dict(zip(paths, targets or [None] * len(paths)))
    for p in paths:
        try:
            im = load_pil(p)
            faces = find_faces(im, padding=padding)
            if not faces:
                raise DataError("no face found", p)
        except ConceptVAEError as exc:
            if skipped is None or len(paths) == 1 or not input_error(exc, p):
                raise
            skipped.append(exc)
            continue
        reports.append(FacesReport(p, im.size, faces))
        del im
    if targets is not None:
        from ..faces.overlay import draw_faces

        for r, t in ((r, plan[r.path]) for r in reports):
            save_pil(draw_faces(load_pil(r.path), r.faces, copy=False), t)
            r.overlay = t
    return reports


@dataclass
class AlignSummary:
    out: Path
    written: int  # crop files written
    faces: int  # faces found in the photographs used
    skipped: list[Path]  # photographs without a face
    alignment: FaceAlignment
    failed: list[DataError] = field(default_factory=list)  # unreadable, or too few faces


# Crops of the first pass are kept for the writing pass up to this many bytes;
# beyond it a photograph is decoded again, so memory never grows with the folder.
KEEP_CROP_BYTES = 64 << 20
CROP_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class _Planned:
    photo: Path
    faces: list[Face]
    targets: list[Path]
    crops: list[Image.Image] | None


def align_folder(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    size: int = 64,
    face: str | int = "largest",
    alignment: FaceAlignment = SMILES_ALIGNMENT,
    grayscale: bool = False,
    overwrite: bool = False,
) -> AlignSummary:
    """Aligned ``size`` x ``size`` crops of the faces in every image under ``src``.

    ``face="largest"`` (or a number) writes one crop per photograph at the same
    relative path and name, so a labels CSV keeps working (``labels.csv`` in
    ``src`` is copied); ``face="all"`` writes ``<stem>-<k>.png`` per face.
    Photographs with no face are skipped and listed; an unreadable photograph,
    or one with fewer faces than the number asked for, is listed in ``failed``
    and the others are still done. ``face_alignment.json`` in ``out`` records
    the template: ``conceptvae train OUT`` writes it into the model's
    meta.json, which makes the model a face model.

    Every photograph is read (one at a time) and every output planned before
    the first is written: two outputs never share a name, a photograph is
    never replaced, and an existing file in ``out`` (a crop, ``labels.csv``,
    ``face_alignment.json``) is replaced only with ``overwrite``.
    """
    from ..data import find_images

    src, out = Path(src), Path(out)
    choice = _check_request(src, out, size, face)
    files = find_images(src)
    if not files:
        raise DataError("folder holds no images", src)
    target_alignment = alignment.scaled(int(size))
    read = _read_photos(files, src, out, choice, target_alignment, grayscale)
    labels = src / "labels.csv"
    copy_labels = labels.is_file() and choice != "all"
    _check_targets(read, files, labels, copy_labels, out, overwrite)
    written = _write_crops(read, target_alignment, grayscale)
    if copy_labels:
        with atomic_path(out / "labels.csv") as tmp:
            shutil.copyfile(labels, tmp)
    atomic_write_json(out / ALIGNMENT_FILE, {META_KEY: target_alignment.to_meta()})
    return AlignSummary(
        out, written, read.faces_seen, read.skipped, target_alignment, read.failed
    )


def _check_request(src: Path, out: Path, size: int, face: str | int) -> str | int:
    """The face choice, once the folders and the size are known to make sense."""
    if not src.is_dir():
        raise DataError("not a folder of images", src)
    if not 8 <= int(size) <= 1024:
        raise ConceptVAEError(f"{param('size')} must be from 8 to 1024, got {size}")
    choice = check_face_choice(face)
    if out.exists() and not out.is_dir():
        raise ConceptVAEError("is a file, not a directory, so it cannot hold the output", out)
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise ConceptVAEError("write the crops outside the photographs' folder", out)
    check_dir_creatable(out)
    return choice


@dataclass
class _Read:
    """The first pass over the photographs."""

    planned: list[_Planned] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[DataError] = field(default_factory=list)
    faces_seen: int = 0


def _crops_of(
    im: Image.Image, faces: list[Face], alignment: FaceAlignment, grayscale: bool
) -> list[Image.Image]:
    crops = []
    for fc in faces:
        crop = Image.fromarray(align(im, fc, alignment).crop, "RGB")
        crops.append(crop.convert("L") if grayscale else crop)
    return crops


def _read_photos(
    files: list[Path],
    src: Path,
    out: Path,
    choice: str | int,
    alignment: FaceAlignment,
    grayscale: bool,
) -> _Read:
    """Every photograph read, one at a time: its faces, and its crops while they are few."""
    from ..images import load_pil

    read = _Read()
    size = alignment.image_size
    kept = 0
    for f in files:
        try:
            im = load_pil(f)
            found = find_faces(im, padding=alignment.detect_padding)
            if not found:
                read.skipped.append(f)
                continue
            chosen = found if choice == "all" else choose(found, choice, f)
        except DataError as exc:
            read.failed.append(exc)
            continue
        read.faces_seen += len(found)
        crop_bytes = len(chosen) * int(size) ** 2 * (1 if grayscale else 3)
        crops = None
        if kept + crop_bytes <= KEEP_CROP_BYTES:
            crops, kept = _crops_of(im, chosen, alignment, grayscale), kept + crop_bytes
        del im
        targets = _targets(f.relative_to(src), out, choice, len(chosen))
        read.planned.append(_Planned(f, chosen, targets, crops))
    return read


def _targets(rel: Path, out: Path, choice: str | int, count: int) -> list[Path]:
    """Where the crops of the photograph at ``rel`` under the source go."""
    if choice == "all":
        return [out / rel.parent / f"{rel.stem}-{k}.png" for k in range(1, count + 1)]
    target = out / rel
    if target.suffix.lower() not in CROP_SUFFIXES:
        target = target.with_suffix(".png")  # e.g. a .gif photograph
    return [target]


def _check_targets(
    read: _Read, files: list[Path], labels: Path, copy_labels: bool, out: Path, overwrite: bool
) -> None:
    """Every output planned against the others, the photographs and what is there."""
    extra = ([(out / "labels.csv", labels)] if copy_labels else []) + [
        (out / ALIGNMENT_FILE, None)
    ]
    owners: dict[str, Path | None] = {}
    inputs = {real_path(f) for f in files} | ({real_path(labels)} if labels.exists() else set())
    for target, owner in [(t, p.photo) for p in read.planned for t in p.targets] + extra:
        key = real_path(target)
        if key in owners:
            raise ConceptVAEError(
                f"{owners[key]} and {owner} would both be written to this file; rename one",
                target,
            )
        owners[key] = owner
        if key in inputs:
            raise ConceptVAEError("would replace one of the photographs; refusing", target)
        if target.is_dir():
            raise ConceptVAEError("is a directory, so a crop cannot be written there", target)
        if (target.exists() or target.is_symlink()) and not overwrite:
            raise ConceptVAEError(
                f"already exists; refusing to replace it without {param('overwrite')}", target
            )
        check_dir_creatable(target.parent)


def _write_crops(read: _Read, alignment: FaceAlignment, grayscale: bool) -> int:
    """The crops written (those not kept are cut again); how many files."""
    from ..images import load_pil, save_pil

    written = 0
    for p in read.planned:
        crops = p.crops
        if crops is None:
            try:
                im = load_pil(p.photo)
                crops = _crops_of(im, p.faces, alignment, grayscale)
            except DataError as exc:  # changed since it was read
                read.failed.append(exc)
                continue
            finally:
                im = None
        for crop, target in zip(crops, p.targets):
            save_pil(crop, target)
            written += 1
    return written
