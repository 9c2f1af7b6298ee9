"""Runs the checks in order, stopping where a later check could only repeat an earlier failure."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fxiaoke_provider.doctor.checks import Clock, ReadOnlyChecks, Resolver, resolve
from fxiaoke_provider.doctor.crm import crm_read
from fxiaoke_provider.doctor.findings import Finding, Redactor, Report, Status
from fxiaoke_provider.doctor.options import DoctorOptions
from fxiaoke_provider.doctor.sending import SendChecks
from fxiaoke_provider.doctor.wire import WireLog

HookFactory = Callable[[str], Any]


def default_hook(conn_id: str) -> Any:
    """A hook that never shares or reuses a token and makes every call exactly once."""
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    return FxiaokeHook(fxiaoke_conn_id=conn_id, token_cache="memory", retry_max_attempts=1)


def _header(now: Callable[[], datetime.datetime]) -> dict[str, str]:
    import airflow

    from fxiaoke_provider import __version__

    return {
        "provider": __version__,
        "airflow": airflow.__version__,
        "time": now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def run_doctor(
    options: DoctorOptions,
    *,
    hook_factory: HookFactory = default_hook,
    resolver: Resolver = resolve,
    clock: Clock = time.monotonic,
    now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
) -> tuple[Report, Redactor]:
    report = Report(options.conn_id, header=_header(now))
    redactor = Redactor()
    hook = hook_factory(options.conn_id)
    wire = WireLog()
    checks = ReadOnlyChecks(hook, wire, redactor, resolver=resolver, clock=clock)

    report.add(checks.connection())
    if checks.config is None:
        return report, redactor
    config = checks.config
    host, reachable = checks.host()
    report.add(host)
    if not reachable:
        report.add(Finding("token", Status.NOT_RUN, "the host does not resolve"))
        return report, redactor
    wire.attach(getattr(hook, "session", None))
    token = report.add(checks.token_call(host))
    if token.status is Status.OK:
        report.add(crm_read(hook, config, wire, clock))
    else:
        report.add(Finding("crm", Status.NOT_RUN, "no token"))
    if not options.send:
        return report, redactor
    if token.status is not Status.OK:
        report.add(Finding("send", Status.NOT_RUN, "no token"))
        return report, redactor
    sending = SendChecks(hook, config, wire, urlsplit(config.base_url).hostname or "")
    report.add(sending.sender())
    open_id = options.open_user_id
    if open_id is None and options.mobile:
        lookup, open_id = sending.lookup_open_id(options.mobile)
        report.add(lookup)
    sends: list[Finding] = []
    answers: list[dict[str, Any]] = []
    for kind in sending.id_kinds(open_id):
        finding, answer = sending.send(kind)
        sends.append(report.add(finding))
        if answer is not None:
            answers.append(answer)
    report.add(sending.verdict(sends))
    report.add(sending.revoke(answers))
    return report, redactor
