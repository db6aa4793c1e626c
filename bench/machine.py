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
