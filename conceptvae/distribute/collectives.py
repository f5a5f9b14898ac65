"""Agreeing on the run: the chief's decisions, options, data sizes and weights
shared with every worker through all-reduces."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..errors import ConceptVAEError, param
from .cluster import Cluster
from .lost import failures

_reducers: dict[tuple, Any] = {}


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
