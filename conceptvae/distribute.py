"""Training beyond one device: tf.distribute strategies for ``train``.

``mirrored`` is MirroredStrategy over the visible GPUs (or the devices given);
``multiworker`` is MultiWorkerMirroredStrategy, configured by the standard
``TF_CONFIG`` environment variable: every worker runs the same command, the
chief (task ``chief``, else ``worker`` 0) resolves the run, writes the model
directory and its checkpoints, and shares what it decided with the others.

The global batch (``batch_size``) is what one optimizer step sees, whatever
the number of replicas. Every worker draws the same seeded global batch, as
single-device training would, and loads only its replicas' equal slices of it;
the slice losses are scaled by 1/replicas, so the all-reduced gradient is the
gradient of the global batch mean. Epochs hold whole global batches only (the
shuffled remainder is left out, a different one each epoch).

A worker that dies (SIGKILL, Ctrl-C) stops sending heartbeats to TensorFlow's
coordination service; the others' collectives then abort within seconds and
:func:`lost_worker` turns that into one line. Importing this module imports
TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConceptVAEError, param
from .model.quiet import import_tensorflow

import_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

STRATEGIES = ("mirrored", "multiworker")
# Collectives wait this long (seconds) before giving up when set; TensorFlow
# documents the timeout as a debugging aid (one thread per collective), so by
# default a lost worker is found by the coordination service's heartbeats.
TIMEOUT_ENV = "CONCEPTVAE_COLLECTIVE_TIMEOUT"

_clusters: dict[tuple, Cluster] = {}
_reducers: dict[tuple, Any] = {}


@dataclass
class Cluster:
    """A strategy and this process's place in it."""

    strategy: Any
    kind: str
    replicas: int  # in sync, over all workers
    workers: int
    worker: int  # this process's position (0 is the chief)
    chief: bool

    @property
    def local_replicas(self) -> int:
        return self.replicas // self.workers

    def describe(self) -> dict[str, Any]:
        """What meta.json records about the run's distribution."""
        return {"strategy": self.kind, "replicas": self.replicas, "workers": self.workers}


def connect(kind: str, devices: list[str] | None = None) -> Cluster:
    """The strategy for ``kind`` (one per process: TensorFlow allows a single
    multi-worker strategy, created before anything else runs)."""
    if kind not in STRATEGIES:
        raise ConceptVAEError(
            f"{param('distribute')} must be one of {', '.join(STRATEGIES)}, not {kind!r}"
        )
    key = (kind, tuple(devices or ()))
    if key not in _clusters:
        _clusters[key] = _mirrored(devices) if kind == "mirrored" else _multiworker(devices)
    return _clusters[key]


def _mirrored(devices: list[str] | None) -> Cluster:
    if devices:
        # "GPU:1", "/gpu:1" and "/job:localhost/replica:0/task:0/device:GPU:1" name one device.
        known = {_short(d.name): d.name for d in tf.config.list_logical_devices()}
        names = []
        for d in devices:
            if _short(d) not in known:
                listed = ", ".join(sorted(known))
                raise ConceptVAEError(f"{param('devices')}: no device {d!r} here (found: {listed})")
            names.append(known[_short(d)])
        if len(set(names)) < len(names):
            raise ConceptVAEError(f"{param('devices')}: a device is named twice")
        strategy = tf.distribute.MirroredStrategy(devices=names)
    else:
        strategy = tf.distribute.MirroredStrategy()
    return Cluster(strategy, "mirrored", strategy.num_replicas_in_sync, 1, 0, True)


def _short(name: str) -> str:
    return name.strip().rsplit("device:", 1)[-1].lstrip("/").upper()


