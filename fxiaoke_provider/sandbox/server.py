"""HTTP plumbing of the sandbox: a threaded stdlib server, keep-alive, and the ``SandboxGateway`` API.

Only I/O lives here (framing, routing, resets); the gateway's rules are in ``engine``. Every answer
has a Content-Length so HTTP/1.1 connections stay reusable, and headers and body leave in one write.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from fxiaoke_provider.sandbox.admin import handle_admin
from fxiaoke_provider.sandbox.answers import answer
from fxiaoke_provider.sandbox.config import (
    ADMIN_PREFIX,
    DEFAULT_APP,
    DEFAULT_HOST,
    DEFAULT_TOKEN_DELAY_S,
    SandboxApp,
)
from fxiaoke_provider.sandbox.directory import DEFAULT_DIRECTORY, Directory
from fxiaoke_provider.sandbox.engine import ApiCall, Reply, SandboxEngine
from fxiaoke_provider.sandbox.requestlog import RequestLog
from fxiaoke_provider.sandbox.rules import (
    API_PATHS,
    HEADER_AUTHORIZATION,
    HEADER_EA,
    HEADER_USER_ID,
    INVALID_PARAMETER,
    RATE_LIMIT_CALLS,
    RATE_LIMIT_WINDOW_S,
    TOKEN_ENDPOINT_CALLS_PER_MINUTE,
    TRACE_QUERY_PARAM,
    is_loopback,
)
from fxiaoke_provider.sandbox.state import SandboxState

#: Larger bodies are refused (413): 500 recipients and 7 articles fit in a few dozen KB, and an
#: upload over the 5 MB image limit still arrives whole, to be refused by the gateway's own rule.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Idle keep-alive connections are closed after this long, so stuck clients do not pin threads.
IDLE_TIMEOUT_S = 120.0
#: How often ``serve_forever`` checks for shutdown when nothing wakes it (``stop()`` pokes it awake).
POLL_INTERVAL_S = 0.5


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler sleeping in a ``delay`` fault must not hold up stop()
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], engine: SandboxEngine, state: SandboxState) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.engine = engine
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall; not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Wake every handler waiting on a keep-alive connection so it ends with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # clients that gave up (timeouts, resets): expected
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FxiaokeSandbox/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # buffered: headers and body go out in one send when the request is done
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the sandbox writes its own one-line-per-request log without secrets."""

    def do_POST(self) -> None:
        self._route("POST")

    def do_GET(self) -> None:
        self._route("GET")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    # --- routing ---------------------------------------------------------------------------------
    def _route(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith(ADMIN_PREFIX):
            status, payload = handle_admin(self.server.state, method, path[len(ADMIN_PREFIX) :], body)
            self._send_json(status, payload)
        elif path not in API_PATHS:
            self.server.state.count("not_found")
            message = f"invalid parameter path: no API at {path}"
            self._send_json(404, answer(INVALID_PARAMETER, self.server.state.new_trace_id(), message))
        elif method != "POST":
            message = f"invalid parameter method: {path} takes POST only"
            payload = answer(INVALID_PARAMETER, self.server.state.new_trace_id(), message)
            self._send_json(405, payload, ("Allow", "POST"))
        else:
            query = parse_qs(parts.query, keep_blank_values=True)
            call = ApiCall(
                path=path,
                third_trace_id=query.get(TRACE_QUERY_PARAM, [None])[0],
                body=body,
                authorization=self.headers.get(HEADER_AUTHORIZATION),
                ea=self.headers.get(HEADER_EA),
                user_id=self.headers.get(HEADER_USER_ID),
                content_type=self.headers.get("Content-Type"),
                query={name: values[0] for name, values in query.items()},
            )
            self._send_reply(self.server.engine.handle(call))

    def _read_body(self) -> bytes | None:
        """The request body, read fully so the connection stays in sync; None if it was refused."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            size = -1
        if size < 0 or size > MAX_BODY_BYTES:
            self.close_connection = True
            self._send_json(413 if size > 0 else 400, {"error": "bad or too large Content-Length"})
            return None
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                size = -1
            total += max(size, 0)
            if size < 0 or total > MAX_BODY_BYTES:
                self.close_connection = True
                self._send_json(400, {"error": "bad chunked body"})
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    # --- answering -------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, *headers: tuple[str, str]) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, *headers: tuple[str, str]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8", *headers)

    def _send_reply(self, reply: Reply) -> None:
        if reply.abort:
            self._abort()
        elif reply.payload is not None:
            self._send_json(reply.status, reply.payload)
        else:
            headers = (("Location", reply.location),) if reply.location else ()
            self._send(reply.status, (reply.html or "").encode(), "text/html; charset=utf-8", *headers)

    def _abort(self) -> None:
        """Drop the connection with a TCP reset and no answer at all (SO_LINGER 0, then close)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for stream in (self.rfile, self.wfile):  # the socket only really closes once its files are closed
            with contextlib.suppress(OSError):
                stream.close()
        self.connection.close()
        self.wfile = io.BytesIO()  # the stdlib flushes wfile after the handler returns


class SandboxGateway:
    """An offline Fxiaoke gateway on loopback, for tests and demos; also a context manager.

    ``directory`` replaces the default address book; ``message_ids=True`` makes send answers carry
    a ``messageId`` (a HYPOTHETICAL tenant behaviour, off by default: no documented send answer
    has one); ``initial_token_age_s`` starts with tokens already that old, so a brand-new client
    is handed a token late in its life (e.g. 6610 -> ``expiresIn`` 590 in header style).
    ``crm_seed`` gives CRM objects generated records, e.g. ``{"AccountObj": 25000, "Invoice__c": 50}``
    (preset objects exist with no records otherwise; a custom object exists once it is named here,
    seeded through ``seed_records`` or given records through ``put_records``);
    ``crm_record_bytes`` pads each seeded record to about that many bytes of JSON (its ``remark``).
    ``count_refused_token_calls=True`` counts refused token calls in the token endpoint's window
    too, as many rate limiters do (the reference does not say which kind the gateway is), so a
    client that retries too soon keeps the window full itself.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        app: SandboxApp = DEFAULT_APP,
        rate_limit_calls: int = RATE_LIMIT_CALLS,
        rate_limit_window_s: float = RATE_LIMIT_WINDOW_S,
        token_calls_per_minute: int = TOKEN_ENDPOINT_CALLS_PER_MINUTE,
        token_delay_s: float = DEFAULT_TOKEN_DELAY_S,
        log_stream: TextIO | None = None,
        directory: Directory = DEFAULT_DIRECTORY,
        message_ids: bool = False,
        initial_token_age_s: float | None = None,
        crm_seed: Mapping[str, int] | None = None,
        crm_record_bytes: int = 0,
        count_refused_token_calls: bool = False,
    ) -> None:
        if not is_loopback(host):
            raise ValueError(f"the sandbox only listens on loopback; refusing host {host!r}")
        self.host = host
        self.port = port
        self.app = app
        self.state = SandboxState(
            app,
            api_paths=API_PATHS,
            rate_limit_calls=rate_limit_calls,
            rate_limit_window_s=rate_limit_window_s,
            token_calls_per_minute=token_calls_per_minute,
            count_refused_token_calls=count_refused_token_calls,
            directory=directory,
            message_ids=message_ids,
            initial_token_age_s=initial_token_age_s,
            crm_seed=crm_seed,
            crm_record_bytes=crm_record_bytes,
        )
        self._engine = SandboxEngine(self.state, token_delay_s=token_delay_s, log=RequestLog(log_stream))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> SandboxGateway:
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._server = _Server((self.host, self.port), self._engine, self.state)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_S},
            name=f"fxiaoke-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        deadline = time.monotonic() + 5
        while stopper.is_alive() and time.monotonic() < deadline:  # a throwaway connection wakes select
            with contextlib.suppress(OSError), socket.create_connection(server.server_address[:2], timeout=1):
                pass
            stopper.join(0.01)
        server.server_close()
        server.drop_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SandboxGateway:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- inspection and control (same as the /__sandbox__/ endpoints) ----------------------------
    def messages(self) -> list[dict[str, Any]]:
        """Delivered messages, oldest first (copies)."""
        return self.state.messages()

    def revokes(self) -> list[dict[str, Any]]:
        """Revokes received, oldest first; ``matched`` only for a messageId the sandbox handed out."""
        return self.state.revokes()

    def media(self) -> list[dict[str, Any]]:
        """Accepted uploads, oldest first: media id, filename, size, type (never the bytes)."""
        return self.state.media()

    def deliveries_per_person(self) -> dict[str, Any]:
        """Deliveries per directory person whichever id kind reached them, plus unknown ids."""
        return self.state.deliveries_per_person()

    @property
    def directory(self) -> Directory:
        return self.state.directory

    def set_message_ids(self, enabled: bool) -> None:
        """Turn the hypothetical ``messageId`` in send answers on or off."""
        self.state.set_message_ids(enabled)

    def age_current_token(self, seconds: float, style: str | None = None) -> dict[str, float]:
        """Make the token the next token call hands out ``seconds`` old (``style`` None: both styles).

        Returns the remaining lifetime per style: the ``expiresIn`` the next client is given.
        """
        return self.state.age_current_token(seconds, style)

    def requests(self) -> list[dict[str, Any]]:
        """One record per API request, oldest first (copies, no secrets)."""
        return self.state.requests()

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def pending_faults(self) -> dict[str, Any]:
        return self.state.pending_faults()

    def add_fault(self, path: str, kind: str, count: int = 1, **params: Any) -> None:
        """The next ``count`` requests to ``path`` get this fault (see ``faults`` for kinds)."""
        self.state.add_fault(path, kind, count, **params)

    def set_chaos(
        self, path: str, rate: float, kinds: Sequence[Mapping[str, Any]] = (), seed: int | None = None
    ) -> None:
        """Each request to ``path`` gets a random fault from ``kinds`` with probability ``rate``."""
        self.state.set_chaos(path, rate, kinds, seed)

    def clear_faults(self, path: str | None = None) -> None:
        self.state.clear_faults(path)

    def expire_tokens(self) -> None:
        self.state.expire_tokens()

    def issued_tokens(self) -> list[str]:
        """Every token value issued since start (secrets: for leak-scanning tests only, never logged)."""
        return self.state.issued_tokens()

    def advance_clock(self, seconds: float) -> None:
        self.state.advance_clock(seconds)

    def reset(self) -> None:
        self.state.reset()

    # --- CRM records (test set-up and inspection; no gateway rules apply) ------------------------
    def seed_records(self, object_api_name: str, count: int) -> None:
        """Give an object without records ``count`` generated ones (deterministic, see ``crm_seed``)."""
        self.state.crm.seed(object_api_name, count)

    def put_records(self, object_api_name: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add records as given and return their new ``_id`` values (sorting after every existing one).

        ``owner`` defaults to ``["1000"]``, ``life_status`` to ``normal``, the times to now (epoch ms);
        give ``create_time`` / ``last_modified_time`` to place a record in a window. Values are not
        checked against the describe: this is set-up, not a create through the gateway.
        """
        return self.state.crm.put(object_api_name, records)

    def records(self, object_api_name: str, *, include_invalid: bool = True) -> list[dict[str, Any]]:
        """Every record of an object in ``_id`` order (copies), invalidated ones unless told not to."""
        return self.state.crm.records(object_api_name, include_invalid=include_invalid)

    def record(self, object_api_name: str, record_id: str) -> dict[str, Any] | None:
        """One record (a copy), or None when the object has no record with that ``_id``."""
        return self.state.crm.record(object_api_name, record_id)

    def edit_record(
        self,
        object_api_name: str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        modified_at_ms: int | None = None,
    ) -> dict[str, Any]:
        """Change a record as someone in the CRM would, e.g. while a client pages through the object.

        Any field may be set, unchecked (``life_status`` too); ``last_modified_time`` moves to now (at
        least 1 ms past its old value) or to ``modified_at_ms``. Returns the record after the edit.
        """
        return self.state.crm.edit(object_api_name, record_id, fields, modified_at_ms=modified_at_ms)

    def crm_counts(self) -> dict[str, dict[str, int]]:
        """Per object: ``records`` (live), ``seeded``, ``invalid``, and how many records the gateway
        ``created``, ``updated``, ``invalidated``, ``deleted``, and ``queries`` it answered; ``edited``
        counts ``edit_record`` calls."""
        return self.state.crm.counts()
