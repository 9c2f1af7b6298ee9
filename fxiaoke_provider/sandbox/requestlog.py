"""One readable line per API request, for people watching a demo or reading a failed CI job.

Lines carry only ids, codes and counts the sandbox itself checked: never message content, tokens,
secrets or any other free text a client sent, so a log can be pasted into a bug report as is.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, TextIO

from fxiaoke_provider.sandbox.faults import Fault


class RequestLog:
    """Writes lines to ``stream`` (or nowhere); a broken stream never fails a request."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.stream is not None

    def write(self, record: dict[str, Any], **details: Any) -> None:
        """One line for ``record``; ``details`` are ``format_line``'s keyword arguments."""
        if self.stream is None:
            return
        line = format_line(record, **details)
        # a closed or broken stream must not fail the request: the gateway keeps serving
        with self._lock, contextlib.suppress(OSError, ValueError):
            self.stream.write(line + "\n")


def format_line(
    record: dict[str, Any],
    *,
    at: float,
    shown_trace_id: str,
    fault: Fault | None,
    msg_type: str | None,
    recipients: int | None,
) -> str:
    """``<time> POST <path> thirdTraceId=<id> -> <outcome> traceId=<id> [details]``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    if record["errorCode"] is not None:
        outcome = f"errorCode={record['errorCode']}"
    elif record["http_status"] is None:
        outcome = "connection reset"
    else:
        outcome = f"http={record['http_status']}"
    parts = [stamp, "POST", record["path"], f"thirdTraceId={shown_trace_id}", "->", outcome]
    parts.append(f"traceId={record['traceId']}")
    if record["auth_style"]:
        parts.append(f"auth={record['auth_style']}")
    if msg_type:
        parts.append(f"msgType={msg_type}")
    if recipients is not None:
        parts.append(f"toUser={recipients}")
    if fault is not None:
        parts.append(f"fault={fault.describe()}")
    if record["delivered"]:
        parts.append("delivered")
    return " ".join(parts)
