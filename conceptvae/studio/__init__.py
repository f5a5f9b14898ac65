"""conceptvae studio: a local web page with a slider per concept.

``engine`` does the work through the library (it is the only studio module
that calls editing and sequence functions); ``app`` routes HTTP requests to it
(Starlette); ``server`` binds, serves and cleans up (uvicorn); ``static/``
holds the page (plain HTML, CSS and JavaScript, nothing fetched from elsewhere).
Starlette and uvicorn come with the ``studio`` extra.
"""

from __future__ import annotations

EXTRA = "studio"
REQUIRES = ("starlette", "uvicorn")


def missing_requirements() -> list[str]:
    """The studio extra's packages that cannot be imported."""
    import importlib

    missing = []
    for name in REQUIRES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing
