"""Fault specs and the per-path plan deciding which request gets which fault.

Kinds (``deliver`` = process and record the request before the fault shows):

* ``error`` {code, deliver=False}: HTTP 200 JSON with that errorCode.
* ``expired-token`` {}: invalidate every token, answer 20016.
* ``http`` {status}: an HTML page with that HTTP status (502, 503, 504, 500, 429, ...).
* ``non-json`` {}: HTTP 200 with an HTML page, as a wrong host answers.
* ``redirect`` {}: HTTP 302 to the public web site, with an HTML page.
* ``reset`` {deliver=False}: abort the TCP connection without an answer.
* ``delay`` {seconds, deliver=True}: sleep before answering. With ``deliver`` the request is processed
  first and answered normally after the sleep; without it nothing is processed and the late answer
  is errorCode -1 (system busy).
* ``echo_secrets`` {code=-1, deliver=False}: HTTP 200 JSON with that non-zero errorCode whose
  ``errorMessage`` and ``error_description`` QUOTE what the request carried: its appSecret,
  permanentCode and access token / corpAccessToken. The reference warns that an errorMessage is free
  text that may hold what the request carried; this lets a client prove it never shows or logs it.

Queued faults (``add``) hit the next N requests to a path in order; chaos applies a random fault
from a list with a given probability, from a seeded ``random.Random`` so runs can be replayed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "error",
    "expired-token",
    "http",
    "non-json",
    "redirect",
    "reset",
    "delay",
    "echo_secrets",
)

#: Parameters each kind accepts, with their defaults (None = required).
_PARAMS: dict[str, dict[str, Any]] = {
    "error": {"code": None, "deliver": False},
    "expired-token": {},
    "http": {"status": None},
    "non-json": {},
    "redirect": {},
    "reset": {"deliver": False},
    "delay": {"seconds": None, "deliver": True},
    "echo_secrets": {"code": -1, "deliver": False},
}


@dataclass(frozen=True)
class Fault:
    """One fault to inject; only the fields its ``kind`` uses are set."""

    kind: str
    code: int | None = None
    status: int | None = None
    seconds: float | None = None
    deliver: bool = False

    def describe(self) -> str:
        """Short text for logs, e.g. ``http:503`` or ``error:50009+deliver``."""
        detail = self.code if self.code is not None else self.status if self.status is not None else None
        text = self.kind if detail is None else f"{self.kind}:{detail}"
        if self.seconds is not None:
            text += f":{self.seconds:g}s"
        return text + ("+deliver" if self.deliver else "")

    def as_dict(self) -> dict[str, Any]:
        used = _PARAMS[self.kind]
        return {key: value for key, value in asdict(self).items() if key == "kind" or key in used}


def _body_status(status: object) -> bool:
    """Statuses an HTML page can be sent with without breaking the connection's framing."""
    valid = isinstance(status, int) and not isinstance(status, bool) and 200 <= status <= 599
    return valid and status not in (204, 205, 304)


def make_fault(kind: str, **params: Any) -> Fault:
    """A checked fault spec; raises ValueError naming what is wrong, so bad test setups fail loudly."""
    if kind not in _PARAMS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    allowed = _PARAMS[kind]
    unknown = set(params) - set(allowed)
    if unknown:
        raise ValueError(f"fault {kind!r} takes no parameter(s) {', '.join(sorted(unknown))}")
    values = {**allowed, **params}
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"fault {kind!r} needs parameter(s) {', '.join(missing)}")
    if "code" in values and (isinstance(values["code"], bool) or not isinstance(values["code"], int)):
        raise ValueError(f"fault {kind!r}: code must be an int")
    if kind == "echo_secrets" and values["code"] == 0:
        raise ValueError("fault 'echo_secrets': code must be non-zero (an error answer)")
    if "status" in values and not _body_status(values["status"]):
        raise ValueError(f"fault {kind!r}: status must be an HTTP status from 200 to 599 that has a body")
    if "seconds" in values:
        if isinstance(values["seconds"], bool) or not isinstance(values["seconds"], (int, float)):
            raise ValueError(f"fault {kind!r}: seconds must be a number")
        if values["seconds"] < 0:
            raise ValueError(f"fault {kind!r}: seconds must not be negative")
        values["seconds"] = float(values["seconds"])
    if "deliver" in values and not isinstance(values["deliver"], bool):
        raise ValueError(f"fault {kind!r}: deliver must be true or false")
    return Fault(kind=kind, **values)


def fault_from_spec(spec: Mapping[str, Any]) -> Fault:
    """A fault from a dict such as ``{"kind": "http", "status": 503}`` (the chaos and HTTP form)."""
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ValueError(f"a fault spec is a dict with a 'kind'; got {spec!r}")
    params = dict(spec)
    return make_fault(params.pop("kind"), **params)


@dataclass
class _Chaos:
    rate: float
    kinds: tuple[Fault, ...]
    seed: int | None
    rng: random.Random


class FaultPlan:
    """Queued faults and chaos rules per path; the caller holds the lock."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[list[Any]]] = {}
        self._chaos: dict[str, _Chaos] = {}

    def add(self, path: str, fault: Fault, count: int) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive int")
        self._queued.setdefault(path, deque()).append([fault, count])

    def set_chaos(self, path: str, rate: float, kinds: Iterable[Fault], seed: int | None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("rate must be a number from 0 to 1")
        faults = tuple(kinds)
        if rate == 0:
            self._chaos.pop(path, None)
            return
        if not faults:
            raise ValueError("chaos needs at least one fault spec in kinds")
        self._chaos[path] = _Chaos(float(rate), faults, seed, random.Random(seed))

    def take(self, path: str) -> Fault | None:
        """The fault for the request now arriving on ``path``, consuming a queued one first."""
        queue = self._queued.get(path)
        if queue:
            entry = queue[0]
            entry[1] -= 1
            if entry[1] == 0:
                queue.popleft()
            return entry[0]
        chaos = self._chaos.get(path)
        if chaos is not None and chaos.rng.random() < chaos.rate:
            return chaos.rng.choice(chaos.kinds)
        return None

    def clear(self, path: str | None = None) -> None:
        if path is None:
            self._queued.clear()
            self._chaos.clear()
        else:
            self._queued.pop(path, None)
            self._chaos.pop(path, None)

    def pending(self) -> dict[str, Any]:
        """What is armed, for inspection: queued faults with their remaining counts, and chaos rules."""
        return {
            "queued": {
                path: [{**fault.as_dict(), "count": left} for fault, left in queue]
                for path, queue in self._queued.items()
                if queue
            },
            "chaos": {
                path: {
                    "rate": rule.rate,
                    "seed": rule.seed,
                    "kinds": [fault.as_dict() for fault in rule.kinds],
                }
                for path, rule in self._chaos.items()
            },
        }
