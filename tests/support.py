"""Plain helpers shared by the tests and ``benchmarks``: one copy of each, no fixtures.

Importing this module imports neither Airflow nor the provider (``conftest.py`` must set up the
Airflow environment first). Fixtures live in ``conftest.py`` and build on these; nothing imports
``conftest`` itself. Time is injected, never patched: ``SleepRecorder`` and ``FakeClock`` go in as
``sleep=`` / ``clock=``.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = ROOT / "example_dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"

SERVICE_ID = "FSAID_service_alerts"  # the service account every test connection sends as
USER_ID = "1000"  # the acting user of every test connection


# --- payloads: valid ones; tests break one field at a time ------------------------------------------
TEXT = "Nightly load finished: 1,204,331 rows, 0 rejected."


def card(**overrides: Any) -> dict[str, Any]:
    """A valid composite card with every part."""
    return {
        "head": {"title": "New lead"},
        "first": {"content": "A lead was assigned to you"},
        "form": [{"label": "Company", "value": "ACME"}],
        "remark": {"content": "Reply within a day"},
        "link": {"title": "Open", "url": "https://example.invalid/lead/1"},
        **overrides,
    }


def article(**overrides: Any) -> dict[str, Any]:
    """A valid TEXT article with every optional field."""
    return {
        "title": "Quarterly numbers",
        "author": "Ops",
        "description": "What changed this quarter",
        "coverImage": "media-0001",
        "type": "TEXT",
        "content": "Revenue went up.",
        **overrides,
    }


# --- connections --------------------------------------------------------------------------------
class HasUrl(Protocol):
    url: str


def connection_dict(gateway: HasUrl, tmp_path: Path, *, fields: dict | None = None, **extra: object) -> dict:
    """A JSON-form ``fxiaoke`` connection to ``gateway`` (an in-process sandbox or anything with ``url``).

    ``fields`` replaces top-level keys (``host``, ``password``...); ``extra`` keys join the extras.
    Backoff is capped at 50 ms so retries stay quick; the token file lives under ``tmp_path``.
    """
    from fxiaoke_provider.sandbox import connection_for

    defaults = {
        "user_id": USER_ID,
        "service_id": SERVICE_ID,
        "token_cache_dir": str(tmp_path / "token-cache"),
        "retry_max_wait": 0.05,
    }
    conn = connection_for(gateway.url, **{**defaults, **extra})
    return {**conn, **(fields or {})}


def conn_env(conn_id: str, conn: dict) -> dict[str, str]:
    """The environment variable a deployment would set for this connection."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}


# --- real task processes --------------------------------------------------------------------------
PROC_SEND = Path(__file__).resolve().parent / "proc_send.py"


