"""The sandbox gateway in its own process, so it never shares the benchmark client's GIL."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from fxiaoke_provider.sandbox import DEFAULT_APP_ID, DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE
from fxiaoke_provider.sandbox.config import ADMIN_PREFIX

USER_ID = "1000"
READY_TIMEOUT_S = 120.0


class SandboxProcess:
    """A running ``python -m fxiaoke_provider.sandbox`` and its admin endpoints."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url = url
        self.process = process
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def admin(self, method: str, route: str) -> Any:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, ADMIN_PREFIX + route, body=b"{}" if method == "POST" else None)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "stats")

    def reset(self) -> None:
        self.admin("POST", "reset")

    def connection_json(self, token_cache_dir: str, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_*`` value pointing at this sandbox, client pacing off."""
        return json.dumps(
            {
                "conn_type": "fxiaoke",
                "host": self.url,
                "login": DEFAULT_APP_ID,
                "password": DEFAULT_APP_SECRET,
                "extra": {
                    "permanent_code": DEFAULT_PERMANENT_CODE,
                    "user_id": USER_ID,
                    "token_cache_dir": token_cache_dir,
                    "rate_limit_calls": 0,
                    **extra,
                },
            }
        )


@contextlib.contextmanager
def sandbox_process(*extra_args: str) -> Iterator[SandboxProcess]:
    """Start the sandbox on a free port (rate limit off, instant tokens unless overridden)."""
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-") as tmp:
        ready = os.path.join(tmp, "ready")
        args = ["--port", "0", "--ready-file", ready, "--quiet", "--rate-limit-calls", "0"]
        process = subprocess.Popen(
            [sys.executable, "-m", "fxiaoke_provider.sandbox", *args, *extra_args],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not os.path.exists(ready):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.05)
            with open(ready, encoding="utf-8") as handle:
                url = handle.read().strip()
            yield SandboxProcess(url, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
