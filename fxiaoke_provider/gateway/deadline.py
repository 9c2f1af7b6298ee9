"""The task's deadline (``execution_timeout``), so no wait of ours sleeps into Airflow's timeout.

Airflow ends a task that outlives ``execution_timeout`` with an exception raised wherever the task
happens to be, possibly while a request is in flight. Refusing a pacing or backoff wait that would
end past the deadline turns most of those timeouts into a clean stop between requests: nothing in
flight, so nothing whose outcome is unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fxiaoke_provider.exceptions import FxiaokeError

#: Kept free before the deadline: time to record progress and report before Airflow strikes.
DEFAULT_MARGIN_S = 1.0


class FxiaokeDeadlineError(FxiaokeError):
    """A wait would end past the task's deadline; the request it was for was not sent."""


class Deadline:
    """A point on the monotonic clock, or none (``at is None``: no execution_timeout)."""

    def __init__(
        self,
        at: float | None,
        margin_s: float = DEFAULT_MARGIN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.at = at
        self.margin_s = margin_s
        self._clock = clock

    @classmethod
    def after(
        cls,
        seconds: float | None,
        margin_s: float = DEFAULT_MARGIN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """The deadline ``seconds`` from now (None: no deadline); the margin shrinks for short timeouts."""
        if seconds is None:
            return cls(None, margin_s, clock)
        return cls(clock() + seconds, min(margin_s, seconds / 10), clock)

    def remaining(self) -> float | None:
        """Seconds left before the margin, never negative; None without a deadline."""
        if self.at is None:
            return None
        return max(0.0, self.at - self.margin_s - self._clock())

    def check_wait(self, seconds: float) -> None:
        """Raise ``FxiaokeDeadlineError`` if sleeping ``seconds`` would end past the deadline."""
        left = self.remaining()
        if left is not None and (seconds > left or left <= 0):
            raise FxiaokeDeadlineError(
                f"waiting {seconds:.2f}s for the gateway's rate limit or a retry would outlast the "
                f"task's execution_timeout ({left:.2f}s left); stopped before sending"
            )

    def cap(self, timeout_s: float) -> float:
        """A request timeout that ends before the deadline (at least a tenth of a second)."""
        left = self.remaining()
        return timeout_s if left is None else max(0.1, min(timeout_s, left))
