"""Every provider error survives ``pickle`` and ``copy.deepcopy``: Airflow moves exceptions between
processes (task runner to supervisor, callbacks, the triggerer). Each error here comes from a real
failure against the sandbox, not from a constructor call."""

from __future__ import annotations

import copy
import json
import pickle
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fxiaoke_provider import exceptions
from fxiaoke_provider.exceptions import FxiaokeError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging import wire

SEND = wire.SERVICE_MESSAGE_SEND_PATH


class _TokenlessGateway(BaseHTTPRequestHandler):
    """Answers every request with success JSON that lacks the token fields."""

    def do_POST(self) -> None:
        body = json.dumps({"errorCode": 0, "traceId": "E-O.TOKENLESS"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tokenless_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenlessGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _fail(action: Callable[[], object]) -> FxiaokeError:
    with pytest.raises(FxiaokeError) as excinfo:
        action()
    return excinfo.value


def real_failures(sandbox, use_connection, monkeypatch, tokenless_gateway) -> dict[type, FxiaokeError]:
    """One error of every class, each raised by the hook in a real exchange (or a real refusal)."""
    found: dict[type, FxiaokeError] = {}

    def keep(error: FxiaokeError) -> None:
        found.setdefault(type(error), error)

    use_connection(sandbox, retry_max_attempts=2)
    hook = FxiaokeHook(sleep=lambda _s: None)
    keep(_fail(lambda: hook.send_message(["1000"], "")))  # invalid input
    sandbox.add_fault(SEND, "error", code=protocol.NO_QUOTA)
    keep(_fail(lambda: hook.send_message(["1000"], "quota")))  # permanent
    sandbox.add_fault(SEND, "error", count=2, code=protocol.SYSTEM_BUSY)
    keep(_fail(lambda: hook.send_message(["1000"], "busy")))  # transient
    sandbox.add_fault(SEND, "error", code=protocol.SERVICE_EXCEPTION)
    keep(_fail(lambda: hook.send_message(["1000"], "unknown")))  # outcome unknown
    sandbox.add_fault(SEND, "expired-token", count=2)
    keep(_fail(lambda: hook.send_message(["1000"], "expired")))  # token expired
    sandbox.add_fault(SEND, "non-json")
    keep(_fail(lambda: hook.send_message(["1000"], "html")))  # wrong host
    recipients = [str(1000 + i) for i in range(600)]
    original_call = hook.client.call
    calls = {"n": 0}

    def second_batch_refused(path, body, **kwargs):  # arm a refusal for the second request only
        calls["n"] += 1
        if calls["n"] == 2:
            sandbox.add_fault(SEND, "error", code=protocol.NO_QUOTA)
        return original_call(path, body, **kwargs)

    monkeypatch.setattr(hook.client, "call", second_batch_refused)
    keep(_fail(lambda: hook.send_message(recipients, "split")))  # partial send
    conn = use_connection(sandbox)
    monkeypatch.setenv("AIRFLOW_CONN_FXIAOKE_DEFAULT", json.dumps({**conn, "password": "wrong-secret"}))
    keep(_fail(lambda: FxiaokeHook().fetch_token()))  # auth (fetch_token bypasses the cached token)
    use_connection(sandbox, permanent_code="")
    keep(_fail(lambda: FxiaokeHook().send_message(["1000"], "x")))  # connection config
    monkeypatch.setenv(
        "AIRFLOW_CONN_FXIAOKE_DEFAULT",
        json.dumps(
            {
                "conn_type": "fxiaoke",
                "host": tokenless_gateway,
                "login": "FSAID_x",
                "password": "s",
                "extra": {"permanent_code": "p", "user_id": "1000", "token_cache": "memory"},
            }
        ),
    )
    keep(_fail(lambda: FxiaokeHook().get_token()))  # protocol error
    return found


def test_every_error_class_travels(sandbox, use_connection, monkeypatch, tokenless_gateway) -> None:
    found = real_failures(sandbox, use_connection, monkeypatch, tokenless_gateway)
    every_class = {
        cls
        for cls in vars(exceptions).values()
        if isinstance(cls, type) and issubclass(cls, FxiaokeError) and cls is not FxiaokeError
    }
    assert set(found) == every_class, f"no real failure produced {every_class - set(found)}"
    for cls, error in found.items():
        for copy_of in (lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy):
            travelled = copy_of(error)
            assert type(travelled) is cls
            assert str(travelled) == str(error)
            assert travelled.__dict__.keys() == error.__dict__.keys()
            for name in ("error_code", "trace_id", "third_trace_id", "path", "retryable_by_airflow"):
                assert getattr(travelled, name) == getattr(error, name), (cls.__name__, name)
