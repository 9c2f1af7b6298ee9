"""``FxiaokeClient`` works without Airflow: a plain script sends a message through it.

A fresh interpreter (nothing of Airflow loaded by a test runner or a conftest) imports the client,
sends a text to one person and a split send to 600 through a sandbox gateway, lists the CRM objects,
reads 250 records and creates one, and then reports which modules it loaded. ``airflow`` must not
be among them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.slow  # a fresh interpreter

SCRIPT = """
import io, json, sys
from fxiaoke_provider.client import FxiaokeClient
from fxiaoke_provider.sandbox import SandboxGateway, connection_for

seed = {"AccountObj": 250}
with SandboxGateway(port=0, token_delay_s=0, log_stream=io.StringIO(), crm_seed=seed) as gateway:
    conn = connection_for(gateway.url)
    extra = conn["extra"]
    client = FxiaokeClient(
        host=conn["host"],
        app_id=conn["login"],
        app_secret=conn["password"],
        permanent_code=extra["permanent_code"],
        user_id=extra["user_id"],
        auth_style=extra["auth_style"],
        service_id=extra["service_id"],
        token_cache_dir=sys.argv[1],
    )
    one = client.send_message(["1000"], "from a plain script")
    many = client.messaging.send_message([str(2000 + i) for i in range(600)], "to many")
    objects = client.crm.list_objects()
    accounts = sum(1 for _ in client.iter_records("AccountObj", fields=["name"]))
    lead_id = client.create_record("LeadsObj", {"name": "from a plain script"})
    lead = client.get_record("LeadsObj", lead_id)
    delivered = [m["toUser"] for m in gateway.messages()]
    stats = gateway.stats()
print(json.dumps({
    "answers": [len(one), len(many)],
    "delivered": [len(users) for users in delivered],
    "token_calls": stats["token_calls"],
    "crm_objects": len(objects),
    "accounts": accounts,
    "lead": lead["name"],
    "airflow": sorted(name for name in sys.modules if name == "airflow" or name.startswith("airflow.")),
}))
"""


def test_a_plain_script_sends_through_the_client_without_airflow(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "token-cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["airflow"] == []
    assert report["answers"] == [1, 2]
    assert report["delivered"] == [1, 500, 100]
    assert report["token_calls"] == 1
    assert report["crm_objects"] > 0  # the CRM capability works through the same client
    assert report["accounts"] == 250  # three pages read
    assert report["lead"] == "from a plain script"
    assert (tmp_path / "token-cache").is_dir()  # the machine's shared token file, without Airflow
