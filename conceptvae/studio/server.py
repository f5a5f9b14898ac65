"""Run the studio: bind, print the URL, open a browser, serve until Ctrl-C, clean up."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import threading
import webbrowser
from collections.abc import Callable

from ..errors import ConceptVAEError
from .engine import Studio

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Requests handled at once (a browser uses up to six connections); more get 503,
# which with the upload cap bounds the memory requests in flight can hold. Only
# requests whose headers have arrived count: a connection still sending its
# headers holds no more than h11's 16 KB buffer and is closed after
# HEADER_TIMEOUT seconds, so a few slow or stalled clients cannot lock others out.
MAX_CONNECTIONS = 32
# Open connections at all (idle or sending), beyond which the socket is not read.
MAX_OPEN = 512
HEADER_TIMEOUT = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str) -> list[str]:
    """Host header names to answer: loopback names, plus --host itself when it is a name
    or address other than loopback (any, for 0.0.0.0 and ::, which the user asked for)."""
    from .app import LOOPBACK_NAMES

    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return [*LOOPBACK_NAMES, *([host] if not is_loopback(host) else [])]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or one line saying why not (port taken, unknown host)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConceptVAEError(f"--host {host}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        hint = "; choose another with --port" if exc.errno in (98, 48, 10048) else ""
        raise ConceptVAEError(f"cannot listen on {host}:{port} ({exc.strerror}){hint}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    return f"http://{shown}:{port}/"


def serve(
    model: str | os.PathLike | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = True,
    flag: Callable[[str], str] | None = None,
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> None:
    """Serve the studio until Ctrl-C (or SIGTERM); uploads are removed on the way out.

    ``flag`` spells a Python parameter as the command line does (``concepts`` ->
    ``-c``), for the page's "copy command"; without it the page has no command.
    """
    import uvicorn

    from .app import create_app

    sock = bind(host, port)
    if not is_loopback(host):
        warn(
            f"--host {host} makes the studio reachable from other machines; it has no login, "
            "so anyone who can reach it can use it"
        )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again
    # with the previous handlers back: make SIGTERM land here too, so the private
    # folder is removed whichever signal stopped the server (or came before it ran).
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    studio = None
    try:
        studio = Studio(model, flag=flag)
        server = uvicorn.Server(uvicorn.Config(
            limit_requests(create_app(studio, allowed_hosts(host)), MAX_CONNECTIONS),
            log_level="warning", access_log=False, lifespan="off", http=header_timeout_protocol(),
            limit_concurrency=MAX_OPEN,
        ))  # fmt: skip
        url = url_of(sock)
        # The address is announced once the server runs, and so has its Ctrl-C handler:
        # a Ctrl-C that came right after an earlier announcement, while uvicorn was
        # still starting, could be lost, and the server then ran on.
        threading.Thread(target=_announce_when_started, daemon=True,
                         args=(server, url, echo, open_browser)).start()  # fmt: skip
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        sock.close()
        if studio is not None:
            studio.close()
    echo("studio stopped")


def limit_requests(app: Callable, limit: int) -> Callable:
    """``app`` answering 503 to an HTTP request beyond ``limit`` in flight at once."""
    active = 0

    async def limited(scope: dict, receive: Callable, send: Callable) -> None:
        nonlocal active
        if scope["type"] != "http" or active < limit:
            active += scope["type"] == "http"
            try:
                await app(scope, receive, send)
            finally:
                active -= scope["type"] == "http"
            return
        body = b'{"error": "the studio is busy; try again in a moment"}'
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"), (b"cache-control", b"no-store"),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    return limited


def header_timeout_protocol(timeout: float = HEADER_TIMEOUT) -> type:
    """uvicorn's h11 protocol, closing a connection whose request headers are not
    complete ``timeout`` seconds after they started (uvicorn times only idle
    keep-alive connections, so half a header would hold a connection forever)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeout(H11Protocol):
        _header_timer = None

        def connection_made(self, transport) -> None:  # noqa: ANN001
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # a new request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeout


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _announce_when_started(
    server: object, url: str, echo: Callable[[str], None], open_browser: bool
) -> None:
    import time

    while not getattr(server, "started", False):
        if getattr(server, "should_exit", False):
            return
        time.sleep(0.02)
    echo(f"conceptvae studio on {url}  (Ctrl-C stops it)")
    if open_browser:
        webbrowser.open(url)
