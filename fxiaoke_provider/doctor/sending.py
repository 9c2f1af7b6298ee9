"""``--send``: one short text to the acting user in each id kind the auth style may take, then revoke.

The sender is the one the hook uses: the connection's service account when it names one
(``service_id``), else the app itself (``/cgi/message/send``), so the check covers what tasks will do.
Recipients are only ever the acting user: the connection's ``user_id``, or the open id the person
running the doctor gave for themselves (``--open-user-id``) or found by their own mobile number.
Every call is made once (the hook is built with one attempt): a retried send could deliver twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.doctor.checks import collect_ids
from fxiaoke_provider.doctor.diagnosis import diagnose
from fxiaoke_provider.doctor.findings import Finding, Status
from fxiaoke_provider.doctor.wire import WireLog
from fxiaoke_provider.exceptions import FxiaokeError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import wire as message_wire

if TYPE_CHECKING:
    from fxiaoke_provider.connection.config import FxiaokeConnectionConfig

#: Codes meaning "this recipient id is not valid here": the id kind is refused, nothing else is wrong.
RECIPIENT_REFUSED_CODES = frozenset({protocol.TO_USER_INVALID, protocol.TO_USER_MISSING})
HOW_TO_GIVE_OPEN_ID = (
    "run again with --open-user-id FSUID_... (your own open id) or --mobile <your mobile number>"
)


@dataclass(frozen=True)
class IdKind:
    """One way to name the acting user as a recipient."""

    name: str
    recipient: str | None
    convert: bool
    missing: str = ""


def mask_mobile(mobile: str) -> str:
    digits = mobile.strip()
    return digits[:3] + "*" * max(0, len(digits) - 7) + digits[-4:] if len(digits) > 7 else "***"


class SendChecks:
    def __init__(self, hook: Any, config: FxiaokeConnectionConfig, wire_log: WireLog, host: str) -> None:
        self.hook = hook
        self.config = config
        self.wire = wire_log  # not ``wire``: that name is the messaging wire module here
        self.host = host
        self.service_id = config.service_id
        if self.service_id:
            self.path = message_wire.SERVICE_MESSAGE_SEND_PATH
            self.sender_name = f"service account {self.service_id}"
        else:
            self.path = message_wire.APP_MESSAGE_SEND_PATH
            self.sender_name = "the app itself"

    def _diagnosed(self, check: str, error: Exception, mark: int, status: Status = Status.FAIL) -> Finding:
        diagnosis = diagnose(error, host=self.host, auth_style=self.config.auth_style)
        finding = Finding(check, status, diagnosis.cause, fix=diagnosis.fix)
        finding.details["error_code"] = getattr(error, "error_code", None)
        collect_ids(finding, self.wire.since(mark), error)
        return finding

    # --- who to send to --------------------------------------------------------------------------
    def lookup_open_id(self, mobile: str) -> tuple[Finding, str | None]:
        """The open id of the person with this mobile number (``empList[0].openUserId``)."""
        check = "open id by mobile"
        mark = self.wire.mark()
        try:
            body = {message_wire.MOBILE_FIELD: mobile}
            answer = self.hook.call(message_wire.USER_BY_MOBILE_PATH, body, repeatable=True)
        except FxiaokeError as error:
            return self._diagnosed(check, error, mark), None
        employees = answer.get(message_wire.EMPLOYEE_LIST_FIELD)
        first = employees[0] if isinstance(employees, list) and employees else None
        open_id = first.get(message_wire.OPEN_USER_ID_FIELD) if isinstance(first, dict) else None
        shown = mask_mobile(mobile)
        if not isinstance(open_id, str) or not open_id.startswith(protocol.OPEN_USER_ID_PREFIX):
            finding = Finding(
                check,
                Status.FAIL,
                f"no employee with mobile {shown} (or no openUserId in the answer)",
                fix="check the number, or give --open-user-id FSUID_... instead",
                details={"answer_fields": sorted(answer)},
            )
            collect_ids(finding, self.wire.since(mark))
            return finding, None
        count = len(employees) if isinstance(employees, list) else 0
        finding = Finding(check, Status.OK, f"{shown} -> {open_id}", details={"matches": count})
        if count > 1:
            finding.status = Status.WARN
            finding.summary += f" (the first of {count} employees with this number)"
            finding.fix = "give --open-user-id to be sure the test message reaches you"
        collect_ids(finding, self.wire.since(mark))
        return finding, open_id

    def id_kinds(self, open_id: str | None) -> list[IdKind]:
        """Header style: employee id as is, open id with convertUserId; legacy: open id as is."""
        user_id = self.config.user_id
        if self.config.auth_style == "legacy":
            if open_id is None and user_id and user_id.startswith(protocol.OPEN_USER_ID_PREFIX):
                open_id = user_id
            return [IdKind("open id", open_id, convert=False, missing=HOW_TO_GIVE_OPEN_ID)]
        employee = user_id if user_id and user_id.isdigit() else None
        return [
            IdKind("employee id", employee, convert=False, missing="the connection has no digits user_id"),
            IdKind("open id", open_id, convert=True, missing=HOW_TO_GIVE_OPEN_ID),
        ]

    # --- sending ---------------------------------------------------------------------------------
    def sender(self) -> Finding:
        """Which sender the test messages (and the hook's sends) go out as."""
        details = {"sender": "service account" if self.service_id else "app", "path": self.path}
        if self.service_id:
            details["service_id"] = self.service_id
            return Finding("sender", Status.OK, f"{self.sender_name} ({self.path})", details=details)
        summary = f"{self.sender_name} ({self.path}): the connection has no service_id"
        return Finding("sender", Status.OK, summary, details=details)

    def _body(self, kind: IdKind, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            message_wire.TO_USER_FIELD: [kind.recipient],
            message_wire.MSG_TYPE_FIELD: message_wire.MSG_TYPE_TEXT,
            message_wire.MSG_TYPE_TEXT: {message_wire.TEXT_CONTENT_FIELD: text},
        }
        if self.service_id:
            body[message_wire.SERVICE_ID_FIELD] = self.service_id
        if kind.convert:
            body[message_wire.CONVERT_USER_ID_FIELD] = True
        return body

    def send(self, kind: IdKind) -> tuple[Finding, dict[str, Any] | None]:
        check = f"send: {kind.name}"
        if kind.recipient is None:
            needs = f"needs the acting user's {kind.name}"
            return Finding(check, Status.NOT_RUN, needs, fix=kind.missing), None
        how = "with convertUserId" if kind.convert else "as is"
        text = (
            f"Fxiaoke provider check ({kind.name}, sent by {self.sender_name}) for connection "
            f"{self.config.conn_id}: only you receive this; nothing to do."
        )
        mark = self.wire.mark()
        try:
            answer = self.hook.call(self.path, self._body(kind, text))
        except FxiaokeError as error:
            if error.error_code in RECIPIENT_REFUSED_CODES:
                finding = self._diagnosed(check, error, mark, Status.WARN)
                finding.summary = f"refused {kind.name} {kind.recipient} sent {how}: {finding.summary}"
                finding.fix = None
            else:
                finding = self._diagnosed(check, error, mark)
            finding.details.update(recipient=kind.recipient, convertUserId=kind.convert, accepted=False)
            return finding, None
        fields = sorted(answer)
        has_id = message_wire.MESSAGE_ID_FIELD in answer
        summary = (
            f"accepted {kind.name} {kind.recipient} sent {how}; answer fields: {', '.join(fields)} "
            f"({'with' if has_id else 'no'} messageId)"
        )
        details = {
            "recipient": kind.recipient,
            message_wire.CONVERT_USER_ID_FIELD: kind.convert,
            "accepted": True,
            "answer_fields": fields,
            "message_id": answer.get(message_wire.MESSAGE_ID_FIELD),
        }
        finding = Finding(check, Status.OK, summary, details=details)
        collect_ids(finding, self.wire.since(mark))
        return finding, answer

    def verdict(self, sends: list[Finding]) -> Finding:
        """Which id kinds the tenant accepted: the answer to "what do I put in toUser"."""
        tried = [f for f in sends if f.status is not Status.NOT_RUN and "accepted" in f.details]
        accepted = [f.check.split(": ", 1)[1] for f in tried if f.details["accepted"]]
        refused = [f.check.split(": ", 1)[1] for f in tried if not f.details["accepted"]]
        untested = [f.check.split(": ", 1)[1] for f in sends if f.status is Status.NOT_RUN]
        details = {
            "accepted": accepted,
            "refused": refused,
            "not_tested": untested,
            "auth_style": self.config.auth_style,
        }
        if not tried:
            return Finding("id kinds", Status.NOT_RUN, "no test message could be sent", details=details)
        summary = f"{self.config.auth_style} style: accepts {', '.join(accepted) or 'none'}"
        if refused:
            summary += f"; refuses {', '.join(refused)}"
        if untested:
            summary += f"; not tested: {', '.join(untested)}"
        if accepted:
            return Finding("id kinds", Status.OK, summary, details=details)
        return Finding(
            "id kinds",
            Status.FAIL,
            summary,
            fix="see the send lines above; report this with their traceIds (docs/doctor.md)",
            details=details,
        )

    def revoke(self, answers: list[dict[str, Any]]) -> Finding:
        ids = [a[message_wire.MESSAGE_ID_FIELD] for a in answers if a.get(message_wire.MESSAGE_ID_FIELD)]
        if not answers:
            return Finding("revoke", Status.NOT_RUN, "no test message was delivered")
        if not self.service_id:
            return Finding(
                "revoke",
                Status.NOT_RUN,
                "messages the app itself sends cannot be revoked (revoke names a service account)",
            )
        if not ids:
            fields = sorted({key for answer in answers for key in answer})
            return Finding(
                "revoke",
                Status.NOT_RUN,
                f"no send answer carried a messageId (fields: {', '.join(fields)}); revoke needs an id "
                "this tenant does not hand out in send answers",
                details={"answer_fields": fields},
            )
        results: list[Finding] = []
        for message_id in ids:
            mark = self.wire.mark()
            body = {message_wire.SERVICE_ID_FIELD: self.service_id, message_wire.MESSAGE_ID_FIELD: message_id}
            try:
                self.hook.call(message_wire.SERVICE_MESSAGE_REVOKE_PATH, body)
            except FxiaokeError as error:
                finding = self._diagnosed("revoke", error, mark, Status.WARN)
                finding.summary = f"revoking messageId {message_id} failed: {finding.summary}"
                results.append(finding)
                continue
            finding = Finding("revoke", Status.OK, f"revoked the test message {message_id}")
            collect_ids(finding, self.wire.since(mark))
            results.append(finding)
        merged = Finding(
            "revoke",
            Status.WARN if any(f.status is Status.WARN for f in results) else Status.OK,
            "; ".join(f.summary for f in results),
            fix=next((f.fix for f in results if f.fix), None),
            details={"message_ids": ids},
        )
        for finding in results:
            merged.trace_ids += finding.trace_ids
            merged.third_trace_ids += finding.third_trace_ids
        return merged