def _multiworker(devices: list[str] | None) -> Cluster:
    if devices:
        raise ConceptVAEError(f"{param('devices')} needs {param('distribute')} mirrored")
    tasks, me = _check_tf_config()
    timeout = _timeout()
    bound = timeout or STARTUP_WAIT
    with _signals_interrupt():
        _check_addresses(tasks, me)
        left = _rendezvous(tasks, me, bound)
    # Every worker is up; TensorFlow's own registration (which holds the
    # interpreter, so no signal handler runs) is bounded too, and Ctrl-C or
    # SIGTERM end the process meanwhile.
    _bound_registration(left)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    try:
        with _signals_terminate():
            strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except (RuntimeError, tf.errors.OpError) as exc:
        if isinstance(exc, (tf.errors.DeadlineExceededError, tf.errors.UnavailableError)):
            raise ConceptVAEError(
                f"the workers did not all register within {bound:g} s ({_first_line(exc)}); "
                "start the same command on every worker", "TF_CONFIG"
            ) from None
        raise ConceptVAEError(
            f"cannot start the multi-worker strategy ({_first_line(exc)}); TensorFlow must not "
            "have run anything in this process before"
        ) from None
    # From here on SIGTERM stops training as Ctrl-C does (TensorFlow's own handler
    # would swallow it): the last finished epoch is kept, resumable.
    _interrupt_on_sigterm()
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec()
    jobs = [j for j in ("chief", "worker") if j in spec.jobs]
    order = [(j, i) for j in jobs for i in range(spec.num_tasks(j))]
    position = order.index((resolver.task_type, resolver.task_id))
    return Cluster(strategy, "multiworker", strategy.num_replicas_in_sync, len(order),
                   position, position == 0)  # fmt: skip


# How long a worker waits for the others to start when CONCEPTVAE_COLLECTIVE_TIMEOUT
# is not set: long enough to start the same command by hand on a few machines.
STARTUP_WAIT = 600.0
# How often a waiting worker says what it is waiting for.
REPORT_EVERY = 15.0
MAX_TIMEOUT = 7 * 24 * 3600.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


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


def _raise_interrupt(signum: int, frame: Any) -> None:  # noqa: ANN401
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt as Ctrl-C does (in the main thread only)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)


@contextlib.contextmanager
def _signals_terminate() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the process while TensorFlow holds the interpreter
    (a Python handler would never get to run)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def _interrupt_on_sigterm() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)


# -- agreeing on the run -----------------------------------------------------


def _sum(cluster: Cluster, vector: np.ndarray, chief_only: bool = False) -> np.ndarray:
    """The all-reduced sum of a 1-D float64 ``vector`` over the replicas; with
    ``chief_only`` every replica but the chief's first adds zeros: a broadcast.
    One dtype and rank for every call keeps it to one traced function."""
    key = (id(cluster.strategy), chief_only)
    if key not in _reducers:
        strategy = cluster.strategy

        def replica_fn(t):  # noqa: ANN001, ANN202
            ctx = tf.distribute.get_replica_context()
            # Computed inside the replica (not the captured input), so it lives on its device.
            keep = tf.equal(ctx.replica_id_in_sync_group, 0) if chief_only else tf.constant(True)
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.where(keep, t, tf.zeros_like(t)))

        _reducers[key] = tf.function(
            lambda t: strategy.run(replica_fn, args=(t,)),
            input_signature=[tf.TensorSpec([None], tf.float64)],
        )
    with failures(cluster):
        out = _reducers[key](tf.constant(np.asarray(vector, np.float64).reshape(-1)))
        return np.asarray(cluster.strategy.experimental_local_results(out)[0])


def _broadcast(cluster: Cluster, vector: np.ndarray) -> np.ndarray:
    return _sum(cluster, vector, chief_only=True)


def share(cluster: Cluster, value: Any) -> Any:  # noqa: ANN401
    """The chief's JSON-able ``value`` on every worker."""
    if cluster.workers == 1:
        return value
    data = np.frombuffer(json.dumps(value).encode(), np.uint8)
    n = _broadcast(cluster, np.array([len(data) if cluster.chief else 0]))
    got = _broadcast(cluster, data if cluster.chief else np.zeros(int(n[0])))
    return json.loads(got.astype(np.uint8).tobytes().decode())


