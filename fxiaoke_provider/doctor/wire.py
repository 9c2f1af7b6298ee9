"""A record of every answer the hook's HTTP session received: ids, codes, field names; never values.

The hook returns answers but not the ``traceId`` of a successful token call, and support asks for
those ids, so the doctor listens on the session's ``response`` hook instead of reaching into the
hook's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fxiaoke_provider.gateway import protocol


@dataclass(frozen=True)
class Exchange:
    path: str
    http_status: int
    error_code: int | None
    trace_id: str | None
    third_trace_id: str | None
    elapsed_ms: float
    fields: tuple[str, ...] = field(default=())


class WireLog:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def attach(self, session: Any) -> bool:
        """Listen on a ``requests.Session``; False when the hook offers none (ids then come from errors)."""
        hooks = getattr(session, "hooks", None)
        if not isinstance(hooks, dict) or not isinstance(hooks.get("response"), list):
            return False
        hooks["response"].append(self._on_response)
        return True

    def mark(self) -> int:
        return len(self.exchanges)

    def since(self, mark: int) -> list[Exchange]:
        return self.exchanges[mark:]

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        parts = urlsplit(response.url)
        third = parse_qs(parts.query).get(protocol.TRACE_QUERY_PARAM, [None])[0]
        body: Any = None
        if response.content[:1] == b"{":
            try:
                body = response.json()
            except ValueError:
                body = None
        if not isinstance(body, dict):
            body = {}
        code = body.get(protocol.ERROR_CODE_FIELD)
        trace_id = body.get(protocol.TRACE_ID_FIELD)
        self.exchanges.append(
            Exchange(
                path=parts.path,
                http_status=response.status_code,
                error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                trace_id=trace_id if isinstance(trace_id, str) and trace_id else None,
                third_trace_id=third,
                elapsed_ms=response.elapsed.total_seconds() * 1000,
                fields=tuple(sorted(str(k) for k in body)),
            )
        )
