"""The machine a command runs on: the CPU's name and the features that decide training speed.

Recorded with every training run and benchmark (speeds only compare on one machine), and read
by the CIFAR trainer to choose its precision.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

# The CPU features that decide how fast (and in which precision) training runs on a CPU.
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # bf16 multiplied in hardware, not emulated


@dataclass(frozen=True)
class CpuInfo:
    name: str
    flags: tuple[str, ...]  # those of CPU_FLAGS this CPU has

    @property
    def has_bf16_units(self) -> bool:
        return any(f in self.flags for f in BF16_FLAGS)

    def tags(self) -> dict[str, str]:
        return {"cpu": self.name, "cpu_flags": ",".join(self.flags) or "none",
                "cpu_cores": str(usable_cores())}  # fmt: skip


def usable_cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_info(cpuinfo: str | None = None) -> CpuInfo:
    """The CPU's model name and its training-relevant flags, from ``/proc/cpuinfo`` (or the
    given text of one)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    lines = cpuinfo.splitlines()
    name = next(
        (line.split(":", 1)[1].strip() for line in lines
         if line.startswith("model name") and ":" in line),
        None,
    )  # fmt: skip
    flags_line = next((line for line in lines if line.startswith("flags")), "")
    present = set(flags_line.split(":", 1)[-1].split())
    return CpuInfo(
        name or platform.processor() or platform.machine() or "unknown",
        tuple(f for f in CPU_FLAGS if f in present),
    )
