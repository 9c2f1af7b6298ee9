"""The three clients whose send rates are compared: the hook, a bare ``requests`` loop, raw ``http.client``.

The bare loop is what a hand-written client minimally does per message: a fresh ``thirdTraceId``,
the JSON body, one keep-alive POST, parse the answer and check ``errorCode``.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fxiaoke_provider import protocol

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
TEXT = "Nightly load finished: 1,204,331 rows, 0 rejected."


@dataclass(frozen=True)
class Rate:
    """Messages per second (wall) and the client's own CPU time per message."""

    per_s: float
    cpu_us: float


def timed(send_one: Any, count: int) -> Rate:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        send_one()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Rate(count / wall, cpu / count * 1e6)


def auth_headers(token_value: str, tenant: str, user_id: str) -> dict[str, str]:
    return {
        **JSON_HEADERS,
        protocol.HEADER_AUTHORIZATION: protocol.BEARER_PREFIX + token_value,
        protocol.HEADER_EA: tenant,
        protocol.HEADER_USER_ID: user_id,
    }


def text_body(to_user: str) -> dict[str, Any]:
    return {"toUser": [to_user], "msgType": "text", "text": {"content": TEXT}}


def hook_sender(hook: Any, to_user: str):
    def send_one() -> None:
        hook.send_message([to_user], TEXT)

    return send_one


def bare_sender(session: Any, base_url: str, headers: dict[str, str], body: dict[str, Any]):
    url = base_url + protocol.APP_MESSAGE_SEND_PATH

    def send_one() -> None:
        response = session.post(
            url,
            params={protocol.TRACE_QUERY_PARAM: str(uuid.uuid4())},
            data=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            headers=headers,
            timeout=30,
            allow_redirects=False,
        )
        if response.json()["errorCode"] != protocol.SUCCESS:
            raise RuntimeError(f"bare send failed: {response.text[:200]}")

    return send_one


def raw_rate(base_url: str, headers: dict[str, str], body: dict[str, Any], count: int) -> Rate:
    """The sandbox's ceiling for one keep-alive connection: no client library in the way."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    path = protocol.APP_MESSAGE_SEND_PATH + f"?{protocol.TRACE_QUERY_PARAM}="

    def send_one() -> None:
        conn.request("POST", path + str(uuid.uuid4()), body=data, headers=headers)
        answer = conn.getresponse().read()
        if b'"errorCode":0' not in answer.replace(b" ", b""):
            raise RuntimeError(f"raw send failed: {answer[:200]!r}")

    try:
        return timed(send_one, count)
    finally:
        conn.close()


def raw_worker(args: tuple[str, dict[str, str], dict[str, Any], float, float]) -> int:
    """One of several concurrent raw clients (own process): sends from ``start`` for ``duration`` s.

    A shared wall-clock start lets the caller divide the total count by the duration.
    """
    base_url, headers, body, start, duration = args
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    path = protocol.APP_MESSAGE_SEND_PATH + f"?{protocol.TRACE_QUERY_PARAM}="
    time.sleep(max(0.0, start - time.time()))
    sent, end = 0, start + duration
    try:
        while time.time() < end:
            conn.request("POST", path + str(uuid.uuid4()), body=data, headers=headers)
            conn.getresponse().read()
            sent += 1
    finally:
        conn.close()
    return sent
