"""Sliding-window call limits, keyed per (path, tenant) or per appId; the caller holds the lock."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class SlidingWindowLimiter:
    """At most ``calls`` accepted calls per key in any ``window_s`` seconds; 0 for either disables it.

    Refused calls are not counted, so a client that backs off gets through once the window slides.
    """

    def __init__(self, calls: int, window_s: float) -> None:
        self.calls = calls
        self.window_s = window_s
        self._hits: dict[Hashable, deque[float]] = {}

    @property
    def enabled(self) -> bool:
        return self.calls > 0 and self.window_s > 0

    def allow(self, key: Hashable, now: float) -> bool:
        if not self.enabled:
            return True
        hits = self._hits.setdefault(key, deque())
        horizon = now - self.window_s
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) >= self.calls:
            return False
        hits.append(now)
        return True

    def clear(self) -> None:
        self._hits.clear()
