"""Which records an incremental export reads: the run's window on a modified-time field.

A run's window is ``[start, end)`` in epoch milliseconds, chosen from what Airflow puts in the
task context:

- a data interval of non-zero length (``CronDataIntervalTimetable``, ``@daily`` on Airflow 2, a
  manual run of such a DAG) is the window;
- a zero-length interval (Airflow 3's default ``CronTriggerTimetable``, ``schedule=None``, most
  manual runs) ends at the run's time and starts where the last successful run of the DAG ended
  (``prev_data_interval_end_success``), so consecutive runs cover time without gaps;
- without such a run (the first one, or an Airflow 3 run without a logical date), the window is
  everything modified before its end.

Runs without a logical date (Airflow 3) end at the time the run was created (``run_after``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FROM_DATA_INTERVAL = "the run's data interval"
SINCE_LAST_SUCCESS = "since the end of the last successful run"
EVERYTHING_BEFORE_END = "everything before the end (no earlier successful run to start from)"
EMPTY_AFTER_LATER_SUCCESS = "empty: the last successful run ended at or after this run's end"


@dataclass(frozen=True)
class Window:
    """``[start_ms, end_ms)`` on the modified-time field; ``start_ms`` None means from the beginning."""

    start_ms: int | None
    end_ms: int
    reason: str

    @property
    def empty(self) -> bool:
        return self.start_ms is not None and self.start_ms >= self.end_ms

    def filters(self, field: str) -> list[tuple[str, str, int]]:
        """The window as filters in the short form: ``field >= start`` and ``field < end``."""
        lower = [] if self.start_ms is None else [(field, "GTE", self.start_ms)]
        return [*lower, (field, "LT", self.end_ms)]

    def describe(self) -> str:
        start = "the beginning" if self.start_ms is None else _iso(self.start_ms)
        return f"[{start}, {_iso(self.end_ms)}) ({self.reason})"


def epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (no float rounding)."""
    seconds = int(moment.timestamp())
    return seconds * 1000 + moment.microsecond // 1000


def _iso(ms: int) -> str:

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _plain(value: Any) -> Any:
    """Airflow hands some context values as lazy proxies; ``is None`` must see what they stand for."""
    return getattr(value, "__wrapped__", value)


def _run_after(context: Any) -> datetime | None:
    dag_run = context.get("dag_run")
    return _plain(getattr(dag_run, "run_after", None)) if dag_run is not None else None


def run_window(context: Any) -> Window:
    """The window of the run whose task context this is (see the module docstring for the rules)."""
    start = _plain(context.get("data_interval_start"))
    end = _plain(context.get("data_interval_end"))
    if end is None:  # Airflow 3: a run without a logical date has no data interval
        end = _run_after(context)
        start = None
    if end is None:
        raise ValueError("the task context has neither a data interval nor the run's time")
    end_ms = epoch_ms(end)
    if start is not None and epoch_ms(start) < end_ms:
        return Window(epoch_ms(start), end_ms, FROM_DATA_INTERVAL)
    previous_end = _plain(context.get("prev_data_interval_end_success"))
    if previous_end is None:
        return Window(None, end_ms, EVERYTHING_BEFORE_END)
    previous_ms = epoch_ms(previous_end)
    if previous_ms >= end_ms:
        return Window(end_ms, end_ms, EMPTY_AFTER_LATER_SUCCESS)
    return Window(previous_ms, end_ms, SINCE_LAST_SUCCESS)
