"""TF_CONFIG and CONCEPTVAE_COLLECTIVE_TIMEOUT read and checked: every
configuration that could never start is refused before anything waits."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ..errors import ConceptVAEError, param

# Collectives wait this long (seconds) before giving up when set; TensorFlow
# documents the timeout as a debugging aid (one thread per collective), so by
# default a lost worker is found by the coordination service's heartbeats.
TIMEOUT_ENV = "CONCEPTVAE_COLLECTIVE_TIMEOUT"
MAX_TIMEOUT = 7 * 24 * 3600.0


def _timeout() -> float | None:
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT:
        raise ConceptVAEError(
            f"{TIMEOUT_ENV} must be a number of seconds > 0 and at most {MAX_TIMEOUT:g}, "
            f"not {raw[:40]!r}"
        )
    return value


@dataclass(frozen=True)
class Task:
    job: str
    index: int
    host: str
    port: int

    @property
    def name(self) -> str:
        return f"{self.job} {self.index} ({self.host}:{self.port})"


_TF_CONFIG_FORM = (
    "TF_CONFIG must be JSON with cluster.worker (and optionally cluster.chief) "
    "lists of host:port and a task {type, index} inside them"
)


def _check_tf_config() -> tuple[list[Task], int]:
    """The cluster's tasks in rank order (chief first) and this process's place:
    every configuration that could never start is refused here, in one line."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ConceptVAEError(
            f"{param('distribute')} multiworker needs the TF_CONFIG environment variable "
            '(e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}})'
        )
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], task["index"]
        ok = isinstance(cluster, dict) and isinstance(cluster.get("worker"), list)
    except (ValueError, KeyError, TypeError, RecursionError):
        ok = False
    if not ok:
        raise ConceptVAEError(_TF_CONFIG_FORM)
    others = sorted(set(cluster) - {"chief", "worker"})
    if others:
        raise ConceptVAEError(
            f"TF_CONFIG names a {others[0]!r} job; multiworker training runs chief and worker "
            "tasks only (no parameter servers or evaluators): list only those"
        )
    if kind not in ("chief", "worker"):
        raise ConceptVAEError(
            f"TF_CONFIG task type must be chief or worker, not {str(kind)[:40]!r}"
        )
    tasks: list[Task] = []
    for job in ("chief", "worker"):
        addresses = cluster.get(job, [])
        if not isinstance(addresses, list) or (job == "chief" and len(addresses) > 1):
            raise ConceptVAEError(
                "TF_CONFIG cluster.chief is a list of one host:port" if job == "chief"
                else _TF_CONFIG_FORM
            )
        for i, address in enumerate(addresses):
            tasks.append(Task(job, i, *_host_port(address, f"{job} {i}")))
    if not tasks:
        raise ConceptVAEError(_TF_CONFIG_FORM)
    if not isinstance(index, int) or isinstance(index, bool):
        raise ConceptVAEError(
            f"TF_CONFIG task index must be a whole number, not {json.dumps(index)[:40]}"
        )
    count = len(cluster.get(kind, []))
    if not 0 <= index < count:
        raise ConceptVAEError(
            f"TF_CONFIG task index {index} is not one of the {count} {kind} task(s) listed"
        )
    seen: dict[tuple[str, int], Task] = {}
    for t in tasks:
        key = (t.host.lower(), t.port)
        if key in seen:
            raise ConceptVAEError(
                f"TF_CONFIG lists {t.host}:{t.port} twice ({seen[key].job} {seen[key].index} and "
                f"{t.job} {t.index}); every task needs its own address"
            )
        seen[key] = t
    me = next(k for k, t in enumerate(tasks) if (t.job, t.index) == (kind, index))
    return tasks, me


def _host_port(address: Any, who: str) -> tuple[str, int]:  # noqa: ANN401
    text = address if isinstance(address, str) else ""
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        shown = json.dumps(address)[:60]
        raise ConceptVAEError(
            f"TF_CONFIG address of {who} must be host:port with a port from 1 to 65535, "
            f"not {shown}"
        )
    return host, int(port)
