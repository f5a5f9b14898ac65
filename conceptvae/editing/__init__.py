"""Edit images along concept directions: ``edit``, ``traverse``, ``analogy``.

An edit encodes each image to its posterior mean ``z``, moves it to
``z + sum(amount_i * direction_i)`` (directions are calibrated by the concept
library: amount 1 is one typical difference between images without and with the
concept) and decodes. How the decodes become the output is the edit's *mode*,
one module each under :mod:`conceptvae.editing.modes` (the table of modes is
:data:`conceptvae.options.EDIT_MODES`):

* ``decode`` - the decoder's image of the moved latent, at the model's resolution.
* ``detail`` - ``input + (decode(z') - decode(z))`` at the input's own resolution.
* ``blend`` - detail outside the region the concept changes, the edited decode
  inside it, joined by a Laplacian pyramid.

The package, by job:

* :mod:`.options` - :class:`EditOptions`, every option of an edit, validated once;
* :mod:`.concepts` - the ``--concept`` arguments parsed against a library;
* :mod:`.inputs` - paths, PIL images and arrays (and the faces found in
  photographs) -> what the model encodes, and the output slots;
* :mod:`.editor` - :func:`edit` and :func:`reconstruct`;
* :mod:`.until` - the per-image amount solver of ``until=P``;
* :mod:`.compose` - decodes -> output images, through the edit's mode;
* :mod:`.traversal`, :mod:`.analogies` - strips and J-diagrams.

Names are imported on first use, so ``conceptvae.editing.modes`` (which the
CLI reads for its choices) costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

_NAMES = {
    "EditOptions": "options", "check_mode": "options", "default_mode": "options",
    "amounts_between": "options", "format_amount": "options",
    "ConceptArg": "concepts", "parse_concepts": "concepts", "concept_slug": "concepts",
    "face_alignment": "inputs", "prepare_inputs": "inputs", "ImageInput": "inputs",
    "edit": "editor", "reconstruct": "editor", "EditResult": "editor", "FaceEdit": "editor",
    "ShellWarning": "editor", "warn_if_outside_shell": "editor",
    "amounts_until": "until",
    "traverse": "traversal", "StripResult": "traversal",
    "analogy": "analogies", "AnalogyResult": "analogies",
    "blend_settings": "modes.common", "detail": "modes.detail", "blend": "modes.blend",
}  # fmt: skip
__getattr__ = lazy_attributes(
    globals(), {name: (f"{__name__}.{module}", name) for name, module in _NAMES.items()}
)
__all__ = [
    "AnalogyResult",
    "ConceptArg",
    "EditOptions",
    "EditResult",
    "FaceEdit",
    "ImageInput",
    "ShellWarning",
    "StripResult",
    "amounts_between",
    "amounts_until",
    "analogy",
    "blend",
    "blend_settings",
    "check_mode",
    "concept_slug",
    "default_mode",
    "detail",
    "edit",
    "face_alignment",
    "format_amount",
    "parse_concepts",
    "prepare_inputs",
    "reconstruct",
    "traverse",
    "warn_if_outside_shell",
]

if TYPE_CHECKING:
    from .analogies import AnalogyResult, analogy
    from .concepts import ConceptArg, concept_slug, parse_concepts
    from .editor import EditResult, FaceEdit, ShellWarning, edit, reconstruct, warn_if_outside_shell
    from .inputs import ImageInput, face_alignment, prepare_inputs
    from .modes.blend import blend
    from .modes.common import blend_settings
    from .modes.detail import detail
    from .options import EditOptions, amounts_between, check_mode, default_mode, format_amount
    from .traversal import StripResult, traverse
    from .until import amounts_until
