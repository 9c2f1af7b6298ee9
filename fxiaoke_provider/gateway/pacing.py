"""Client-side pacing so callers never exceed the gateway's per-endpoint call limit.

A fan-out of 120 requests would otherwise collect ``30004`` answers after the 100th. A request
counts from the moment its answer arrives: the gateway saw it no later than that, so keeping
completed (and in-flight) requests under the limit in every window keeps the gateway's count under
it too.

``EndpointPacer`` paces the threads of one process; ``MachinePacer`` paces every process on the
machine that uses the same credentials, through a small state file per endpoint kept under an
exclusive ``flock`` in the token cache's private directory (``files``). Both expose ``slot(path)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator

from fxiaoke_provider.gateway import files

log = logging.getLogger(__name__)

#: Wait used when every slot of the window is taken by requests still in flight.
IN_FLIGHT_POLL_S = 0.05

#: Called with the seconds about to be slept; raises to refuse a wait (e.g. past the task's deadline).
BeforeWait = Callable[[float], None]


def _no_check(_seconds: float) -> None:
    return None


class EndpointPacer:
    """At most ``calls`` requests per ``window_s`` seconds to each path; ``calls == 0`` disables it."""

    def __init__(
        self,
        calls: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        before_wait: BeforeWait = _no_check,
    ) -> None:
        self.calls = calls
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self.before_wait = before_wait
        self._done: defaultdict[str, deque[float]] = defaultdict(deque)
        self._in_flight: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

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
            return min(IN_FLIGHT_POLL_S, self.window_s)
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
            self.before_wait(wait)
            self._sleep(wait)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[path] -= 1
                self._done[path].append(self._clock())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class MachinePacer:
    """One ``calls`` per ``window_s`` window per path for every process on the machine sharing ``key``.

    The state file lists the requests of the last window: finished ones with the time their answer
    arrived, unfinished ones with the process that sent them. An unfinished entry whose process is
    gone (killed mid-request) counts as finished when it is found, so a crash costs at most one
    window slot, never a stuck pacer. Times are wall-clock (``time.time``): the only clock every
    process on a machine agrees on. If the directory cannot be used, pacing falls back to this
    process alone, with a warning.
    """

    def __init__(
        self,
        directory: str,
        key: str,
        calls: int,
        window_s: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        before_wait: BeforeWait = _no_check,
        pid_alive: Callable[[int], bool] = _pid_alive,
    ) -> None:
        self.directory = directory
        self.key = key
        self.calls = calls
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self.before_wait = before_wait
        self._pid_alive = pid_alive
        self._fallback: EndpointPacer | None = None

    @property
    def enabled(self) -> bool:
        return self.calls > 0 and self.window_s > 0

    def path_for(self, path: str) -> str:
        endpoint = hashlib.sha256(path.encode()).hexdigest()[:16]
        # not ``.json``: the directory is the token cache's, whose files are the ``*.json`` ones
        return os.path.join(self.directory, f"fxiaoke-pace-{self.key}-{endpoint}.pacing")

    @contextlib.contextmanager
    def slot(self, path: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        if self._fallback is not None:
            with self._fallback.slot(path):
                yield
            return
        state_path = self.path_for(path)
        entry_id = self._acquire(state_path)
        if entry_id is None:  # the directory is unusable: this process alone from now on
            with self._fallback_slot(path):
                yield
            return
        try:
            yield
        finally:
            try:
                self._finish(state_path, entry_id)
            except OSError as err:  # the entry ages out as a dead process's would
                log.warning("Could not record a finished request in %s: %s", state_path, err)

    def _fallback_slot(self, path: str) -> contextlib.AbstractContextManager[None]:
        if self._fallback is None:
            self._fallback = EndpointPacer(
                self.calls, self.window_s, self._clock, self._sleep, self.before_wait
            )
        return self._fallback.slot(path)

    # --- the shared file ---------------------------------------------------------------------------
    def _acquire(self, state_path: str) -> str | None:
        """Take a slot in the shared file, waiting as needed; None if the file cannot be used."""
        entry_id = uuid.uuid4().hex
        while True:
            try:
                with self._locked(state_path) as entries:
                    wait = self._wait_needed(entries, self._clock())
                    if wait <= 0:
                        entries.append({"id": entry_id, "pid": os.getpid(), "done": None})
            except OSError as err:
                log.warning(
                    "Fxiaoke pacing directory %s unusable (%s); pacing this process alone",
                    self.directory,
                    err,
                )
                return None
            if wait <= 0:
                return entry_id
            self.before_wait(wait)  # outside the lock: it may raise, and the sleep must not block others
            self._sleep(wait)

    def _finish(self, state_path: str, entry_id: str) -> None:
        with self._locked(state_path) as entries:
            now = self._clock()
            for entry in entries:
                if entry.get("id") == entry_id:
                    entry["done"] = now
                    break
            else:  # dropped meanwhile (e.g. the file was rewritten): still count this request
                entries.append({"id": entry_id, "pid": os.getpid(), "done": now})

    def _wait_needed(self, entries: list[dict], now: float) -> float:
        """Drop aged and dead entries in place; seconds until a slot frees (0: one is free now)."""
        kept = []
        for entry in entries:
            done = entry.get("done")
            if done is None and not self._pid_alive(int(entry.get("pid", 0))):
                entry["done"] = done = now
            if done is None or (now - self.window_s < done <= now + self.window_s):
                kept.append(entry)  # a time far in the future (clock stepped back) is dropped
        entries[:] = kept
        if len(kept) < self.calls:
            return 0.0
        finished = sorted(entry["done"] for entry in kept if entry["done"] is not None)
        if len(kept) - len(finished) >= self.calls or not finished:
            return min(IN_FLIGHT_POLL_S, self.window_s)
        # the oldest finished requests must leave the window until one slot is free
        oldest_to_leave = finished[len(kept) - self.calls]
        return max(oldest_to_leave + self.window_s - now, 0.001)

    @contextlib.contextmanager
    def _locked(self, state_path: str) -> Iterator[list[dict]]:
        with files.locked(state_path) as fd, os.fdopen(os.dup(fd), "r+", encoding="utf-8") as handle:
            entries = _parse(handle.read(), state_path)
            yield entries
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(entries, separators=(",", ":")))


def _parse(text: str, state_path: str) -> list[dict]:
    """The entries in a state file; an empty or broken file is an empty window, never fatal."""
    if not text.strip():
        return []
    try:
        entries = json.loads(text)
    except ValueError:
        log.warning("Ignoring unreadable Fxiaoke pacing file %s", state_path)
        return []
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("id"), str)
        and (entry.get("done") is None or isinstance(entry.get("done"), (int, float)))
    ]
