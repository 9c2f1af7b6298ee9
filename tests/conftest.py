"""Shared fixtures: a project-local Airflow home, the sandbox gateway on loopback, a connection to it.

Fast test loop (daily work; CI and ``scripts/test.sh`` run everything, ``slow`` included)::

    FXIAOKE_AIRFLOW=3 bash scripts/test.sh -m "not slow" -q

Measured on the 2-core development machine (Airflow 3.3.2): 33 s for the whole command, of which
pytest 27 s for 757 tests. ``slow`` marks the tests
that start processes (``airflow`` CLI, API server, ``airflow dags test``, task processes) and the soak.

Environment comes first, before anything imports Airflow, so the suite can never touch the
user's own Airflow home or database even when pytest is started by hand. Plain helpers live in
``tests/support.py``; this file holds only fixtures and the environment, and nothing imports it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support import EXAMPLE_DAGS, ROOT, TEST_DAGS, connection_dict

os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow-home" / "pytest"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path)},
        }
        # "example_dags" is reserved by Airflow 3 for its own examples, hence the prefix
        for name, path in (("fxiaoke_example_dags", EXAMPLE_DAGS), ("fxiaoke_test_dags", TEST_DAGS))
    ]
)
if not Path(os.environ["AIRFLOW_HOME"]).resolve().is_relative_to(ROOT):
    raise RuntimeError(f"AIRFLOW_HOME must be inside the project for tests; got {os.environ['AIRFLOW_HOME']}")

import pytest

from fxiaoke_provider.sandbox import SandboxGateway

#: A sample user project with its own Airflow settings, run by tests/test_pytest_plugin.py in a
#: subprocess; collecting it here would import its conftest and replace this suite's settings.
collect_ignore = ["user_project"]


def _ensure_metadata_db() -> None:
    """``scripts/test.sh`` migrates a fresh DB; a bare ``pytest`` run gets one here."""
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            env=os.environ,
        )


_ensure_metadata_db()


@pytest.fixture
def sandbox():
    """A fresh gateway per test on an ephemeral loopback port, documented limits unless overridden."""
    with SandboxGateway(port=0, token_delay_s=0.0) as gateway:
        yield gateway


@pytest.fixture
def use_connection(monkeypatch, tmp_path):
    """Install ``fxiaoke_default`` (or another id) as an ``AIRFLOW_CONN_*`` JSON variable.

    ``fields`` replaces top-level keys (``host``, ``password``...), other keywords join the extras.
    """

    def install(
        gateway: SandboxGateway,
        conn_id: str = "fxiaoke_default",
        *,
        fields: dict | None = None,
        **extra: object,
    ) -> dict:
        conn = connection_dict(gateway, tmp_path, fields=fields, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn

    return install


def _secrets_masker():
    try:
        from airflow.sdk._shared.secrets_masker import _secrets_masker
    except ImportError:
        try:  # Airflow 3.0 / 3.1
            from airflow.sdk.execution_time.secrets_masker import _secrets_masker
        except ImportError:  # Airflow 2.11
            from airflow.utils.log.secrets_masker import _secrets_masker
    return _secrets_masker()


@pytest.fixture(autouse=True)
def _fresh_secrets_masker():
    """Each test starts with the secrets masker a new task process has.

    Airflow's masker keeps every secret of the process in one regex, recompiled on each new secret
    and run over every log line; across a whole suite (hundreds of tokens) that made late tests
    several times slower than the same tests run alone.
    """
    yield
    masker = _secrets_masker()
    masker.patterns = set()
    masker.replacer = None


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3-compatible server on loopback (moto's), one per session: Airflow's object storage keeps
    one filesystem per connection id in the process, so the endpoint must not change between tests."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch):
    """A fresh bucket on the loopback S3 server, reachable through the ``aws_default`` connection."""
    import boto3

    from tests.support import S3Bucket, aws_connection

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws_connection(s3_endpoint)))
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"lake-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return S3Bucket(name, client)
