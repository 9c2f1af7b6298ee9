"""The ``/__sandbox__/`` inspection and control endpoints, so scripts outside the process can drive it.

No auth: the sandbox only ever listens on loopback. Answers are plain JSON with HTTP status codes
(400 for a bad request, 404 / 405 for unknown routes); they are not gateway envelopes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fxiaoke_provider.sandbox.state import SandboxState

AdminAnswer = tuple[int, Any]


def _json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def _add_fault(state: SandboxState, body: dict[str, Any]) -> Any:
    params = dict(body)
    path, kind = params.pop("path", None), params.pop("kind", None)
    if not isinstance(path, str) or not isinstance(kind, str):
        raise ValueError("'path' and 'kind' are required strings")
    fault = state.add_fault(path, kind, params.pop("count", 1), **params)
    return {"ok": True, "path": path, "fault": fault.as_dict()}


def _set_chaos(state: SandboxState, body: dict[str, Any]) -> Any:
    path, rate = body.get("path"), body.get("rate")
    if not isinstance(path, str) or rate is None:
        raise ValueError("'path' (string) and 'rate' (0..1) are required")
    kinds, seed = body.get("kinds") or [], body.get("seed")
    if not isinstance(kinds, list) or (seed is not None and not isinstance(seed, int)):
        raise ValueError("'kinds' must be a list of fault specs and 'seed' an int")
    state.set_chaos(path, rate, kinds, seed)
    return {"ok": True, "path": path, "rate": rate}


def _advance_clock(state: SandboxState, body: dict[str, Any]) -> Any:
    return {"ok": True, "clock_offset_s": state.advance_clock(body.get("seconds"))}


def _age_token(state: SandboxState, body: dict[str, Any]) -> Any:
    remaining = state.age_current_token(body.get("seconds"), body.get("style"))
    return {"ok": True, "expires_in": {style: int(left) for style, left in remaining.items()}}


def _message_ids(state: SandboxState, body: dict[str, Any]) -> Any:
    state.set_message_ids(body.get("enabled"))
    return {"ok": True, "message_ids": state.message_ids}


def _clear_faults(state: SandboxState, body: dict[str, Any]) -> Any:
    state.clear_faults(body.get("path"))
    return {"ok": True}


def _reset(state: SandboxState, _body: dict[str, Any]) -> Any:
    state.reset()
    return {"ok": True}


def _expire_tokens(state: SandboxState, _body: dict[str, Any]) -> Any:
    state.expire_tokens()
    return {"ok": True}


def _crm_object(body: dict[str, Any]) -> str:
    name = body.get("object")
    if not isinstance(name, str) or not name:
        raise ValueError("'object' (an object api name) is required")
    return name


def _crm_seed(state: SandboxState, body: dict[str, Any]) -> Any:
    state.crm.seed(_crm_object(body), body.get("count"))
    return {"ok": True}


def _crm_put(state: SandboxState, body: dict[str, Any]) -> Any:
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("'records' must be a list of objects")
    return {"ok": True, "ids": state.crm.put(_crm_object(body), records)}


def _crm_records(state: SandboxState, body: dict[str, Any]) -> Any:
    return state.crm.records(
        _crm_object(body), include_invalid=body.get("include_invalid", True) is not False
    )


def _crm_edit(state: SandboxState, body: dict[str, Any]) -> Any:
    fields, record_id, at = body.get("fields"), body.get("id"), body.get("modified_at_ms")
    if not isinstance(fields, dict) or not isinstance(record_id, str):
        raise ValueError("'id' (a record _id) and 'fields' (an object) are required")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int)):
        raise ValueError("'modified_at_ms' must be an int")
    try:
        return state.crm.edit(_crm_object(body), record_id, fields, modified_at_ms=at)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None


_Action = Callable[[SandboxState, dict[str, Any]], Any]
ROUTES: dict[tuple[str, str], _Action] = {
    ("GET", "messages"): lambda state, _body: state.messages(),
    ("GET", "requests"): lambda state, _body: state.requests(),
    ("GET", "revokes"): lambda state, _body: state.revokes(),
    ("GET", "stats"): lambda state, _body: state.stats(),
    ("GET", "health"): lambda _state, _body: {"status": "ok"},
    ("GET", "faults"): lambda state, _body: state.pending_faults(),
    ("GET", "media"): lambda state, _body: state.media(),
    ("GET", "deliveries-per-person"): lambda state, _body: state.deliveries_per_person(),
    ("GET", "directory"): lambda state, _body: state.directory.as_dict(),
    ("GET", "crm"): lambda state, _body: state.crm.counts(),
    ("POST", "crm/seed"): _crm_seed,
    ("POST", "crm/put"): _crm_put,
    ("POST", "crm/records"): _crm_records,
    ("POST", "crm/edit"): _crm_edit,
    ("POST", "reset"): _reset,
    ("POST", "expire-tokens"): _expire_tokens,
    ("POST", "advance-clock"): _advance_clock,
    ("POST", "age-token"): _age_token,
    ("POST", "message-ids"): _message_ids,
    ("POST", "faults"): _add_fault,
    ("POST", "chaos"): _set_chaos,
    ("POST", "faults/clear"): _clear_faults,
    ("DELETE", "faults/clear"): _clear_faults,
}
_KNOWN = frozenset(name for _method, name in ROUTES)


def handle_admin(state: SandboxState, method: str, route: str, raw_body: bytes) -> AdminAnswer:
    """``route`` is the path after the prefix, e.g. ``stats`` or ``faults/clear``."""
    route = route.strip("/")
    action = ROUTES.get((method, route))
    if action is None:
        if route in _KNOWN:
            return 405, {"error": f"{method} not allowed here"}
        return 404, {"error": "no such route"}
    try:
        return 200, action(state, _json_body(raw_body) if method != "GET" else {})
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}
