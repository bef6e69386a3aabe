"""Several machines training one model: the worker list, this worker's place in it, TF_CONFIG.

`tf.distribute.MultiWorkerMirroredStrategy` reads the cluster from the ``TF_CONFIG`` variable;
``cifar train --workers h1:p1,h2:p2 --worker-index I`` writes it, or an existing ``TF_CONFIG``
(set by a launcher such as a Kubernetes operator) is used as it is. Worker 0 is the chief: the
only one that writes the model, the reports and the TensorBoard logs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from portfolio_ml_core.errors import PortfolioError

TF_CONFIG = "TF_CONFIG"


@dataclass(frozen=True)
class WorkerCluster:
    workers: tuple[str, ...]  # host:port of every worker, the same list on each of them
    index: int  # this worker's position in ``workers``

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    @property
    def size(self) -> int:
        return len(self.workers)

    def tf_config(self) -> str:
        return json.dumps(
            {
                "cluster": {"worker": list(self.workers)},
                "task": {"type": "worker", "index": self.index},
            }
        )

    @classmethod
    def from_flags(cls, workers: str | None, index: int | None) -> WorkerCluster | None:
        """``--workers`` / ``--worker-index``, else ``$TF_CONFIG``, else None (one process)."""
        if workers is None:
            if index is not None:
                raise PortfolioError("--worker-index needs --workers")
            return cls.from_environment()
        addresses = tuple(a.strip() for a in workers.split(",") if a.strip())
        for address in addresses:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise PortfolioError(f"--workers: {address!r} is not HOST:PORT")
        if len(set(addresses)) != len(addresses):
            raise PortfolioError("--workers: the same HOST:PORT is listed twice")
        if index is None:
            raise PortfolioError("--workers needs --worker-index (0 is the chief)")
        if not 0 <= index < len(addresses):
            raise PortfolioError(f"--worker-index must be in 0..{len(addresses) - 1}")
        return cls(addresses, index)

    @classmethod
    def from_environment(cls) -> WorkerCluster | None:
        raw = os.environ.get(TF_CONFIG)
        if not raw:
            return None
        try:
            spec = json.loads(raw)
            workers = tuple(spec["cluster"]["worker"])
            index = int(spec["task"]["index"])
        except (ValueError, KeyError, TypeError):
            raise PortfolioError(f"${TF_CONFIG} is not a worker cluster spec: {raw[:80]}") from None
        return cls(workers, index)

    def export(self) -> None:
        os.environ[TF_CONFIG] = self.tf_config()
