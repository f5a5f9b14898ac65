"""The studio's routes (Starlette): JSON and images in, the engine's answers out.

Handlers parse and check the request's shape, call one :class:`.engine.Studio`
method in a worker thread and return what it made; the engine's refusals
become a 4xx with a one-line message (``{"error": ...}``) and the server goes
on serving.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConceptVAEError
from .engine import EditRequest, MorphRequest, Studio, StudioError, TooLarge

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


class Forbidden(StudioError):
    status = 403


class UnsupportedMedia(StudioError):
    status = 415

STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 64 * 1024
MAX_DRAIN_BYTES = 256 * 1024 * 1024
_NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) once it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        await _drain(request, int(declared))
        raise TooLarge(f"upload is {int(declared):,} bytes; the studio takes at most {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await _drain(request, size)
            raise TooLarge(f"upload is more than {limit:,} bytes; the studio takes at most {limit:,}")
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(request: Request, size: int) -> None:
    """Read and drop the rest of a refused body (up to a bound), so the client, still
    sending, gets the 413 instead of a reset connection."""
    if size > MAX_DRAIN_BYTES:
        return
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_DRAIN_BYTES:
            return


def _check_sender(request: Request, media: tuple[str, ...]) -> None:
    """Refuse what another web site could make a browser send here.

    A page elsewhere can post to a loopback address, but only as a "simple"
    request (form or text media types) unless the server allows more, which this
    one never does; and the browser names that page in ``Origin``.
    """
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("cross-origin requests are refused")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind.startswith(media):
        raise UnsupportedMedia(f"send {' or '.join(media)}, not {kind or 'no content type'}")


async def _json(request: Request) -> dict[str, Any]:
    _check_sender(request, ("application/json",))
    from ..readers import loads_json

    raw = await _body(request, MAX_JSON_BYTES)
    try:
        # Bounded nesting and integer length: 10,000 levels or a 400-digit amount
        # is a 400, never a 500.
        data = loads_json(raw, None, "the request body")
    except ConceptVAEError as exc:
        raise StudioError(exc.message) from None
    if not isinstance(data, dict):
        raise StudioError("the request body must be a JSON object")
    return data


def _str(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise StudioError(f"{key!r} must be a non-empty string")
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StudioError(f"{what} must be a number")
    return float(value)


def edit_request(data: dict[str, Any]) -> EditRequest:
    amounts = data.get("amounts", {})
    if not isinstance(amounts, dict) or len(amounts) > 256:
        raise StudioError("'amounts' must be an object of concept name -> number")
    align = data.get("align", True)
    if not isinstance(align, bool):
        raise StudioError("'align' must be true or false")
    return EditRequest(
        model=_str(data, "model"),
        image=_str(data, "image"),
        mode=_str(data, "mode"),
        amounts={str(k): _number(v, f"amount of {str(k)[:64]!r}") for k, v in amounts.items()},
        align=align,
        live=data.get("live") is True,
        face=_str(data, "face", "all"),
    )


def morph_request(data: dict[str, Any]) -> MorphRequest:
    keys = data.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise StudioError("'keys' must be a list of image ids or seed:N")
    frames = data.get("frames", 24)
    size = data.get("size", 0)
    if isinstance(frames, bool) or not isinstance(frames, int):
        raise StudioError("'frames' must be a whole number")
    if isinstance(size, bool) or not isinstance(size, int):
        raise StudioError("'size' must be a whole number")
    return MorphRequest(
        model=_str(data, "model"), keys=keys, frames=frames,
        fps=_number(data.get("fps", 12), "'fps'"), fmt=_str(data, "format", "gif"), size=size,
    )  # fmt: skip


def create_app(studio: Studio, hosts: Sequence[str] = LOOPBACK_NAMES) -> Starlette:
    """The ASGI app serving ``studio``: the page, its files and the JSON API.

    ``hosts`` are the names the server answers to (the ``Host`` header): on
    loopback, only loopback names, so a web page whose name is made to point at
    127.0.0.1 (DNS rebinding) cannot read the studio.
    """

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=_NO_STORE)

    async def state(request: Request) -> Response:
        models = await run_in_threadpool(studio.models)
        return JSONResponse({
            "models": models,
            "default_model": studio.default_model,
            "examples": studio.examples(),
            "max_upload_bytes": studio.max_upload_bytes,
            "max_upload_pixels": studio.max_upload_pixels,
        }, headers=_NO_STORE)  # fmt: skip

    async def model(request: Request) -> Response:
        info = await run_in_threadpool(studio.model_info, request.path_params["name"])
        return JSONResponse(info, headers=_NO_STORE)

    async def upload(request: Request) -> Response:
        _check_sender(request, ("application/octet-stream", "image/"))
        data = await _body(request, studio.max_upload_bytes)
        name = request.headers.get("x-filename", "")
        info = await run_in_threadpool(studio.add_upload, data, _unquote(name))
        return JSONResponse(info, headers=_NO_STORE)

    async def original(request: Request) -> Response:
        bmp = await run_in_threadpool(studio.original, request.path_params["id"])
        return Response(bmp, media_type="image/bmp", headers=_NO_STORE)

    async def faces(request: Request) -> Response:
        model = request.query_params.get("model", "")
        info = await run_in_threadpool(studio.faces, request.path_params["id"], model)
        return JSONResponse(info, headers=_NO_STORE)

    async def preview(request: Request) -> Response:
        req = edit_request(await _json(request))
        start = time.perf_counter()
        bmp = await run_in_threadpool(studio.preview, req)
        ms = (time.perf_counter() - start) * 1000
        return Response(bmp, media_type="image/bmp",
                        headers={**_NO_STORE, "Server-Timing": f"edit;dur={ms:.1f}"})  # fmt: skip

    async def render(request: Request) -> Response:
        req = edit_request(await _json(request))
        png, name = await run_in_threadpool(studio.render, req)
        return Response(png, media_type="image/png", headers=_attachment(name))

    async def command(request: Request) -> Response:
        req = edit_request(await _json(request))
        return JSONResponse({"command": await run_in_threadpool(studio.command, req)})

    async def morph(request: Request) -> Response:
        req = morph_request(await _json(request))
        data, name, media = await run_in_threadpool(studio.morph, req)
        return Response(data, media_type=media, headers=_attachment(name))

    async def morph_command(request: Request) -> Response:
        req = morph_request(await _json(request))
        return JSONResponse({"command": await run_in_threadpool(studio.morph_command, req)})

    async def refused(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StudioError):
            return _error(exc.status, str(exc))
        return _error(400, str(exc))  # any other ConceptVAEError: the user's to fix

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail))

    routes = [
        Route("/", index),
        Route("/api/state", state),
        Route("/api/models/{name}", model),
        Route("/api/images", upload, methods=["POST"]),
        Route("/api/images/{id}/original", original),
        Route("/api/images/{id}/faces", faces),
        Route("/api/preview", preview, methods=["POST"]),
        Route("/api/render", render, methods=["POST"]),
        Route("/api/command", command, methods=["POST"]),
        Route("/api/morph", morph, methods=["POST"]),
        Route("/api/morph/command", morph_command, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))],
        exception_handlers={ConceptVAEError: refused, HTTPException: http_error},
    )


def _unquote(name: str) -> str:
    from urllib.parse import unquote

    return unquote(name)[:1024]


def _attachment(name: str) -> dict[str, str]:
    # The engine's names are plain ASCII-safe base names, so no RFC 5987 encoding is needed.
    return {**_NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