def run_send_processes(
    conns: list[dict], signal_dir: Path, *, sends: int = 1, timeout_s: float = 300.0
) -> list[dict]:
    """One real process per connection (``tests/proc_send.py``), each sending ``sends`` messages.

    Importing Airflow takes seconds and more so on a busy machine: every process first builds its
    hook, then all start sending at the same moment (a start file). Returns each process's JSON line
    (``trace_ids``, ``elapsed_s`` from the start); a process that failed raises with its stderr.
    """
    signal_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for n, conn in enumerate(conns):
        env = {**os.environ, **conn_env(f"fx_p{n}", conn)}
        procs.append(
            subprocess.Popen(
                [sys.executable, str(PROC_SEND), str(signal_dir), str(sends), f"p{n}", f"fx_p{n}"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + timeout_s
        while len(list(signal_dir.glob("ready-*"))) < len(procs) and time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                break  # a process died: its stderr tells why below
            time.sleep(0.01)
        (signal_dir / "go-0").touch()
        outputs = [p.communicate(timeout=timeout_s) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outputs, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"send process exited {p.returncode}: {err[-3000:]}")
    return [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]


# --- what the sandbox recorded ------------------------------------------------------------------
class RecordsRequests(Protocol):
    def requests(self) -> list[dict[str, Any]]: ...


def requests_to(gateway: RecordsRequests, path: str) -> list[dict[str, Any]]:
    """The requests the sandbox recorded on one path, in arrival order."""
    return [record for record in gateway.requests() if record["path"] == path]


# --- a task instance, as much of it as ``execute`` touches ---------------------------------------
class RecordingTI:
    """Records XCom pushes in order."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any, **_kwargs: Any) -> None:
        self.pushed.append((key, value))


def context_with_ti() -> tuple[dict[str, Any], RecordingTI]:
    ti = RecordingTI()
    return {"ti": ti}, ti


# --- loopback ports -----------------------------------------------------------------------------
def free_port() -> int:
    """A loopback port nobody listens on right now (connection refused until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- injected time ------------------------------------------------------------------------------
class SleepRecorder(list):
    """A ``sleep`` to inject (``FxiaokeHook(sleep=...)``): records every wait it is asked for.

    ``really_sleep=False`` returns at once; with a ``clock`` it advances that clock instead.
    """

    def __init__(self, really_sleep: bool = True, clock: FakeClock | None = None) -> None:
        super().__init__()
        self.really_sleep = really_sleep and clock is None
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
        elif self.really_sleep:
            time.sleep(seconds)


class FakeClock:
    """A clock to inject (``clock=``) that moves only when told to."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- a scripted gateway (unit layer: what a capability sends, without HTTP) -----------------------
@dataclass(frozen=True)
class GatewayCall:
    path: str
    body: dict[str, Any]
    repeatable: bool


Answer = dict[str, Any] | BaseException | Callable[[str, dict[str, Any]], dict[str, Any]]


class ScriptedGateway:
    """Stands in for the client's gateway where a test checks the bodies a capability builds.

    Records every ``call`` (a deep copy of the body) and answers from ``answers`` in order: a dict
    is returned, an exception raised; a callable ``(path, body) -> dict`` answers this call and every
    later one (a small in-memory gateway). Running out of answers fails the test: a call nobody
    scripted is a call the code should not have made.
    """

    def __init__(
        self,
        *answers: Answer,
        auth_style: str = "header",
        user_id: str | None = USER_ID,
        conn_id: str | None = "fxiaoke_default",
    ) -> None:
        self.answers = list(answers)
        self.auth_style = auth_style
        self.user_id = user_id
        self.conn_id = conn_id
        self.calls: list[GatewayCall] = []

    def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        repeatable: bool = False,
        before_send: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        if before_send is not None:
            before_send("scripted-third-trace-id")
        self.calls.append(GatewayCall(path, copy.deepcopy(body), repeatable))
        assert self.answers, f"unscripted call to {path}"
        answer = self.answers[0] if callable(self.answers[0]) else self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(path, body)
        return answer


# --- object storage: the loopback S3 server ------------------------------------------------------
def aws_connection(endpoint: str) -> dict[str, Any]:
    """An ``aws`` connection to an S3-compatible server at ``endpoint`` (test credentials)."""
    return {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }


class S3Bucket:
    """A bucket on the loopback S3 server, read directly (not through the code under test)."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


# --- a scripted CRM store for the upsert engine's edge cases ------------------------------------
class FakeRecords:
    """CRM reads and writes over a dict, counting calls the way the gateway would (one per page).

    ``script[match value]`` makes the next create of that value misbehave: ``"refuse"`` (a content
    refusal, errorCode 10422), ``"lose"`` (created, answer lost), ``"lose-unsent"`` (answer lost,
    nothing created), ``"busy"`` (refused before any work), ``"quota"`` (the tenant's quota is gone).
    Creates without ``name`` are refused locally, as the create check does. The provider's
    exceptions are imported inside ``create_record``, so importing this module still imports nothing.
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.script: dict[Any, str] = {}
        self._next = 0
        for record in records or []:
            self.add(record)

    def add(self, fields: dict[str, Any]) -> str:
        self._next += 1
        record_id = f"{self._next:024x}"
        self.records[record_id] = {"_id": record_id, **fields}
        return record_id

    def count(self, kind: str) -> int:
        return sum(1 for call, _ in self.calls if call == kind)

    def with_value(self, field: str, value: Any) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r.get(field) == value]

    def iter_records(self, object_api_name, *, filters=None, fields=None, page_size=100, after_id=None):
        ((name, operator, values),) = filters
        assert operator == "IN" and len(values) <= 100
        wanted = {str(v) for v in values}
        hits = sorted(
            (r for r in self.records.values() if str(r.get(name)) in wanted), key=lambda r: r["_id"]
        )
        while True:
            self.calls.append(("query", list(values)))
            page = [r for r in hits if after_id is None or r["_id"] > after_id][:page_size]
            for record in page:
                yield {k: v for k, v in record.items() if fields is None or k in fields}
            if len(page) < page_size:
                return
            after_id = page[-1]["_id"]

    def create_record(self, object_api_name, fields, *, before_send=None):
        from fxiaoke_provider import exceptions

        if not fields.get("name"):
            raise exceptions.FxiaokeInvalidInputError(
                "fields['name']", "is required on create and must not be empty"
            )
        third = f"third-{len(self.calls)}"
        if before_send is not None:
            before_send(third)
        self.calls.append(("create", dict(fields)))
        action = next((self.script.pop(v) for v in list(self.script) if v in fields.values()), None)
        ids = {"third_trace_id": third, "path": "/cgi/crm/v2/data/create"}
        if action == "refuse":
            raise exceptions.FxiaokePermanentError(
                "refused", error_code=10422, error_message="bad value", **ids
            )
        if action == "busy":
            raise exceptions.FxiaokeTransientError("busy", error_code=-1, **ids)
        if action == "quota":
            raise exceptions.FxiaokePermanentError("quota", error_code=30002, **ids)
        if action == "lose-unsent":
            raise exceptions.FxiaokeOutcomeUnknownError("lost", **ids)
        record_id = self.add(dict(fields))
        if action == "lose":
            raise exceptions.FxiaokeOutcomeUnknownError("lost", **ids)
        return record_id

    def update_record(self, object_api_name, record_id, fields):
        self.calls.append(("update", (record_id, dict(fields))))
        self.records[record_id].update(fields)


# --- what went on the wire, seen from the client's side ---------------------------------------------
class HasHooks(Protocol):
    hooks: dict[str, list[Any]]


def record_request_bodies(session: HasHooks) -> list[tuple[str, dict[str, Any]]]:
    """Every JSON request body a ``requests.Session`` sends from now on, as ``(path, body)``, in order.

    Listens on the session's ``response`` hook, so it sees what was actually sent, after the client
    added everything it adds (e.g. legacy style's body fields).
    """
    from urllib.parse import urlsplit

    sent: list[tuple[str, dict[str, Any]]] = []

    def on_response(response: Any, *_args: Any, **_kwargs: Any) -> None:
        body = response.request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if isinstance(body, str) and body.startswith("{"):
            sent.append((urlsplit(response.request.url).path, json.loads(body)))

    session.hooks["response"].append(on_response)
    return sent
