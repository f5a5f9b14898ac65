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
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import ConceptVAEError, DataError
from ..faces.align import ALIGNMENT_FILE, META_KEY, SMILES_ALIGNMENT, FaceAlignment, align
from ..faces.find import Face, find_faces
from ..faces.inputs import check_face_choice, choose
from ..io import atomic_path, atomic_write_json
from ..outputs import check_dir_creatable, plan_outputs
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
) -> list[FacesReport]:
    """Find the faces of each photograph; with ``out``, draw them (one overlay per
    input: ``-o FILE`` for one input, ``-o DIR/`` for several). A photograph with
    no face is an error, raised before anything is written."""
    from ..images import load_pil, save_pil

    paths = expand_inputs(inputs)
    targets = plan_outputs(paths, out, overwrite=overwrite) if out is not None else None
    if targets is not None:
        from ..images import check_image_suffix

        for t in targets:
            check_image_suffix(t)
    reports, images = [], []
    for p in paths:
        im = load_pil(p)
        faces = find_faces(im, padding=padding)
        if not faces:
            raise DataError("no face found", p)
        reports.append(FacesReport(p, im.size, faces))
        images.append(im if targets is not None else None)
    if targets is not None:
        from ..faces.overlay import draw_faces

        for r, im, t in zip(reports, images, targets):
            save_pil(draw_faces(im, r.faces), t)
            r.overlay = t
    return reports


@dataclass
class AlignSummary:
    out: Path
    written: int
    faces: int
    skipped: list[Path]
    alignment: FaceAlignment


def align_folder(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    size: int = 64,
    face: str | int = "largest",
    alignment: FaceAlignment = SMILES_ALIGNMENT,
    grayscale: bool = False,
) -> AlignSummary:
    """Aligned ``size`` x ``size`` crops of the faces in every image under ``src``.

    ``face="largest"`` (or a number) writes one crop per photograph at the same
    relative path and name, so a labels CSV keeps working (``labels.csv`` in
    ``src`` is copied); ``face="all"`` writes ``<stem>-<k>.png`` per face.
    Photographs with no face are skipped and listed. ``face_alignment.json`` in
    ``out`` records the template: ``conceptvae train OUT`` writes it into the
    model's meta.json, which makes the model a face model.
    """
    from ..data import find_images
    from ..images import load_pil, save_pil

    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError("not a folder of images", src)
    if not 8 <= int(size) <= 1024:
        raise ConceptVAEError(f"--size must be from 8 to 1024, got {size}")
    choice = check_face_choice(face)
    if out.exists() and not out.is_dir():
        raise ConceptVAEError("is a file, not a directory, so it cannot hold the output", out)
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise ConceptVAEError("write the crops outside the photographs' folder", out)
    check_dir_creatable(out)
    files = find_images(src)
    if not files:
        raise DataError("folder holds no images", src)
    target_alignment = alignment.scaled(int(size))
    written = faces_seen = 0
    skipped: list[Path] = []
    for f in files:
        try:
            im = load_pil(f)
        except DataError:
            skipped.append(f)
            continue
        found = find_faces(im, padding=target_alignment.detect_padding)
        if not found:
            skipped.append(f)
            continue
        chosen = choose(found, choice, f) if choice != "all" else found
        rel = f.relative_to(src)
        for k, fc in enumerate(chosen, 1):
            crop = Image.fromarray(align(im, fc, target_alignment).crop, "RGB")
            if grayscale:
                crop = crop.convert("L")
            target = out / rel if choice != "all" else out / rel.parent / f"{rel.stem}-{k}.png"
            if target.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
                target = target.with_suffix(".png")  # e.g. a .gif photograph
            save_pil(crop, target)
            written += 1
        faces_seen += len(found)
    labels = src / "labels.csv"
    if labels.is_file() and choice != "all":
        with atomic_path(out / "labels.csv") as tmp:
            shutil.copyfile(labels, tmp)
    atomic_write_json(out / ALIGNMENT_FILE, {META_KEY: target_alignment.to_meta()})
    return AlignSummary(out, written, faces_seen, skipped, target_alignment)
