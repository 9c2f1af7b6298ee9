"""Sliding-window call limits, keyed per (path, tenant) or per appId; the caller holds the lock."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class SlidingWindowLimiter:
    """At most ``calls`` calls per key in any ``window_s`` seconds; 0 for either disables it.

    By default refused calls are not counted, so a client gets through as soon as the oldest
    accepted call leaves the window. With ``count_refused`` they are counted too, as many limiters
    do: a client that keeps retrying keeps the window full itself.
    """

    def __init__(self, calls: int, window_s: float, *, count_refused: bool = False) -> None:
        self.calls = calls
        self.window_s = window_s
        self.count_refused = count_refused
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
            if self.count_refused:
                hits.append(now)
            return False
        hits.append(now)
        return True

    def clear(self) -> None:
        self._hits.clear()
