"""Benchmark harness: timing with warm-up and repeats, environment metadata, baselines.

A `Benchmark` is a named function that returns `Metric`s. Plugins register them through the
``register_benchmarks`` hook; ``portfolio-ml bench`` runs them, prints one table and writes JSON.
Speed targets live here, not in unit tests: tests assert behaviour, benchmarks measure.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from portfolio_ml_core import distribution_version
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.registry import Registry


@dataclass(frozen=True)
class Metric:
    """One measured figure, optionally with a target it should meet."""

    name: str
    value: float
    unit: str = ""
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        if self.higher_is_better:
            return self.value >= self.target
        return self.value <= self.target


ASSETS_ENV = "PORTFOLIO_ML_ASSETS"


@dataclass(frozen=True)
class BenchContext:
    """What a benchmark is allowed to assume about the run it is part of.

    ``assets_dir`` is a folder of real test material laid out as ``models/``, ``videos/``,
    ``datasets/`` (``--assets`` or ``$PORTFOLIO_ML_ASSETS``); benchmarks that need real footage
    or data look there via `asset`.
    """

    quick: bool = False
    work_dir: Path | None = None
    assets_dir: Path | None = None

    def asset(self, relative: str) -> Path:
        if self.assets_dir is None:
            raise InputFileError(
                f"this benchmark needs {relative}: pass --assets DIR or set {ASSETS_ENV}"
            )
        path = self.assets_dir / relative
        if not path.exists():
            raise InputFileError(f"benchmark asset not found: {path}")
        return path


@dataclass(frozen=True)
class Benchmark:
    """A named measurement. ``group`` is usually the plugin name (``bench squat`` runs a group)."""

    name: str
    group: str
    description: str
    run: Callable[[BenchContext], list[Metric]]


class BenchmarkRegistry(Registry[Benchmark]):
    kind = "benchmark"

    def select(self, name: str) -> list[Benchmark]:
        """``all``, a group name (``squat``) or one benchmark's full name."""
        if name == "all":
            return self.values()
        return [b for b in self if name in (b.name, b.group)]


@dataclass(frozen=True)
class Timing:
    """Repeated wall-clock measurements of one call, in seconds."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range (robust to one slow outlier); 0 for fewer than 2 samples."""
        if len(self.samples) < 2:
            return 0.0
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q[2] - q[0]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[k]


def measure(fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 5) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))


@dataclass
class BenchResult:
    name: str
    group: str
    seconds: float
    metrics: list[Metric]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(m.passed is not False for m in self.metrics)


@dataclass
class BenchReport:
    environment: dict[str, Any]
    results: list[BenchResult]
    quick: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "quick": self.quick,
            "results": [
                {**asdict(r), "metrics": [{**asdict(m), "passed": m.passed} for m in r.metrics]}
                for r in self.results
            ],
        }


def run_benchmarks(
    benchmarks: Iterable[Benchmark],
    context: BenchContext,
    on_result: Callable[[BenchResult], None] | None = None,
) -> BenchReport:
    """Run each benchmark; one failing benchmark is recorded, not fatal to the others."""
    results = []
    for bench in benchmarks:
        start = time.perf_counter()
        try:
            metrics, error = bench.run(context), None
        except Exception as exc:  # a broken benchmark must not hide the other figures
            metrics, error = [], f"{type(exc).__name__}: {exc}"
        result = BenchResult(bench.name, bench.group, time.perf_counter() - start, metrics, error)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return BenchReport(environment(), results, context.quick)


@dataclass(frozen=True)
class Regression:
    benchmark: str
    metric: str
    baseline: float
    current: float
    change: float  # relative, signed so that negative is worse


def compare(report: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> list[Regression]:
    """Metrics that got worse than the baseline by more than ``tolerance`` (relative)."""
    old = {
        (r["name"], m["name"]): m for r in baseline.get("results", []) for m in r.get("metrics", [])
    }
    regressions = []
    for r in report["results"]:
        for m in r["metrics"]:
            before = old.get((r["name"], m["name"]))
            if before is None or not before["value"]:
                continue
            change = (m["value"] - before["value"]) / abs(before["value"])
            if not m.get("higher_is_better", True):
                change = -change
            if change < -tolerance:
                regressions.append(
                    Regression(r["name"], m["name"], before["value"], m["value"], change)
                )
    return regressions


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(f"baseline file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise InputFileError(f"baseline {path} is not a benchmark report (no 'results' list)")
    return data


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment() -> dict[str, Any]:
    """What the figures depend on: the machine and the library versions."""
    return {
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": distribution_version("numpy"),
        "opencv": distribution_version("opencv-contrib-python"),
        "mediapipe": distribution_version("mediapipe"),
        "tensorflow": distribution_version("tensorflow"),
        "git_commit": _git_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
