"""The strategy ``train(distribute=...)`` asks for: mirrored over this machine's devices, or
multiworker from TF_CONFIG once every worker has started."""

from __future__ import annotations

import tensorflow as tf

from ..errors import ConceptVAEError, param
from ..readers import first_line
from .cluster import Cluster
from .rendezvous import STARTUP_WAIT, _bound_registration, _check_addresses, _rendezvous
from .signals import _interrupt_on_sigterm, _signals_interrupt, _signals_terminate
from .tf_config import _check_tf_config, _timeout

STRATEGIES = ("mirrored", "multiworker")

_clusters: dict[tuple, Cluster] = {}


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
                f"the workers did not all register within {bound:g} s ({first_line(exc)}); "
                "start the same command on every worker", "TF_CONFIG"
            ) from None
        raise ConceptVAEError(
            f"cannot start the multi-worker strategy ({first_line(exc)}); TensorFlow must not "
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
