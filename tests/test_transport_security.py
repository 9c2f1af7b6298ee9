"""Credentials travel only over verified TLS, through the proxy the connection names.

A loopback TLS front with a certificate made here stands in for a gateway whose certificate the
system does not trust (as behind a TLS-inspecting proxy): without ``ca_bundle`` nothing is sent
and the error is permanent; with it the message is delivered. Plain http is refused before any
request unless the host is loopback or ``allow_insecure_http`` is set.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
import requests

from fxiaoke_provider import protocol
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError, FxiaokePermanentError
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from tests.reliability_helpers import ConnectProxy, TlsFront, record_sleeps, self_signed_cert


@pytest.fixture
def tls_front(sandbox, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    with TlsFront(sandbox.port, cert, key) as front:
        front.cert = cert
        yield front


def install(monkeypatch, conn: dict, **changes: object) -> None:
    extra = {**conn["extra"], **changes.pop("extra", {})}
    monkeypatch.setenv("AIRFLOW_CONN_FXIAOKE_DEFAULT", json.dumps({**conn, **changes, "extra": extra}))


@pytest.fixture
def no_http(monkeypatch):
    """Fails the test if anything is sent at all."""
    sent: list[str] = []

    def refuse(self, method, url, *args, **kwargs):
        sent.append(url)
        raise AssertionError(f"nothing may be sent; tried {url}")

    monkeypatch.setattr(requests.Session, "request", refuse)
    return sent


def test_untrusted_certificate_fails_permanently_and_sends_nothing(
    sandbox, use_connection, monkeypatch, tls_front
):
    install(monkeypatch, use_connection(sandbox), host=tls_front.url)
    sleeps = record_sleeps()
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


def test_ca_bundle_makes_the_certificate_trusted(sandbox, use_connection, monkeypatch, tls_front):
    install(
        monkeypatch, use_connection(sandbox), host=tls_front.url, extra={"ca_bundle": str(tls_front.cert)}
    )
    hook = FxiaokeHook()
    hook.send_message(["1000"], "over verified TLS")
    assert hook.config.base_url.startswith("https://")
    assert hook.config.verify == str(tls_front.cert)
    assert [m["message"]["content"] for m in sandbox.messages()] == ["over verified TLS"]
    assert tls_front.handshake_failures == 0


def test_proxy_extra_tunnels_every_request_through_the_proxy(sandbox, use_connection, monkeypatch, tls_front):
    with ConnectProxy() as proxy:
        install(
            monkeypatch,
            use_connection(sandbox),
            host=tls_front.url,
            extra={"ca_bundle": str(tls_front.cert), "proxy": proxy.url},
        )
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # ignored: the connection's proxy wins
        hook = FxiaokeHook()
        hook.send_message(["1000"], "via the proxy")
        assert hook.session.proxies == {"https": proxy.url, "http": proxy.url}
        assert hook.session.trust_env is False
        assert proxy.tunnels and set(proxy.tunnels) == {f"localhost:{tls_front.port}"}
    assert len(sandbox.messages()) == 1


def test_verification_cannot_be_switched_off(sandbox, use_connection, monkeypatch):
    install(monkeypatch, use_connection(sandbox), extra={"verify": False, "ssl_verify": "false"})
    assert FxiaokeHook().config.verify is True


@pytest.mark.parametrize(
    "host",
    ["http://open.fxiaoke.com", "open.fxiaoke.com:80", "http://10.0.0.5:8080", "http://gateway.internal"],
)
def test_plain_http_to_a_remote_host_is_refused_before_sending(
    sandbox, use_connection, monkeypatch, no_http, host
):
    conn = use_connection(sandbox)
    if not host.startswith("http"):
        conn = {**conn, "schema": "http"}
    install(monkeypatch, conn, host=host)
    with pytest.raises(FxiaokeConnectionConfigError, match="plain http"):
        FxiaokeHook().send_message(["1000"], "must not leave")
    assert no_http == []


def test_allow_insecure_http_is_explicit_and_logged(sandbox, use_connection, monkeypatch, caplog):
    install(
        monkeypatch,
        use_connection(sandbox),
        host="http://gateway.internal:8080",
        extra={"allow_insecure_http": True},
    )
    with caplog.at_level(logging.WARNING, logger="fxiaoke_provider"):
        config = FxiaokeHook().config
    assert config.base_url == "http://gateway.internal:8080"
    assert any(
        "plain http" in r.getMessage() and "allow_insecure_http" in r.getMessage() for r in caplog.records
    )


def test_loopback_http_needs_no_flag(sandbox, use_connection):
    use_connection(sandbox)
    FxiaokeHook().send_message(["1000"], "sandbox")
    assert len(sandbox.messages()) == 1


def test_host_without_scheme_means_https(sandbox, use_connection, monkeypatch):
    install(monkeypatch, use_connection(sandbox), host=protocol.CLOUD_HOSTS["alibaba"])
    assert FxiaokeHook().config.base_url == f"https://{protocol.CLOUD_HOSTS['alibaba']}"


def test_missing_ca_bundle_file_is_a_config_error(sandbox, use_connection, monkeypatch, no_http, tmp_path):
    install(monkeypatch, use_connection(sandbox), extra={"ca_bundle": str(tmp_path / "missing.pem")})
    with pytest.raises(FxiaokeConnectionConfigError, match="ca_bundle"):
        FxiaokeHook().send_message(["1000"], "must not leave")
    assert no_http == []


def test_redirects_are_never_followed(sandbox, use_connection):
    """A 302 to the web site would carry the Authorization header elsewhere; it is an error instead."""
    use_connection(sandbox)
    sandbox.add_fault(protocol.SERVICE_MESSAGE_SEND_PATH, "redirect")
    with pytest.raises(FxiaokePermanentError, match="redirect"):
        FxiaokeHook().send_message(["1000"], "x")
    assert len([r for r in sandbox.requests() if r["path"] == protocol.SERVICE_MESSAGE_SEND_PATH]) == 1
