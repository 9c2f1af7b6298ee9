"""What one check found, the whole report, and how both are shown without any secret in them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    NOT_RUN = "not run"


_LABELS = {Status.OK: "OK", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.NOT_RUN: "NOT RUN"}


@dataclass
class Finding:
    """One line of the report: the check, its verdict, and for a problem the fix."""

    check: str
    status: Status
    summary: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    trace_ids: list[str] = field(default_factory=list)
    third_trace_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status.value,
            "summary": self.summary,
            "fix": self.fix,
            "details": self.details,
            "traceIds": self.trace_ids,
            "thirdTraceIds": self.third_trace_ids,
        }


@dataclass
class Report:
    conn_id: str
    findings: list[Finding] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    @property
    def healthy(self) -> bool:
        return all(f.status is not Status.FAIL for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.healthy else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            **self.header,
            "healthy": self.healthy,
            "exit_code": self.exit_code,
            "checks": [f.as_dict() for f in self.findings],
        }


class Redactor:
    """Replaces every known secret (appSecret, permanentCode, token, proxy password) with ``***``.

    The report is built from codes and ids, but a gateway ``errorMessage`` is free text that may
    echo what the request carried, so everything shown passes through here last.
    """

    MASK = "***"

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 3:
            self._secrets.add(secret)

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):  # longest first: no partial leftovers
            value = value.replace(secret, self.MASK)
        return value

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


def _ids(finding: Finding) -> str:
    ids = [f"traceId {t}" for t in finding.trace_ids]
    if not finding.trace_ids:  # a thirdTraceId only helps when the gateway gave no traceId
        ids += [f"thirdTraceId {t}" for t in finding.third_trace_ids]
    return f" [{', '.join(ids)}]" if ids else ""


def render_text(report: Report, redactor: Redactor) -> str:
    width = max([len(f.check) for f in report.findings] + [10])
    header = ", ".join(f"{k} {v}" for k, v in report.header.items())
    lines = [f"Fxiaoke doctor: connection {report.conn_id!r} ({header})"]
    for finding in report.findings:
        label = f"{_LABELS[finding.status]:<7}"
        lines.append(f"{label} {finding.check:<{width}}  {finding.summary}{_ids(finding)}")
        if finding.fix:
            what = "how" if finding.status is Status.NOT_RUN else "fix"
            lines.append(f"{'':<7} {'':<{width}}  {what}: {finding.fix}")
    failed = sum(f.status is Status.FAIL for f in report.findings)
    warned = sum(f.status is Status.WARN for f in report.findings)
    verdict = "healthy" if report.healthy else f"{failed} check(s) failed"
    lines.append(f"Result: {verdict}, {warned} warning(s). This report holds no secrets.")
    return redactor.text("\n".join(lines)) + "\n"


def render_json(report: Report, redactor: Redactor) -> str:
    return json.dumps(redactor.data(report.as_dict()), indent=2, ensure_ascii=False) + "\n"
