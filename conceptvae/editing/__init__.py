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

from ..lazy import lazy_module

lazy_module(globals(), {
    ".options": ["EditOptions", "check_mode", "default_mode", "amounts_between", "format_amount"],
    ".concepts": ["ConceptArg", "parse_concepts", "concept_slug"],
    ".inputs": ["face_alignment", "prepare_inputs", "ImageInput"],
    ".editor": ["edit", "reconstruct", "EditResult", "FaceEdit", "ShellWarning",
                "warn_if_outside_shell"],
    ".until": ["amounts_until"],
    ".traversal": ["traverse", "StripResult"],
    ".analogies": ["analogy", "AnalogyResult"],
    ".modes.common": ["blend_settings"],
    ".modes.detail": ["detail"],
    ".modes.blend": ["blend"],
})  # fmt: skip

if TYPE_CHECKING:  # the lazy names, for type checkers and editors
    from .analogies import AnalogyResult, analogy  # noqa: F401
    from .concepts import ConceptArg, concept_slug, parse_concepts  # noqa: F401
    from .editor import EditResult, FaceEdit, ShellWarning, edit, reconstruct, warn_if_outside_shell  # noqa: F401
    from .inputs import ImageInput, face_alignment, prepare_inputs  # noqa: F401
    from .modes.blend import blend  # noqa: F401
    from .modes.common import blend_settings  # noqa: F401
    from .modes.detail import detail  # noqa: F401
    from .options import EditOptions, amounts_between, check_mode, default_mode, format_amount  # noqa: F401
    from .traversal import StripResult, traverse  # noqa: F401
    from .until import amounts_until  # noqa: F401
