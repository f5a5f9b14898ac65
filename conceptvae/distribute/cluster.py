"""A tf.distribute strategy and this process's place in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
