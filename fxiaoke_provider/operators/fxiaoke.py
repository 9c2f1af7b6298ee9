"""Operators that send and revoke Fxiaoke service-account messages from DAG tasks.

They render templates, validate and delegate to ``FxiaokeHook``; the hook (and ``requests``)
is imported only when a task runs, so DAG files that use them stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support import task_state
from fxiaoke_provider.airflow_support.sending import DEFAULT_CONN_ID, MessageSpec, spec_of
from fxiaoke_provider.airflow_support.version_compat import AirflowFailException
from fxiaoke_provider.gateway import outcomes, protocol
from fxiaoke_provider.messaging import media
from fxiaoke_provider.messaging.bodies import has_template
from fxiaoke_provider.operators.base import BASE_TEMPLATE_FIELDS, FxiaokeBaseOperator

if TYPE_CHECKING:
    try:
        from airflow.sdk import Context
    except ImportError:
        from airflow.utils.context import Context  # type: ignore[no-redef]

TRACE_IDS_XCOM_KEY = "trace_ids"
MESSAGE_IDS_XCOM_KEY = "message_ids"


class FxiaokeTerminatedError(BaseException):
    """The task was terminated (SIGTERM) while a send was in progress; raised out of ``on_kill``."""


class FxiaokeSendMessageOperator(FxiaokeBaseOperator):
    """
    Send a text, card (``composite``) or articles message to Fxiaoke users, each person once.

    The return value (XCom ``return_value``) is the gateway's ``traceId`` when the message went out
    in one request, or the list of traceIds in request order when it took several (more than 500
    recipients, or employee ids and open ids mixed). XCom key ``trace_ids`` always holds the list;
    key ``message_ids`` holds, aligned with it, the ``messageId`` each answer carried, or None (the
    public gateway documents none; revoke needs one).

    :param to_users: ids; a list, or text rendering to a JSON list or comma-separated ids. Header
        auth style: CRM employee ids and/or ``FSUID_...`` open ids; legacy style: ``FSUID_...`` ids.
    :param to_mobiles: mobile numbers (same forms as ``to_users``), resolved through the address book
        before anything is sent; a number nobody has fails the task without a retry.
    :param to_departments: department ids (same forms) whose members receive the message.
    :param include_sub_departments: with ``to_departments``, members of sub-departments too (default).
    :param message: ``str`` for text, the ``composite`` dict, or a list of article dicts (templated
        throughout, strings inside dicts and lists too). An article may give ``coverImagePath``, a
        local image file uploaded before the send, instead of ``coverImage``.
    :param msg_type: ``text``, ``composite`` or ``articles``.
    :param service_id: service account that sends; default the connection's ``service_id``.

    Exactly once or reported: on Airflow >= 3.3 every request is recorded in the task state store
    before it goes out and when its answer arrives, so a retry (after a refusal, an
    ``execution_timeout`` or a crash) resumes the send: delivered requests are not sent again, one
    whose outcome is unknown is reported with its ``thirdTraceId``. Below 3.3 a send stopped after
    anything went out fails for good with the partial report. Waits never outlast
    ``execution_timeout``.
    """

    template_fields: Sequence[str] = (
        *BASE_TEMPLATE_FIELDS,
        "message",
        "to_users",
        "service_id",
        "to_mobiles",
        "to_departments",
    )
    template_fields_renderers = {"message": "json", "to_users": "json"}

    def __init__(
        self,
        *,
        to_users: Sequence[str] | str | None = None,
        message: str | dict[str, Any] | list[dict[str, Any]],
        msg_type: str = "text",
        service_id: str | None = None,
        to_mobiles: Sequence[str] | str | None = None,
        to_departments: Sequence[int | str] | str | None = None,
        include_sub_departments: bool = True,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, **kwargs)
        kinds = {"to_mobiles": to_mobiles, "to_departments": to_departments}
        spec = MessageSpec(to_users, message, msg_type, service_id, **kinds).check()
        self.to_users = to_users
        self.message = message
        self.msg_type = spec.msg_type
        self.service_id = service_id
        self.to_mobiles = to_mobiles
        self.to_departments = to_departments
        self.include_sub_departments = include_sub_departments

    _sending = False

    def execute(self, context: Context) -> str | list[str]:
        spec = spec_of(self)
        journal = task_state.journal_for(context)
        hook = self.hook  # built now: its deadline counts from the start of the try
        self._sending = True
        try:
            result = self._run(lambda: spec.send(hook, journal))
        except Exception:
            raise
        except BaseException as stop:  # execution_timeout, termination: never a silent resend
            at_least_once = hook.config.retry.retry_unknown_outcome
            if outcomes.stop_is_final(journal, retry_unknown_outcome=at_least_once):
                raise AirflowFailException(
                    f"the task was stopped ({type(stop).__name__}) after the send began; failing without "
                    f"retry so that nobody gets the message twice: {journal.report()}"
                ) from stop
            if journal.records:  # a retry resumes from the journal; say where it stands
                self.log.warning(
                    "Send stopped (%s); a retry resumes: %s", type(stop).__name__, journal.report()
                )
            raise
        finally:
            self._sending = False
        self.log.info(
            "Sent the Fxiaoke message in %d request(s); traceIds: %s", len(result.trace_ids), result.trace_ids
        )
        context["ti"].xcom_push(key=TRACE_IDS_XCOM_KEY, value=result.trace_ids)
        context["ti"].xcom_push(key=MESSAGE_IDS_XCOM_KEY, value=result.message_ids)
        return result.trace_ids[0] if len(result.trace_ids) == 1 else result.trace_ids

    def on_kill(self) -> None:
        """Stop a send in progress at once, so the task ends with a report instead of being killed."""
        if self._sending:
            self._sending = False
            raise FxiaokeTerminatedError("terminated during a send")


class FxiaokeRevokeMessageOperator(FxiaokeBaseOperator):
    """
    Revoke a service-account message; returns the revoke call's ``traceId``.

    :param message_id: the ``messageId`` the tenant's gateway gave for the message (templated), e.g.
        ``{{ ti.xcom_pull(task_ids='notify', key='message_ids')[0] }}``. Not a send's ``traceId``:
        that is a request id.
    :param service_id: service account that sent it; default the connection's ``service_id``.
    """

    template_fields: Sequence[str] = (*BASE_TEMPLATE_FIELDS, "message_id", "service_id")

    def __init__(
        self,
        *,
        message_id: str,
        service_id: str | None = None,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, **kwargs)
        self.message_id = message_id
        self.service_id = service_id

    def execute(self, context: Context) -> str:
        answer = self._run(lambda: self.hook.revoke_message(self.message_id, service_id=self.service_id))
        return str(answer.get(protocol.TRACE_ID_FIELD))


class FxiaokeUploadImageOperator(FxiaokeBaseOperator):
    """
    Upload an image through the material API; returns its media id (XCom ``return_value``) for
    articles' ``coverImage``, e.g. ``{{ ti.xcom_pull(task_ids='upload_cover') }}``. A media id can be
    reused, so one upload serves any number of later sends.

    Size (at most 5 MB) and type (JPG, JPEG, PNG, GIF or BMP, by extension and content) are checked
    before any request; a broken file fails the task without a retry.

    :param image_path: a local image file on the worker that runs the task (templated).
    :param filename: the name the gateway sees (templated); default the file's own name.
    """

    template_fields: Sequence[str] = (*BASE_TEMPLATE_FIELDS, "image_path", "filename")

    def __init__(
        self,
        *,
        image_path: str,
        filename: str | None = None,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, **kwargs)
        name = filename if filename is not None else image_path
        if not has_template(name):
            media.check_image_name(name, "filename" if filename is not None else "image_path")
        self.image_path = image_path
        self.filename = filename

    def execute(self, context: Context) -> str:
        def upload() -> str:
            image = media.load_image(self.image_path, self.filename or None, field="image_path")
            return self.hook.upload_image(image.content, filename=image.filename)

        media_id = self._run(upload)
        self.log.info("Uploaded %s; media id %s", self.image_path, media_id)
        return media_id
