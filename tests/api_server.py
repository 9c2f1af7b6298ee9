"""A login-free ``airflow api-server`` on a free loopback port: the UI's API for the form test and
``ui_check``, the execution API for tasks run in their own processes (``tests/airflow_helpers.py``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import free_port

START_TIMEOUT_S = 120  # a ceiling for a loaded machine, not an expectation


def request_json(url: str, method: str = "GET") -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as answer:  # loopback
        body = answer.read()
    return json.loads(body) if body else None


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        **(extra or {}),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


#: The path that answers once each app is up.
HEALTH_PATHS = {"core": "/api/v2/monitor/health", "execution": "/execution/health"}


@contextmanager
def api_server(
    home: Path, log_path: Path, *, apps: str = "core", env: dict[str, str] | None = None
) -> Iterator[str]:
    """Yields the base URL once the app's health path answers; RuntimeError with the log if not.

    ``apps``: ``core`` (the UI and its API) or ``execution`` (what task processes talk to);
    ``env``: more settings, e.g. the JWT secret the task processes' tokens are signed with.
    """
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = _env(home, env)
    if not (home / "airflow.db").exists():
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    command = [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--apps", apps],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its uvicorn workers are stopped with it
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"api-server did not start:\n{log_path.read_text()[-3000:]}")
            try:
                request_json(base_url + HEALTH_PATHS[apps])
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        yield base_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
