"""``airflow fxiaoke doctor`` against the sandbox: what it reports, what it sends, what it never prints.

The checks talk real HTTP to the sandbox over loopback. A small forwarding front stands in for the
two answers the sandbox does not give (a ``messageId`` in send answers, ``/cgi/user/getByMobile``);
tests that use the sandbox's own versions of these are skipped only when it lacks them.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_VERSION
from fxiaoke_provider.doctor.command import main
from fxiaoke_provider.doctor.findings import Finding, Redactor, Report, Status, render_json, render_text
from fxiaoke_provider.doctor.options import DoctorOptions
from fxiaoke_provider.doctor.run import default_hook, run_doctor
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.get_provider_info import get_provider_info
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging import wire
from fxiaoke_provider.sandbox import (
    DEFAULT_APP_SECRET,
    DEFAULT_OPEN_USER_ID,
    DEFAULT_PERMANENT_CODE,
    SandboxGateway,
)
from tests.reliability_helpers import TlsFront, self_signed_cert
from tests.support import USER_ID, requests_to

DESCRIBE_PATH = "/cgi/crm/v2/object/describe"

AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
PROVIDER_CLI = AIRFLOW_VERSION >= (3, 2)  # Airflow reads the provider info's "cli" list from 3.2 on
#: ``airflow fxiaoke doctor`` where Airflow loads provider commands, else ``python -m``.
DOCTOR_CLI = (
    [str(AIRFLOW_BIN), "fxiaoke", "doctor"]
    if PROVIDER_CLI
    else [sys.executable, "-m", "fxiaoke_provider.doctor"]
)
CLI_TIMEOUT_S = 300
WRONG_SECRET = "wrong-app-secret-7c1e"
MOBILE = "13800001234"


def doctor(capfd, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def line(out: str, check: str) -> str:
    """The report line of one check (status first), e.g. ``OK      token  header style ...``."""
    pattern = re.compile(rf"^(OK|WARN|FAIL|NOT RUN)\s+{re.escape(check)}\s{{2,}}(.*)$", re.M)
    match = pattern.search(out)
    assert match, f"no {check!r} line in:\n{out}"
    return f"{match.group(1)} {match.group(2)}"


def install(monkeypatch, conn: dict, conn_id: str = "fxiaoke_default", **changes: Any) -> None:
    extra = {**conn["extra"], **changes.pop("extra", {})}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, **changes, "extra": extra}))


def token_requests(gateway: SandboxGateway) -> list[dict]:
    return [r for r in gateway.requests() if r["path"] in protocol.TOKEN_PATHS]


def assert_no_secret(text: str, *more: str) -> None:
    for secret in (DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, WRONG_SECRET, *more):
        assert secret not in text


# --- read-only -------------------------------------------------------------------------------------
def test_healthy_connection_reports_the_token_and_sends_nothing(sandbox, use_connection, capfd):
    use_connection(sandbox)
    FxiaokeHook().get_token()  # a token in the machine's shared cache must not stand in for the check

    code, out, err = doctor(capfd, "fxiaoke_default")

    assert code == 0, out
    assert line(out, "connection").startswith(f"OK host {sandbox.url}, app_id FSAID_sandbox0001")
    assert line(out, "host").startswith("OK 127.0.0.1:")
    token = line(out, "token")
    match = re.fullmatch(
        r"OK header style accepted: enterprise \(ea\) sandbox-ea, expiresIn \d+ s, "
        r"round trip \d+ ms \[traceId (\S+)\]",
        token,
    )
    assert match, token
    first, own = token_requests(sandbox)  # the cached one, then the doctor's own fresh call
    assert match.group(1) == own["traceId"] != first["traceId"]
    assert [r["path"] for r in sandbox.requests()] == [protocol.TOKEN_PATH] * 2 + [DESCRIBE_PATH]
    assert sandbox.messages() == []
    assert out.rstrip().endswith("Result: healthy, 0 warning(s). This report holds no secrets.")
    assert_no_secret(out + err, *sandbox.issued_tokens())


def test_json_report_for_machines(sandbox, use_connection, capfd):
    use_connection(sandbox)
    code, out, err = doctor(capfd, "--json")
    report = json.loads(out)  # stdout is the report alone; log lines go to stderr
    assert code == report["exit_code"] == 0 and report["healthy"] is True
    assert [c["check"] for c in report["checks"]] == ["connection", "host", "token", "crm"]
    token = report["checks"][2]
    assert token["status"] == "ok"
    assert token["details"]["tenant"] == "sandbox-ea"
    assert token["details"]["expires_in_in_answer"] is True
    assert token["details"]["token_calls"] == 1
    assert token["traceIds"] == [r["traceId"] for r in requests_to(sandbox, protocol.TOKEN_PATH)]
    assert_no_secret(out + err, *sandbox.issued_tokens())


def test_legacy_style_reports_the_corp_id(sandbox, use_connection, capfd):
    use_connection(sandbox, auth_style="legacy", user_id="")  # legacy style needs no acting user
    code, out, _ = doctor(capfd)
    assert code == 0, out
    assert "OK legacy style accepted: enterprise (corpId) FSCID_sandbox0001" in line(out, "token")
    assert [r["path"] for r in sandbox.requests()] == [protocol.LEGACY_TOKEN_PATH]
    assert line(out, "crm").startswith("WARN not checked: connection 'fxiaoke_default' user_id")
    assert "fix: set extra 'user_id' to the acting user's open id (FSUID_...)" in out


# --- may the app read CRM data ------------------------------------------------------------------------
@pytest.mark.parametrize("auth_style", ["header", "legacy"])
def test_crm_check_describes_an_object_as_the_hooks_reads_do(sandbox, use_connection, capfd, auth_style):
    user = {"user_id": DEFAULT_OPEN_USER_ID} if auth_style == "legacy" else {}
    use_connection(sandbox, auth_style=auth_style, **user)
    code, out, _ = doctor(capfd)
    assert code == 0, out
    (describe,) = requests_to(sandbox, DESCRIBE_PATH)
    assert describe["errorCode"] == 0
    crm = line(out, "crm")
    assert re.fullmatch(
        rf"OK the app may read CRM data: AccountObj describes \d+ fields, round trip \d+ ms "
        rf"\[traceId {re.escape(describe['traceId'])}\]",
        crm,
    ), crm


def test_crm_refusal_says_what_to_grant_and_leaves_messaging_healthy(sandbox, use_connection, capfd):
    use_connection(sandbox)
    sandbox.add_fault(DESCRIBE_PATH, "error", code=protocol.NO_PERMISSION)
    code, out, _ = doctor(capfd)
    assert code == 0, out  # a connection for messages needs no CRM access: a warning
    (describe,) = requests_to(sandbox, DESCRIBE_PATH)  # one attempt
    assert line(out, "crm") == (
        f"WARN the app may not read CRM data: errorCode {protocol.NO_PERMISSION} (app lacks permission) "
        f"for {DESCRIBE_PATH} [traceId {describe['traceId']}]"
    )
    assert "fix: grant the app permission to CRM data" in out
    assert "Result: healthy, 1 warning(s)." in out


def test_crm_check_does_not_run_without_a_token(sandbox, use_connection, monkeypatch, capfd):
    install(monkeypatch, use_connection(sandbox), password=WRONG_SECRET)
    code, out, _ = doctor(capfd)
    assert code == 1
    assert line(out, "crm") == "NOT RUN no token"
    assert requests_to(sandbox, DESCRIBE_PATH) == []


# --- diagnoses -------------------------------------------------------------------------------------
def test_rejected_secret_names_the_code_and_prints_no_secret(sandbox, use_connection, monkeypatch, capfd):
    install(monkeypatch, use_connection(sandbox), password=WRONG_SECRET)

    code, out, err = doctor(capfd)
    assert code == 1
    token = line(out, "token")
    assert token.startswith(
        f"FAIL header style: the gateway rejected the credentials: errorCode {protocol.CREDENTIALS_REJECTED}"
    )
    assert f"[traceId {sandbox.requests()[0]['traceId']}]" in token
    assert "fix: check login = appId (FSAID_...), password = appSecret" in out
    assert len(token_requests(sandbox)) == 1  # one attempt: the doctor never hammers the token endpoint
    assert_no_secret(out + err)

    code, out, err = doctor(capfd, "--json")
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert code == 1 and checks["token"]["status"] == "fail"
    assert checks["token"]["details"]["error_code"] == protocol.CREDENTIALS_REJECTED
    assert_no_secret(out + err)


@pytest.mark.parametrize("fault", ["redirect", "non-json"])
def test_wrong_host_answering_like_a_web_site(sandbox, use_connection, capfd, fault):
    use_connection(sandbox)
    sandbox.add_fault(protocol.TOKEN_PATH, fault)
    code, out, _ = doctor(capfd)
    assert code == 1
    assert line(out, "host").endswith("but it answers like a web site, not the OpenAPI gateway")
    assert "not the gateway's JSON" in line(out, "token")
    assert "fix: set the connection's host to the OpenAPI host: use open.fxiaoke.com" in out


def test_web_site_host_fails_before_anything_is_sent(monkeypatch, capfd, sandbox, use_connection):
    install(monkeypatch, use_connection(sandbox), host="https://www.fxiaoke.com")

    def no_lookup(host: str, port: int) -> list[str]:
        raise AssertionError("nothing may be resolved or sent")

    report, redactor = run_doctor(DoctorOptions(), resolver=no_lookup)
    out = render_text(report, redactor)
    assert report.exit_code == 1
    assert "www.fxiaoke.com is the web site, not the OpenAPI host" in line(out, "connection")
    assert [f.check for f in report.findings] == ["connection"]
    assert sandbox.requests() == []


def test_unresolvable_host_skips_the_token_call(monkeypatch, sandbox, use_connection):
    install(monkeypatch, use_connection(sandbox), host="https://open-nowhere.fxiaoke.com")

    def not_found(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    report, redactor = run_doctor(DoctorOptions(), resolver=not_found)
    out = render_text(report, redactor)
    assert report.exit_code == 1
    assert line(out, "host") == "FAIL open-nowhere.fxiaoke.com does not resolve on this machine (gaierror)"
    assert "fix: check the spelling of the connection's host; Fxiaoke's OpenAPI hosts are" in out
    assert line(out, "token") == "NOT RUN the host does not resolve"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (protocol.APP_NOT_AUTHORISED, "a tenant administrator must authorise"),
        (protocol.NO_QUOTA, "the enterprise must buy an Open API package"),
    ],
)
def test_gateway_refusals_are_named_with_the_fix(sandbox, use_connection, capfd, code, words):
    use_connection(sandbox)
    sandbox.add_fault(protocol.TOKEN_PATH, "error", code=code)
    exit_code, out, _ = doctor(capfd)
    assert exit_code == 1
    assert line(out, "token").startswith(f"FAIL header style: errorCode {code} ")
    assert f"fix: {words}" in out


def test_missing_connection(capfd):
    code, out, _ = doctor(capfd, "fxiaoke_nowhere")
    assert code == 1
    assert line(out, "connection") == "FAIL there is no connection with id 'fxiaoke_nowhere'"
    assert "AIRFLOW_CONN_FXIAOKE_NOWHERE" in out


@pytest.fixture
def tls_front(sandbox, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    with TlsFront(sandbox.port, cert, key) as front:
        front.cert = cert
        yield front


def test_tls_interception_points_to_ca_bundle(sandbox, use_connection, monkeypatch, capfd, tls_front):
    conn = use_connection(sandbox)
    install(monkeypatch, conn, host=tls_front.url)
    code, out, _ = doctor(capfd)
    assert code == 1
    assert line(out, "token").startswith("FAIL header style: TLS verification of localhost failed")
    assert "set the connection's extra 'ca_bundle' to its path" in out
    assert sandbox.requests() == []

    install(monkeypatch, conn, host=tls_front.url, extra={"ca_bundle": str(tls_front.cert)})
    code, out, _ = doctor(capfd)
    assert code == 0, out
    assert f"ca_bundle {tls_front.cert}" in line(out, "connection")


# --- --send ----------------------------------------------------------------------------------------
def test_send_tries_each_id_kind_and_reaches_only_the_acting_user(sandbox, use_connection, capfd):
    use_connection(sandbox)
    code, out, err = doctor(capfd, "--send", "--open-user-id", DEFAULT_OPEN_USER_ID)

    assert code == 0, out
    sent = sandbox.messages()
    assert [m["toUser"] for m in sent] == [[USER_ID], [DEFAULT_OPEN_USER_ID]]
    assert {m["path"] for m in sent} == {wire.SERVICE_MESSAGE_SEND_PATH}
    assert all(m["msgType"] == "text" and m["serviceId"] == "FSAID_service_alerts" for m in sent)
    assert "sent by service account FSAID_service_alerts" in sent[0]["message"]["content"]
    assert (
        line(out, "sender") == f"OK service account FSAID_service_alerts ({wire.SERVICE_MESSAGE_SEND_PATH})"
    )
    assert line(out, "send: employee id") == (
        f"OK accepted employee id {USER_ID} sent as is; answer fields: errorCode, errorDescription, "
        f"errorMessage, traceId (no messageId) [traceId {sent[0]['traceId']}]"
    )
    assert line(out, "send: open id").startswith(
        f"OK accepted open id {DEFAULT_OPEN_USER_ID} sent with convertUserId"
    )
    assert line(out, "id kinds") == "OK header style: accepts employee id, open id"
    assert line(out, "revoke").startswith("NOT RUN no send answer carried a messageId")
    assert len(token_requests(sandbox)) == 1  # the sends reuse the doctor's one token
    assert_no_secret(out + err, *sandbox.issued_tokens())


def test_send_without_an_open_id_says_how_to_test_it(sandbox, use_connection, capfd):
    use_connection(sandbox)
    code, out, _ = doctor(capfd, "--send")
    assert code == 0, out
    assert [m["toUser"] for m in sandbox.messages()] == [[USER_ID]]
    assert line(out, "send: open id") == "NOT RUN needs the acting user's open id"
    assert "how: run again with --open-user-id FSUID_... (your own open id) or --mobile" in out
    assert line(out, "id kinds") == "OK header style: accepts employee id; not tested: open id"


def test_a_refused_id_kind_is_a_warning_and_none_accepted_fails(sandbox, use_connection, capfd):
    use_connection(sandbox)
    sandbox.add_fault(wire.SERVICE_MESSAGE_SEND_PATH, "error", code=protocol.TO_USER_INVALID)
    code, out, _ = doctor(capfd, "--send", "--open-user-id", DEFAULT_OPEN_USER_ID)
    assert code == 0, out
    assert line(out, "send: employee id").startswith(
        f"WARN refused employee id {USER_ID} sent as is: errorCode {protocol.TO_USER_INVALID} "
        "(toUser invalid)"
    )
    assert line(out, "id kinds") == "OK header style: accepts open id; refuses employee id"

    sandbox.add_fault(wire.SERVICE_MESSAGE_SEND_PATH, "error", code=protocol.TO_USER_INVALID, count=2)
    code, out, _ = doctor(capfd, "--send", "--open-user-id", DEFAULT_OPEN_USER_ID)
    assert code == 1
    assert line(out, "id kinds") == "FAIL header style: accepts none; refuses employee id, open id"
    assert line(out, "revoke") == "NOT RUN no test message was delivered"


@pytest.mark.slow  # starts the airflow CLI
def test_send_without_a_service_account_goes_out_as_the_app_itself(sandbox, use_connection, monkeypatch):
    """The doctor tests the sender the hook would use: without ``service_id``, the app itself."""
    install(monkeypatch, use_connection(sandbox), conn_id="fxiaoke_app", extra={"service_id": None})
    code, out, err = _finish(_run([*DOCTOR_CLI, "fxiaoke_app", "--send"], dict(os.environ)))

    assert code == 0, out + err
    (message,) = sandbox.messages()
    assert message["path"] == wire.APP_MESSAGE_SEND_PATH
    assert message["toUser"] == [USER_ID] and message["serviceId"] is None
    assert "sent by the app itself" in message["message"]["content"]
    assert line(out, "connection").endswith(
        "no service_id: messages go out as the app itself and revoke is unavailable"
    )
    assert line(out, "sender") == (
        f"OK the app itself ({wire.APP_MESSAGE_SEND_PATH}): the connection has no service_id"
    )
    assert line(out, "send: employee id") == (
        f"OK accepted employee id {USER_ID} sent as is; answer fields: errorCode, errorDescription, "
        f"errorMessage, traceId (no messageId) [traceId {message['traceId']}]"
    )
    assert line(out, "revoke") == (
        "NOT RUN messages the app itself sends cannot be revoked (revoke names a service account)"
    )
    assert_no_secret(out + err, *sandbox.issued_tokens())


def test_legacy_style_sends_the_open_id_as_is(sandbox, use_connection, capfd):
    use_connection(sandbox, auth_style="legacy", user_id=DEFAULT_OPEN_USER_ID)
    bodies: list[dict] = []

    def recording_hook(conn_id: str):
        hook = default_hook(conn_id)
        hook.session.hooks["response"].append(
            lambda response, *a, **k: bodies.append(json.loads(response.request.body))
        )
        return hook

    report, redactor = run_doctor(
        DoctorOptions(send=True, open_user_id=DEFAULT_OPEN_USER_ID), hook_factory=recording_hook
    )
    out = render_text(report, redactor)
    (send,) = [b for b in bodies if wire.TO_USER_FIELD in b]
    assert send[wire.TO_USER_FIELD] == [DEFAULT_OPEN_USER_ID]
    assert wire.CONVERT_USER_ID_FIELD not in send
    assert "send: employee id" not in out  # legacy style names users by open id only
    (record,) = [r for r in sandbox.requests() if r["path"] == wire.SERVICE_MESSAGE_SEND_PATH]
    if record["errorCode"] == protocol.SUCCESS:  # the report says what the gateway said
        assert line(out, "send: open id").startswith(f"OK accepted open id {DEFAULT_OPEN_USER_ID} sent as is")
    else:
        assert line(out, "send: open id").startswith(
            f"WARN refused open id {DEFAULT_OPEN_USER_ID} sent as is: errorCode {record['errorCode']}"
        )


# --- answers the sandbox may lack: a forwarding front ------------------------------------------------
class AnsweringFront:
    """Forwards every request to the sandbox; adds a ``messageId`` to successful send answers and
    answers ``/cgi/user/getByMobile`` for one number, in the shapes the reference documents."""

    def __init__(self, target: str) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?", 1)[0]
                if path == wire.USER_BY_MOBILE_PATH:
                    found = json.loads(raw).get(wire.MOBILE_FIELD) == MOBILE
                    people = [{wire.OPEN_USER_ID_FIELD: DEFAULT_OPEN_USER_ID}] if found else []
                    front.reply(self, 200, {"errorCode": 0, "traceId": "E-O.FRONT.1", "empList": people})
                    return
                names = (
                    "Content-Type",
                    protocol.HEADER_AUTHORIZATION,
                    protocol.HEADER_EA,
                    protocol.HEADER_USER_ID,
                )
                headers = {k: v for k in names if (v := self.headers.get(k)) is not None}
                answer = requests.post(target + self.path, data=raw, headers=headers, timeout=10)
                body = answer.json()
                if path == wire.SERVICE_MESSAGE_SEND_PATH and body.get("errorCode") == 0:
                    body[wire.MESSAGE_ID_FIELD] = body["traceId"]  # the id this sandbox revokes by
                    front.message_ids.append(body["traceId"])
                front.reply(self, answer.status_code, body)

        self.message_ids: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def __enter__(self) -> AnsweringFront:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def front(sandbox):
    with AnsweringFront(sandbox.url) as answering:
        yield answering


def test_revokes_the_test_messages_when_answers_carry_a_message_id(
    sandbox, use_connection, monkeypatch, capfd, front
):
    install(monkeypatch, use_connection(sandbox), host=front.url)
    code, out, _ = doctor(capfd, "--send", "--open-user-id", DEFAULT_OPEN_USER_ID)
    assert code == 0, out
    assert "(with messageId)" in line(out, "send: employee id")
    assert len(front.message_ids) == 2
    assert [r["messageId"] for r in sandbox.revokes()] == front.message_ids
    revoke = line(out, "revoke")
    assert revoke.startswith(f"OK revoked the test message {front.message_ids[0]}; revoked the test message")
    assert all(r["traceId"] in revoke for r in sandbox.revokes())


def test_open_id_found_by_mobile(sandbox, use_connection, monkeypatch, capfd, front):
    install(monkeypatch, use_connection(sandbox), host=front.url)
    code, out, _ = doctor(capfd, "--send", "--mobile", MOBILE)
    assert code == 0, out
    assert line(out, "open id by mobile") == f"OK 138****1234 -> {DEFAULT_OPEN_USER_ID} [traceId E-O.FRONT.1]"
    assert MOBILE not in out  # a phone number is personal data: shown masked
    assert [m["toUser"] for m in sandbox.messages()] == [[USER_ID], [DEFAULT_OPEN_USER_ID]]

    code, out, _ = doctor(capfd, "--send", "--mobile", "13900000000")
    assert code == 1
    assert line(out, "open id by mobile").startswith("FAIL no employee with mobile 139****0000")
    assert line(out, "send: open id") == "NOT RUN needs the acting user's open id"


def _sandbox_option(word: str) -> str | None:
    """The name of a SandboxGateway keyword argument mentioning ``word``, if this sandbox has one."""
    return next((name for name in inspect.signature(SandboxGateway).parameters if word in name), None)


def test_revoke_against_the_sandboxs_own_message_ids(use_connection, capfd):
    option = _sandbox_option("message_id")
    if option is None:
        pytest.skip("this sandbox has no option to put a messageId in send answers")
    with SandboxGateway(port=0, token_delay_s=0.0, **{option: True}) as gateway:
        use_connection(gateway)
        code, out, _ = doctor(capfd, "--send")
        assert code == 0, out
        assert "(with messageId)" in line(out, "send: employee id")
        assert line(out, "revoke").startswith("OK revoked the test message")
        assert len(gateway.revokes()) == 1


def test_open_id_by_mobile_against_the_sandboxs_address_book(sandbox, use_connection, capfd):
    probe = requests.post(f"{sandbox.url}{wire.USER_BY_MOBILE_PATH}", json={}, timeout=10)
    if probe.status_code == 404:
        pytest.skip("this sandbox has no address book (/cgi/user/getByMobile)")
    use_connection(sandbox)
    code, out, _ = doctor(capfd, "--send", "--mobile", MOBILE)
    lookup = line(out, "open id by mobile")
    assert lookup.startswith(("OK 138****1234 -> FSUID_", "FAIL no employee with mobile 138****1234"))
    assert code == (0 if lookup.startswith("OK") else 1)


# --- the report itself ------------------------------------------------------------------------------
def test_report_masks_secrets_even_inside_gateway_text():
    report = Report("c", [Finding("token", Status.FAIL, "errorMessage echoed s3cr3t-value and tok-123")])
    redactor = Redactor(["s3cr3t-value", "tok-123", None, ""])
    assert "s3cr3t-value" not in render_text(report, redactor)
    assert (
        json.loads(render_json(report, redactor))["checks"][0]["summary"] == "errorMessage echoed *** and ***"
    )


def test_bad_options_fail_before_anything_is_sent(sandbox, use_connection, capfd):
    use_connection(sandbox)
    for argv in (["--send", "--open-user-id", "1000"], ["--send", "--mobile", "call me"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert ("--open-user-id" if "1000" in argv else "--mobile") in capfd.readouterr().err
    assert sandbox.requests() == []


# --- registered with Airflow ------------------------------------------------------------------------
def test_provider_info_declares_the_cli_command():
    (function,) = get_provider_info()["cli"]
    module, _, name = function.rpartition(".")
    commands = getattr(__import__(module, fromlist=[name]), name)()
    (group,) = commands
    assert group.name == "fxiaoke"
    assert [c.name for c in group.subcommands] == ["doctor"]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
    return process.returncode, stdout, stderr


@pytest.mark.slow  # starts processes
def test_command_runs_from_the_shell(sandbox, use_connection, monkeypatch):
    """``airflow fxiaoke doctor`` where Airflow loads provider commands, else ``python -m``."""
    use_connection(sandbox)
    install(monkeypatch, use_connection(sandbox), conn_id="fxiaoke_bad", password=WRONG_SECRET)
    env = dict(os.environ)
    runs = [_run([*DOCTOR_CLI, arg], env) for arg in ("--help", "--json", "fxiaoke_bad")]
    (help_rc, help_out, _), (ok_rc, ok_out, _), (bad_rc, bad_out, bad_err) = (_finish(p) for p in runs)
    assert help_rc == 0 and "--open-user-id" in help_out and "--send" in help_out
    report = json.loads(ok_out)
    assert ok_rc == 0 and [c["status"] for c in report["checks"]] == ["ok", "ok", "ok", "ok"]
    assert bad_rc == 1
    assert f"errorCode {protocol.CREDENTIALS_REJECTED}" in line(bad_out, "token")
    assert_no_secret(bad_out + bad_err)
