"""Client-side pacing so one hook never exceeds the gateway's per-endpoint call limit.

A fan-out of 120 requests would otherwise collect ``30004`` answers after the 100th. A request
counts from the moment its answer arrives: the gateway saw it no later than that, so keeping
completed requests under the limit in every window keeps the gateway's own count under it too.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator


class EndpointPacer:
    """At most ``calls`` requests per ``window_s`` seconds to each path; ``calls == 0`` disables it."""

    def __init__(
        self,
        calls: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.calls = calls
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._done: defaultdict[str, deque[float]] = defaultdict(deque)
        self._in_flight: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.waited_s = 0.0  # total time spent waiting, for logs and benchmarks

    @property
    def enabled(self) -> bool:
        return self.calls > 0 and self.window_s > 0

    def _wait_needed(self, path: str, now: float) -> float:
        done = self._done[path]
        while done and now - done[0] >= self.window_s:
            done.popleft()
        if len(done) + self._in_flight[path] < self.calls:
            return 0.0
        if not done:  # every slot is in flight: wait a little for one to finish
            return min(0.05, self.window_s)
        return self.window_s - (now - done[0])

    @contextlib.contextmanager
    def slot(self, path: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        while True:
            with self._lock:
                wait = self._wait_needed(path, self._clock())
                if wait <= 0:
                    self._in_flight[path] += 1
                    break
            self.waited_s += wait
            self._sleep(wait)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[path] -= 1
                self._done[path].append(self._clock())