def agree(cluster: Cluster, decide: Callable[[], Any]) -> Any:  # noqa: ANN401
    """Run ``decide`` on the chief and return its result on every worker; a
    ConceptVAEError there is raised on every worker (none is left waiting)."""
    outcome: dict[str, Any] = {}
    if cluster.chief:
        try:
            outcome = {"value": decide()}
        except ConceptVAEError as exc:
            if cluster.workers == 1:
                raise
            outcome = {"error": exc.raw, "path": exc.path}
            share(cluster, outcome)
            raise
    outcome = share(cluster, outcome)
    if "error" in outcome:
        raise ConceptVAEError(f"the chief stopped: {outcome['error']}", outcome["path"])
    return outcome["value"]


def check_command(cluster: Cluster, given: dict[str, Any], options: dict[str, Any]) -> None:
    """Every worker raises when one was started with options that differ from the
    chief's run (every worker must run the same command)."""
    if cluster.workers == 1:
        return
    differ = sorted(k for k, v in given.items() if json.loads(json.dumps(v)) != options.get(k))
    if _sum(cluster, np.array([len(differ)]))[0]:
        if differ:
            mine = ", ".join(f"{param(k)} {given[k]}" for k in differ)
            theirs = ", ".join(f"{options.get(k)}" for k in differ)
            raise ConceptVAEError(
                f"this worker's {mine} {'differs' if len(differ) == 1 else 'differ'} from the "
                f"chief's run ({theirs}); run the same "
                "command on every worker"
            )
        raise ConceptVAEError("another worker was started with other options; run the same "
                              "command on every worker")  # fmt: skip


def check_same(cluster: Cluster, what: str, numbers: list[int]) -> None:
    """Every worker raises when the workers' ``numbers`` (e.g. data size) differ."""
    if cluster.workers == 1:
        return
    mine = np.asarray(numbers, np.int64)
    chiefs = _broadcast(cluster, mine).astype(np.int64)
    if _sum(cluster, np.array([not np.array_equal(chiefs, mine)]))[0]:
        who = "another worker's" if cluster.chief else f"this worker's {mine.tolist()}"
        raise ConceptVAEError(
            f"{who} {what} differ from the chief's {chiefs.tolist()}; every worker "
            "needs the same data at the same path"
        )


def broadcast_model(cluster: Cluster, vae) -> None:  # noqa: ANN001
    """Give every worker the chief's weights and optimizer state (the chief may
    have restored a checkpoint the others cannot see)."""
    if cluster.workers == 1:
        return
    if not vae.optimizer.built:
        vae.optimizer.build(vae.trainable_variables)
    variables = list(vae.weights) + list(vae.optimizer.variables)
    # float64 holds float32 weights and the int64 step counter exactly.
    flat = _broadcast(cluster, np.concatenate([np.ravel(v.numpy()) for v in variables]))
    start = 0
    for var in variables:
        size = int(np.prod(var.shape))
        var.assign(flat[start : start + size].reshape(var.shape).astype(var.dtype))
        start += size


