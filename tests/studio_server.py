"""Start `conceptvae studio` in a subprocess for the studio tests, and talk to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Running:
    proc: subprocess.Popen
    url: str
    tmpdir: Path  # the server's TMPDIR: its private folder lives here

    def request(self, path: str, body: bytes | dict | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:  # fmt: skip
        """(status, headers, body) of one request; 4xx/5xx are returned, not raised."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = dict(headers or {})
        if data is not None:
            headers.setdefault("Content-Type", "application/octet-stream" if path == "/api/images"
                               else "application/json")  # fmt: skip
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data,
                                     headers=headers, method="POST" if data is not None else "GET")  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        status, _, raw = self.request(path, body)
        return status, json.loads(raw)

    def json_with(self, path: str, body: dict, headers: dict) -> tuple[int, dict]:
        status, _, raw = self.request(path, body, headers)
        return status, json.loads(raw) if raw[:1] == b"{" else {}

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, then (exit code, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


def start_studio(home: Path, tmpdir: Path, *args: str) -> Running:
    """`conceptvae studio --no-browser --port 0 ARGS`, once it has printed its URL."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CONCEPTVAE_HOME": str(home), "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conceptvae", "studio", "--no-browser", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmpdir,
    )  # fmt: skip
    line = proc.stdout.readline()  # "conceptvae studio on http://127.0.0.1:PORT/  (Ctrl-C ...)"
    if "http://" not in line:
        proc.kill()
        raise AssertionError(f"studio did not start: {line!r} {proc.stderr.read()!r}")
    url = line.split()[3]
    return Running(proc, url, tmpdir)


def private_dirs(tmpdir: Path) -> list[Path]:
    return sorted(tmpdir.glob("conceptvae-studio-*"))
