"""Run a batch on Ray: one task per input, on a local cluster or one the user started.

Ray is imported here only, so commands other than ``batch`` never pay for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portfolio_ml_core.affinity import OWN_CORE_ENV
from portfolio_ml_core.batch import BatchItem, BatchJob, BatchRow, completed_row, run_one
from portfolio_ml_core.errors import PortfolioError

# Every PORTFOLIO_ML_* variable of the driver (model paths, offline mode, cache) is given to
# the tasks, so a worker on another node resolves models the way this machine does.
FORWARDED_ENV_PREFIX = "PORTFOLIO_ML_"


@dataclass(frozen=True)
class ClusterOptions:
    address: str | None = None  # None: start a local cluster on this machine
    cpus_per_task: float = 1.0


@dataclass
class BatchReport:
    rows: list[BatchRow]
    wall_seconds: float
    ray_startup_seconds: float | None  # None when every input was already done
    cluster_cpus: float | None

    @property
    def failed(self) -> list[BatchRow]:
        return [r for r in self.rows if r.status == "failed"]


def forwarded_env() -> dict[str, str]:
    env = {}
    for name, value in os.environ.items():
        if not name.startswith(FORWARDED_ENV_PREFIX):
            continue
        # A relative path means nothing in a worker's own working directory.
        env[name] = str(Path(value).resolve()) if value and Path(value).exists() else value
    return env


@contextlib.contextmanager
def ray_cluster(options: ClusterOptions) -> Iterator[tuple[float, float]]:
    """Yield (start-up seconds, cluster CPUs). A Ray already initialised in this process (a
    test's, a notebook's) is used as it is and left running."""
    import ray

    started = time.perf_counter()
    owned = not ray.is_initialized()
    if owned:
        try:
            ray.init(
                address=options.address,
                include_dashboard=False,
                log_to_driver=False,  # the tasks' own progress output would garble ours
                logging_level=logging.ERROR,
                configure_logging=True,
                runtime_env={"env_vars": forwarded_env()},
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = options.address or "a local cluster"
            message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PortfolioError(f"could not start or join Ray ({where}): {message}") from None
    try:
        cpus = float(ray.cluster_resources().get("CPU", 0.0))
        if options.cpus_per_task > cpus:
            raise PortfolioError(
                f"--cpus-per-task {options.cpus_per_task:g} is more than the cluster's "
                f"{cpus:g} CPUs: no task could ever be scheduled"
            )
        yield time.perf_counter() - started, cpus
    finally:
        if owned:
            ray.shutdown()


def run_batch(
    job: BatchJob,
    items: Sequence[BatchItem],
    options: Sequence[str],
    cluster: ClusterOptions,
    on_row: Callable[[BatchRow], None] | None = None,
    on_cluster: Callable[[float, float], None] | None = None,
) -> BatchReport:
    """Skip the inputs already done, run the others as Ray tasks, and return every row in
    input order. ``on_row`` is called as each input finishes (for the progress display)."""
    start = time.perf_counter()
    rows: dict[Path, BatchRow] = {}

    def finished(item: BatchItem, row: BatchRow) -> None:
        rows[item.input] = row
        if on_row is not None:
            on_row(row)

    pending = []
    for item in items:
        done = completed_row(item, job, options)
        if done is not None:
            finished(item, done)
        else:
            pending.append(item)
    startup = cpus = None
    if pending:
        with ray_cluster(cluster) as (startup, cpus):
            if on_cluster is not None:
                on_cluster(startup, cpus)
            _run_on_ray(job, pending, options, cluster, finished)
    ordered = [rows[item.input] for item in items]
    return BatchReport(ordered, time.perf_counter() - start, startup, cpus)


def _run_task(job: BatchJob, item: BatchItem, options: Sequence[str]) -> BatchRow:
    """`run_one` in a Ray worker. Tasks share their machine's cores, so none pins a model to
    a core of its own (`affinity`): each would pick the same one."""
    os.environ.setdefault(OWN_CORE_ENV, "0")
    return run_one(job, item, options)


def _run_on_ray(
    job: BatchJob,
    items: Sequence[BatchItem],
    options: Sequence[str],
    cluster: ClusterOptions,
    finished: Callable[[BatchItem, BatchRow], None],
) -> None:
    import ray
    from ray.exceptions import RayError

    # A task that raised is already a "failed" row (run_one never raises for a bad input);
    # what Ray retries (once) is the loss of the worker process or of its node.
    task = ray.remote(num_cpus=cluster.cpus_per_task, max_retries=1)(_run_task)
    refs: dict[Any, BatchItem] = {task.remote(job, item, tuple(options)): item for item in items}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                item = refs.pop(ref)
                try:
                    row = ray.get(ref)
                except RayError as exc:
                    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    row = BatchRow(
                        str(item.input), str(item.out_dir), "failed", error=f"Ray: {line}"
                    )
                finished(item, row)
    except BaseException:
        # Interrupted (Ctrl-C): stop the running tasks; their staging folders are cleared by
        # the next run, and finished inputs keep their outputs, so a re-run resumes here.
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