@contextlib.contextmanager
def failures(cluster: Cluster | None) -> Iterator[None]:
    """Turn a collective aborted by a lost worker into one ConceptVAEError."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is a lost worker
        lost = None if cluster is None else lost_worker(exc, cluster)
        if lost is None:
            raise
        raise lost from None


@contextlib.contextmanager
def fitting(cluster: Cluster | None, vae) -> Iterator[None]:  # noqa: ANN001
    """Around ``vae.fit``: a lost worker becomes one error. Under
    MultiWorkerMirroredStrategy it also steps around two Keras 3 faults
    (keras-team/keras#20585): the symbolic build averages a first batch over
    the replicas (the VAE is built already, so it is skipped: with no strategy
    of its own the model takes the one whose scope is entered), and the step's
    scalar logs are averaged along an axis they lack (each gets one)."""
    if cluster is None or cluster.workers == 1:
        with failures(cluster):
            yield
        return
    own, step = vae._distribute_strategy, vae.train_step

    def train_step(data):  # noqa: ANN001, ANN202
        return {name: tf.reshape(value, (1,)) for name, value in step(data).items()}

    vae._distribute_strategy, vae.train_step = None, train_step
    try:
        with failures(cluster), cluster.strategy.scope():
            yield
    finally:
        vae._distribute_strategy = own
        del vae.train_step


class ChiefValidation(keras.callbacks.Callback):
    """Validation on the chief alone, on a plain copy of the weights: the same
    batches, noise and mean of batch means as Keras's own validation on one
    device, without splitting a small held-out set over the replicas."""

    def __init__(self, plain, source) -> None:  # noqa: ANN001
        super().__init__()
        self.plain, self.source = plain, source

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        self.plain.set_weights(self.model.network_weights())
        values: dict[str, list[float]] = {}
        for x_in, x, eps, y in self.source.epoch(0):
            terms = self.plain.losses_for(x_in, x, eps, y)
            for name, value in terms.items():
                values.setdefault(name, []).append(float(value))
        for metric in self.plain.metrics:
            if metric.name in values:
                logs[f"val_{metric.name}"] = float(np.mean(values[metric.name]))


# -- data --------------------------------------------------------------------


def check_batch(cluster: Cluster, batch_size: int, train_images: int) -> None:
    if batch_size % cluster.replicas:
        raise ConceptVAEError(
            f"{param('batch_size')} {batch_size} (the global batch) must be a multiple of the "
            f"{cluster.replicas} replicas"
        )
    if train_images < batch_size:
        raise ConceptVAEError(
            f"{param('batch_size')} {batch_size} exceeds the {train_images} training images; distributed "
            "epochs hold whole global batches only"
        )


def dataset(cluster: Cluster, source: Any, start: int, stop: int):  # noqa: ANN401, ANN201
    """Epochs [start, stop) of ``source`` as a distributed dataset: each worker
    loads its replicas' slices of every global batch, nothing more."""
    local = cluster.local_replicas

    def per_worker(ctx: tf.distribute.InputContext):  # noqa: ANN202
        first = ctx.input_pipeline_id * local
        return source.tf_dataset(start, stop, parts=(first, local, cluster.replicas))

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return cluster.strategy.distribute_datasets_from_function(per_worker, options)


# -- precision ---------------------------------------------------------------


def check_mixed_precision() -> None:
    if not tf.config.list_physical_devices("GPU"):
        raise ConceptVAEError(
            f"{param('mixed_precision')} needs a GPU (float16 on a CPU is slower than float32); "
            "train without it here"
        )


@contextlib.contextmanager
def precision(mixed: bool) -> Iterator[None]:
    """Build layers under the mixed_float16 policy (float32 variables, float16
    compute) and put the global policy back afterwards."""
    import keras

    if not mixed:
        yield
        return
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


# -- failures ----------------------------------------------------------------

_LOST = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)
# Other errors count only when TensorFlow says a collective was aborted for a peer.
_MAYBE_LOST = (tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError)
_PEER = re.compile(r"Collective ops is aborted|unhealthy|heartbeat|Connection reset|Socket closed")


def lost_worker(exc: BaseException, cluster: Cluster) -> ConceptVAEError | None:
    """One line for a collective that failed because another worker went away."""
    text = str(exc)
    lost = isinstance(exc, _LOST) or (isinstance(exc, _MAYBE_LOST) and _PEER.search(text))
    if cluster.workers == 1 or not lost:
        return None
    unhealthy = re.search(r"/job:(\w+)/replica:\d+/task:(\d+)", text.split("unhealthy", 1)[-1])
    if "unhealthy" in text and unhealthy:
        why = f"{unhealthy.group(1)} {unhealthy.group(2)} stopped sending heartbeats"
    elif isinstance(exc, tf.errors.DeadlineExceededError):
        why = f"a collective waited longer than {TIMEOUT_ENV}={os.environ.get(TIMEOUT_ENV)} s"
    else:
        m = re.search(r"aborted by: ([^\n]+)", text)
        why = (m.group(1) if m else text.strip().splitlines()[-1]).strip()[:160]
    return ConceptVAEError(
        f"lost another worker ({why}); restart every worker with {param('resume')}"
    )
