"""``Messaging``: send, revoke, address-book lookups and image uploads over one gateway.

The messaging capability, without Airflow: message bodies (``bodies``), recipients and the address
book (``recipients``), images (``media``) and the send journal (``journal``) are checked and built
here, and every request goes through the gateway's one ``call``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.exceptions import (
    BatchOutcome,
    FxiaokeError,
    FxiaokeInvalidInputError,
    FxiaokePartialSendError,
    FxiaokeTransientError,
)
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.deadline import FxiaokeDeadlineError
from fxiaoke_provider.messaging import bodies, media, recipients, wire
from fxiaoke_provider.messaging.journal import (
    DELIVERED,
    FxiaokeUnknownBatchesError,
    SendJournal,
    batch_digest,
    fingerprint,
)

if TYPE_CHECKING:
    from fxiaoke_provider.gateway.gateway import Gateway

log = logging.getLogger(__name__)

Message = str | dict[str, Any] | list[dict[str, Any]]


class Messaging:
    """Messages and the address book of one gateway (``client.messaging``).

    :param gateway: the gateway every request goes through.
    :param service_id: the service account that sends when a call names none (without one, the app).
    """

    def __init__(self, gateway: Gateway, service_id: str | None = None) -> None:
        self._gateway = gateway
        self.service_id = service_id

    # --- messages -----------------------------------------------------------------------------------
    def send_message(
        self,
        to_users: Sequence[str] | None,
        message: Message,
        msg_type: str = "text",
        service_id: str | None = None,
        *,
        to_mobiles: Sequence[str] | None = None,
        to_departments: Sequence[int | str] | None = None,
        include_sub_departments: bool = True,
        journal: SendJournal | None = None,
    ) -> list[dict[str, Any]]:
        """
        Send one message to any number of people, each once, 500 per request, in order.

        With a service id (argument, else the default ``service_id``) it is sent by that service
        account; without one, by the app itself.

        :param to_users: ids in the kind the auth style addresses (header: CRM employee ids, and
            ``FSUID_...`` open ids which go in requests of their own with ``convertUserId``; legacy:
            ``FSUID_...`` open ids). Repeated ids are sent once. May be None or empty when
            ``to_mobiles`` or ``to_departments`` name someone.
        :param message: ``str`` for text, the ``composite`` dict for a card, a list of article dicts.
            An article may give ``coverImagePath`` (a local image) instead of ``coverImage``: the file
            is checked, uploaded once per distinct content, and sent as its media id.
        :param to_mobiles: mobile numbers, each resolved through the address book to an open id
            (once per client); a number nobody has is bad input, raised before any message goes out.
        :param to_departments: department ids whose members receive the message; a department
            without members is bad input.
        :param include_sub_departments: members of sub-departments too (``fetchChild``); default True.
        :param journal: where each request is recorded in flight and delivered (``messaging.journal``).
            A durable one lets a later try resume: delivered requests are not sent again, requests of
            unknown outcome only with at-least-once delivery.
        :return: the gateway's answer of every request, in batch order (each has its ``traceId``,
            and a ``messageId`` where the tenant's gateway returns one); a request delivered by an
            earlier try is ``{"traceId": ..., "messageId": ..., "resumed": True}``.
        :raises FxiaokePartialSendError: a later batch failed after earlier ones were delivered.
        :raises FxiaokeUnknownBatchesError: everything else went out, but an earlier try left
            requests of unknown outcome (reported with their ``thirdTraceId``, not resent).
        """
        auth_style = self._gateway.auth_style
        fields = bodies.build_message_fields(msg_type, media.without_cover_paths(message))
        wanted = recipients.check_recipient_kinds(to_users, to_mobiles, to_departments)
        users, dropped = wanted.users, wanted.dropped_users
        if dropped:
            log.info("Dropped %d repeated recipient id(s); each person gets the message once", dropped)
        groups = bodies.recipient_groups(users, auth_style)
        if service_id is not None:
            service_id = bodies.check_id(service_id, "service_id")
        covers = media.load_covers(message) if msg_type == "articles" else {}
        # Every local rule has passed; lookups and uploads now, and no message before they all worked.
        found = self._address_book.resolve(wanted, include_sub_departments)
        groups = recipients.merge_groups(groups, found, auth_style)
        users = [user for group in groups for user in group.ids]
        if covers:
            media_ids = self._cover_uploads.media_ids(covers)
            fields = bodies.build_message_fields(msg_type, media.with_media_ids(message, media_ids))
        service_id = service_id or self.service_id
        path = wire.SERVICE_MESSAGE_SEND_PATH if service_id else wire.APP_MESSAGE_SEND_PATH
        sender = {wire.SERVICE_ID_FIELD: service_id} if service_id else {}
        requests_to_send = [
            {**group.body_fields(chunk), **fields, **sender}
            for group in groups
            for chunk in bodies.batches(group.ids)
        ]
        answers = self._send_batches(path, requests_to_send, journal)
        # DEBUG: rendering a log line costs about as much CPU as the request itself, and a loop of
        # sends should not pay it per message; the operator and the notifier log the traceIds once.
        log.debug(
            "Sent Fxiaoke %s message to %d recipient(s) in %d request(s) via %s; traceIds: %s",
            fields[wire.MSG_TYPE_FIELD],
            len(users),
            len(answers),
            f"service account {service_id}" if service_id else "the app",
            ", ".join(str(answer.get(protocol.TRACE_ID_FIELD)) for answer in answers),
        )
        return answers

    def _send_batches(
        self, path: str, requests_to_send: list[dict[str, Any]], record: SendJournal | None = None
    ) -> list[dict[str, Any]]:
        """Send request bodies in order, each recorded in ``record``; after the first delivered one
        (in this try or an earlier one), a failure is a partial send."""

        def outcome(i: int, trace_id: str | None = None) -> BatchOutcome:
            return BatchOutcome(i, len(requests_to_send[i][wire.TO_USER_FIELD]), trace_id)

        record = record if record is not None else SendJournal()
        send_id = fingerprint(path, requests_to_send)
        record.start(send_id, len(requests_to_send))
        resend_unknown = self._gateway.settings.retry.retry_unknown_outcome
        answers: list[dict[str, Any]] = []
        for index, body in enumerate(requests_to_send):
            digest = batch_digest(send_id, index, body)
            size = len(body[wire.TO_USER_FIELD])
            earlier = record.earlier(index, digest)
            if earlier is not None and (earlier.state == DELIVERED or not resend_unknown):
                record.carry(earlier)  # delivered, or of unknown outcome: not sent again
                if earlier.state == DELIVERED:
                    answers.append(earlier.answer())
                continue

            def in_flight(third_trace_id: str, index: int = index, digest: str = digest, size: int = size):
                record.in_flight(index, digest, third_trace_id, size)

            try:
                answer = self._gateway.call(path, body, before_send=in_flight)
            except FxiaokeError as error:
                if isinstance(error, (FxiaokeTransientError, FxiaokeDeadlineError)):
                    record.not_sent(index)  # refused before any work was done
                if not any(i != index for i in record.records):
                    raise
                raise FxiaokePartialSendError(
                    error,
                    delivered=[
                        outcome(r.index, r.trace_id) for r in record.delivered_records() if r.index != index
                    ],
                    failed=outcome(index),
                    not_sent=[outcome(i) for i in range(index + 1, len(requests_to_send))],
                ) from error
            record.delivered(
                index,
                digest,
                answer.get(protocol.TRACE_ID_FIELD),
                size,
                answer.get(wire.MESSAGE_ID_FIELD),
            )
            answers.append(answer)
        if record.unknown():
            raise FxiaokeUnknownBatchesError(record)
        record.finish()
        return answers

    def revoke_message(self, message_id: str, service_id: str | None = None) -> dict[str, Any]:
        """Revoke a service-account message by the ``messageId`` the tenant's gateway gave for it.

        A send's ``traceId`` is a request id, not a message id: nothing public says where a message
        id comes from, so the caller passes the one it has (XCom ``message_ids`` where a send answer
        carried one).
        """
        if isinstance(message_id, str) and message_id.strip() == "None":
            # what "{{ ti.xcom_pull(..., key='message_ids')[0] }}" renders to when the answer had none
            raise FxiaokeInvalidInputError(
                "message_id", "required; got 'None' (the send answer carried no messageId)"
            )
        body = {wire.MESSAGE_ID_FIELD: bodies.check_id(message_id, "message_id")}
        if service_id is None:
            service_id = self.service_id
            if service_id is None:
                raise FxiaokeInvalidInputError(
                    "service_id", "required to revoke: pass it or set the connection's extra 'service_id'"
                )
        body[wire.SERVICE_ID_FIELD] = bodies.check_id(service_id, "service_id")
        answer = self._gateway.call(wire.SERVICE_MESSAGE_REVOKE_PATH, body)
        log.info(
            "Revoked Fxiaoke message %s (traceId %s)",
            body[wire.MESSAGE_ID_FIELD],
            answer.get(protocol.TRACE_ID_FIELD),
        )
        return answer

    # --- address book and material -------------------------------------------------------------------
    @cached_property
    def _address_book(self) -> recipients.AddressBook:
        return recipients.AddressBook(self.get_user_by_mobile, self.list_department_users)

    @cached_property
    def _cover_uploads(self) -> media.CoverUploads:
        return media.CoverUploads(self._upload)

    def get_user_by_mobile(self, mobile: str) -> dict[str, Any] | None:
        """The employee with this mobile number (their ``openUserId`` and what else the address book
        holds), or None when nobody has it. Where several share it, the first (as every public client
        reads ``empList[0]``)."""
        body = {wire.MOBILE_FIELD: recipients.check_mobile(mobile)}
        answer = self._gateway.call(wire.USER_BY_MOBILE_PATH, body, repeatable=True)
        employees = recipients.employees_by_mobile(answer)
        if len(employees) > 1:
            log.warning("%d employees share mobile %s; the first is used", len(employees), mobile)
        return employees[0] if employees else None

    def list_department_users(self, department_id: int, fetch_child: bool = True) -> list[dict[str, Any]]:
        """The employees of a department (each with its ``openUserId``), sub-departments included
        unless ``fetch_child`` is False."""
        body = {
            wire.DEPARTMENT_ID_FIELD: recipients.check_department_id(department_id),
            wire.FETCH_CHILD_FIELD: bool(fetch_child),
        }
        return recipients.department_users(
            self._gateway.call(wire.USER_SIMPLE_LIST_PATH, body, repeatable=True)
        )

    def list_departments(self) -> list[dict[str, Any]]:
        """Every department of the enterprise, as the address book answers them."""
        return recipients.departments(self._gateway.call(wire.DEPARTMENT_LIST_PATH, {}, repeatable=True))

    def upload_image(self, file: str | os.PathLike[str] | bytes, filename: str | None = None) -> str:
        """Upload an image through the material API and return its media id (reusable, e.g. as an
        article's ``coverImage``). Size (at most 5 MB) and type (JPG, JPEG, PNG, GIF, BMP, by name and
        content) are checked before any request.

        :param file: a local path, or the image's bytes.
        :param filename: the name the gateway sees; default the path's name (``image.<type>`` for bytes).
        """
        return self._upload(media.load_image(file, filename))

    def _upload(self, image: media.Image) -> str:
        answer = self._gateway.call(wire.MEDIA_UPLOAD_PATH, {}, files={wire.MEDIA_FIELD: image.form_file()})
        media_id = media.media_id_from_answer(answer)
        log.info(
            "Uploaded image %s (%d bytes) as media id %s (traceId %s)",
            image.filename,
            len(image.content),
            media_id,
            answer.get(protocol.TRACE_ID_FIELD),
        )
        return media_id
