"""Facts about the machine a benchmark ran on, for the machine lines of its report."""

from __future__ import annotations

import os
import platform
from contextlib import suppress
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as '1.00 / 0.80 / 0.50'."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def memory_state() -> str:
    """How fast this machine's memory is right now, which on the 2-CPU virtual machines here
    changes over hours with the same code and load (the guest pages out cold memory and hands
    freed memory back to its host): random 8-byte reads over 256 MB, the first touch of fresh
    4 KiB pages, and making and freeing 3 million Python objects. When a report's rates differ
    from another's, compare these first."""
    import mmap
    import time

    import numpy as np

    values = np.ones(32 * 1024 * 1024, dtype=np.int64)
    where = np.random.default_rng(1).integers(0, values.size, 4_000_000)
    began = time.perf_counter()
    int(values[where].sum())
    gather_ns = (time.perf_counter() - began) / where.size * 1e9
    del values, where
    began = time.perf_counter()
    for _ in range(20):
        fresh = mmap.mmap(-1, 2 * 1024 * 1024)
        for offset in range(0, len(fresh), 4096):
            fresh[offset] = 1
        fresh.close()
    fault_us = (time.perf_counter() - began) / (20 * 512) * 1e6
    began = time.perf_counter()
    made = [object() for _ in range(3_000_000)]
    del made
    objects_ms = (time.perf_counter() - began) * 1e3
    return (
        f"random read over 256 MB {gather_ns:.0f} ns, first touch of a 4 KiB page "
        f"{fault_us:.1f} µs, 3 M Python objects made and freed {objects_ms:.0f} ms"
    )
