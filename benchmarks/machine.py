"""What the numbers were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> list[str]:
    import airflow

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average at start: {load}",
        f"Python {platform.python_version()} ({platform.system()} {platform.release()}); "
        f"Airflow {airflow.__version__}",
    ]
