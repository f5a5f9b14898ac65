"""Before TensorFlow's own registration: every worker listens on its port and
waits, bounded and saying what for, until every other task listens on its own."""

from __future__ import annotations

from ..errors import ConceptVAEError
from .tf_config import TIMEOUT_ENV, Task

# How long a worker waits for the others to start when CONCEPTVAE_COLLECTIVE_TIMEOUT
# is not set: long enough to start the same command by hand on a few machines.
STARTUP_WAIT = 600.0
# How often a waiting worker says what it is waiting for.
REPORT_EVERY = 15.0


def _resolve(host: str, wait: float = 10.0) -> bool:
    """Whether ``host`` resolves, asked in a thread so a slow resolver cannot hold
    the worker past ``wait`` seconds or past Ctrl-C."""
    import socket
    import threading

    found: list[bool] = []

    def ask() -> None:
        try:
            found.append(bool(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)))
        except (OSError, UnicodeError):
            found.append(False)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(wait)
    return bool(found and found[0])


def _check_addresses(tasks: list[Task], me: int) -> None:
    for t in tasks:
        if not _resolve(t.host):
            raise ConceptVAEError(
                f"TF_CONFIG: the host of {t.name} cannot be resolved; fix the name or use an "
                "IP address"
            )


def _listen(port: int):  # noqa: ANN202
    """A socket listening on this worker's port while it waits, so the others see
    it has started (nothing is accepted: the kernel completes their probes)."""
    import socket

    try:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
        return socket.create_server(("", port))
    except OSError as exc:
        raise ConceptVAEError(
            f"TF_CONFIG: this worker's port {port} is not free here ({exc.strerror}); another "
            "process (or an earlier worker still running) holds it"
        ) from None


def _reachable(task: Task) -> bool:
    import socket

    try:
        with socket.create_connection((task.host, task.port), timeout=1.0):
            return True
    except OSError:
        return False


def _rendezvous(tasks: list[Task], me: int, bound: float) -> float:
    """Wait until every other task listens on its address (each waits the same way
    on its own port), saying what it waits for; seconds of ``bound`` left."""
    import sys
    import time

    start = time.monotonic()
    waiting = [t for k, t in enumerate(tasks) if k != me]
    with _listen(tasks[me].port):
        next_report = start + 2.0
        while True:
            waiting = [t for t in waiting if not _reachable(t)]
            now = time.monotonic()
            if not waiting:
                return max(bound - (now - start), 0.0)
            if now - start >= bound:
                names = ", ".join(t.name for t in waiting)
                raise ConceptVAEError(
                    f"{names} did not start within {bound:g} s "
                    f"({TIMEOUT_ENV} sets the wait); start the same command on every worker",
                    "TF_CONFIG",
                )
            if now >= next_report:
                names = ", ".join(t.name for t in waiting[:3]) + (
                    f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
                )
                print(
                    f"{tasks[me].job} {tasks[me].index}: waiting for {names} to start "
                    f"({now - start:.0f} s of at most {bound:g} s)",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
                next_report = now + REPORT_EVERY
            time.sleep(0.25)


def _bound_registration(seconds: float) -> None:
    """TensorFlow's coordination service waits an hour by default for every task to
    register; give it what is left of the wait (at least 30 s: the others may
    still be between their own wait and this point)."""
    try:
        from tensorflow.core.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.distribute.cluster_resolver import TFConfigClusterResolver
        from tensorflow.python.eager import context
    except ImportError:  # a TensorFlow without these internals: its own default
        return
    spec = TFConfigClusterResolver().cluster_spec()
    jobs = [
        coordination_config_pb2.CoordinatedJob(name=j, num_tasks=spec.num_tasks(j))
        for j in ("chief", "worker")
        if j in spec.jobs
    ]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs,
        cluster_register_timeout_in_ms=int(max(seconds, 30.0) * 1000),
    )
