"""Credentials travel only over verified TLS, through the proxy the connection names.

A loopback TLS front with a certificate made here stands in for a gateway whose certificate the
system does not trust (as behind a TLS-inspecting proxy): without ``ca_bundle`` nothing is sent
and the error is permanent; with it the message is delivered. (Which hosts may be reached over
plain http is a connection rule: ``test_connection.py``.)
"""

from __future__ import annotations

import time

import pytest

from fxiaoke_provider.exceptions import FxiaokePermanentError
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from tests.reliability_helpers import ConnectProxy, TlsFront, self_signed_cert
from tests.support import SleepRecorder


@pytest.fixture
def tls_front(sandbox, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    with TlsFront(sandbox.port, cert, key) as front:
        front.cert = cert
        yield front


def test_untrusted_certificate_fails_permanently_and_sends_nothing(sandbox, use_connection, tls_front):
    use_connection(sandbox, fields={"host": tls_front.url})
    sleeps = SleepRecorder(really_sleep=False)
    with pytest.raises(FxiaokePermanentError, match="TLS verification") as info:
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "must not leave")
    assert sandbox.requests() == []  # not even the token call got through
    # the front counts the failed handshake on its own thread, possibly just after the client gave up
    deadline = time.monotonic() + 5
    while tls_front.handshake_failures < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # room for a (wrong) second attempt to show up
    assert tls_front.handshake_failures == 1  # one attempt: a TLS failure is not retried
    assert sleeps == []
    assert not info.value.retryable_by_airflow


def test_ca_bundle_makes_the_certificate_trusted(sandbox, use_connection, tls_front):
    use_connection(sandbox, fields={"host": tls_front.url}, ca_bundle=str(tls_front.cert))
    hook = FxiaokeHook()
    hook.send_message(["1000"], "over verified TLS")
    assert hook.config.base_url.startswith("https://")
    assert hook.config.verify == str(tls_front.cert)
    assert [m["message"]["content"] for m in sandbox.messages()] == ["over verified TLS"]
    assert tls_front.handshake_failures == 0


def test_proxy_extra_tunnels_every_request_through_the_proxy(sandbox, use_connection, monkeypatch, tls_front):
    with ConnectProxy() as proxy:
        use_connection(
            sandbox, fields={"host": tls_front.url}, ca_bundle=str(tls_front.cert), proxy=proxy.url
        )
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # ignored: the connection's proxy wins
        hook = FxiaokeHook()
        hook.send_message(["1000"], "via the proxy")
        assert hook.session.proxies == {"https": proxy.url, "http": proxy.url}
        assert hook.session.trust_env is False
        assert proxy.tunnels and set(proxy.tunnels) == {f"localhost:{tls_front.port}"}
    assert len(sandbox.messages()) == 1


def test_verification_cannot_be_switched_off(sandbox, use_connection):
    use_connection(sandbox, verify=False, ssl_verify="false")
    assert FxiaokeHook().config.verify is True
