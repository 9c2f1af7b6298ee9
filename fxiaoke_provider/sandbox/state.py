"""Everything the sandbox remembers, behind one lock: clock, tokens, limits, faults, records, counters.

Handler threads call these methods concurrently. Nothing here stores a token value in a record, an
appSecret or a permanentCode: request bodies are never kept, only the message payload of a delivery.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

from fxiaoke_provider.sandbox.config import REQUEST_RECORD_LIMIT, TRACE_ID_PREFIX, SandboxApp
from fxiaoke_provider.sandbox.crm import CrmStore
from fxiaoke_provider.sandbox.directory import Directory
from fxiaoke_provider.sandbox.faults import Fault, FaultPlan, fault_from_spec, make_fault
from fxiaoke_provider.sandbox.ratelimit import SlidingWindowLimiter
from fxiaoke_provider.sandbox.rules import (
    HEADER_STYLE,
    LEGACY_STYLE,
    SEND_PATHS,
    SUCCESS,
    TOKEN_LIMIT_WINDOW_S,
    TOKEN_PATHS,
)
from fxiaoke_provider.sandbox.tokens import Token, TokenStore

#: Prefix of the message ids the sandbox hands out when ``message_ids`` is on (a HYPOTHETICAL
#: tenant behaviour: no documented send answer carries a messageId).
MESSAGE_ID_PREFIX = "SBX-MSG-"
MEDIA_ID_PREFIX = "SBX-MEDIA-"


class SandboxState:
    """The sandbox's memory; ``reset()`` returns it to a fresh start (traceIds stay unique)."""

    def __init__(
        self,
        app: SandboxApp,
        *,
        api_paths: Iterable[str],
        rate_limit_calls: int,
        rate_limit_window_s: float,
        token_calls_per_minute: int,
        directory: Directory,
        count_refused_token_calls: bool = False,
        message_ids: bool = False,
        initial_token_age_s: float | None = None,
        crm_seed: Mapping[str, int] | None = None,
        crm_record_bytes: int = 0,
    ) -> None:
        self.app = app
        self.directory = directory
        self.api_paths = frozenset(api_paths)
        self._message_ids_default = bool(message_ids)
        self._initial_token_age_s = initial_token_age_s
        self._lock = threading.Lock()
        self._trace_counter = itertools.count(1)
        self._api_limiter = SlidingWindowLimiter(rate_limit_calls, rate_limit_window_s)
        self._token_limiter = SlidingWindowLimiter(
            token_calls_per_minute, TOKEN_LIMIT_WINDOW_S, count_refused=count_refused_token_calls
        )
        self._tokens = TokenStore()
        self._faults = FaultPlan()
        self._token_in_flight = 0  # survives reset(): calls in flight still finish and decrement it
        #: CRM records: their own lock, so a long query scan does not hold up other endpoints.
        self.crm = CrmStore(
            crm_seed,
            now_ms=lambda: int(self.now() * 1000),
            directory=directory,
            record_bytes=crm_record_bytes,
        )
        self._init_records()
        self._age_initial_tokens()

    def _init_records(self) -> None:
        self._clock_offset = 0.0
        self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_RECORD_LIMIT)
        self._messages: list[dict[str, Any]] = []
        self._revokes: list[dict[str, Any]] = []
        self._media: list[dict[str, Any]] = []
        self._by_message_id: dict[str, dict[str, Any]] = {}
        self.message_ids = self._message_ids_default
        self._request_seq = 0
        self._seen_third_trace_ids: set[str] = set()
        self._duplicated_third_trace_ids: set[str] = set()
        self._codes: Counter[int | None] = Counter()
        self._http_statuses: Counter[int | None] = Counter()
        self._counts: Counter[str] = Counter()
        self._token_concurrent_max = 0

    # --- clock and ids ---------------------------------------------------------------------------
    def now(self) -> float:
        """Sandbox time: wall time plus whatever ``advance_clock`` added."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError("seconds must be a non-negative number")
        with self._lock:
            self._clock_offset += float(seconds)
            return self._clock_offset

    def new_trace_id(self) -> str:
        return f"{TRACE_ID_PREFIX}{next(self._trace_counter)}.{secrets.token_hex(4)}"

    def set_message_ids(self, enabled: bool) -> None:
        """Turn the HYPOTHETICAL ``messageId`` in send answers on or off (off by default)."""
        if not isinstance(enabled, bool):
            raise ValueError("enabled must be true or false")
        with self._lock:
            self.message_ids = enabled

    # --- faults ----------------------------------------------------------------------------------
    def _check_path(self, path: str) -> None:
        if path not in self.api_paths:
            known = ", ".join(sorted(self.api_paths))
            raise ValueError(f"unknown API path {path!r}; expected one of {known}")

    def add_fault(self, path: str, kind: str, count: int = 1, **params: Any) -> Fault:
        self._check_path(path)
        fault = make_fault(kind, **params)
        with self._lock:
            self._faults.add(path, fault, count)
        return fault

    def set_chaos(
        self, path: str, rate: float, kinds: Iterable[Mapping[str, Any]] = (), seed: int | None = None
    ) -> None:
        self._check_path(path)
        faults = [fault_from_spec(spec) for spec in kinds]
        with self._lock:
            self._faults.set_chaos(path, rate, faults, seed)

    def clear_faults(self, path: str | None = None) -> None:
        if path is not None:
            self._check_path(path)
        with self._lock:
            self._faults.clear(path)

    def pending_faults(self) -> dict[str, Any]:
        with self._lock:
            return self._faults.pending()

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            return self._faults.take(path)

    # --- tokens and limits -----------------------------------------------------------------------
    def issue_token(self, app_id: str, style: str) -> tuple[Token, float]:
        """The token to answer with and its remaining lifetime in seconds."""
        with self._lock:
            now = self.now()
            token, _fresh = self._tokens.issue(app_id, style, self.app.ea, now)
            return token, token.expires_at - now

    def age_current_token(self, seconds: float, style: str | None = None) -> dict[str, float]:
        """Make the token the next call of ``style`` (both if None) hands out ``seconds`` old.

        Returns the remaining lifetime per style, i.e. the ``expiresIn`` a client will be given
        (if the age is past the style's reuse age, the next call gets a fresh token instead).
        """
        styles = (HEADER_STYLE, LEGACY_STYLE) if style is None else (style,)
        if any(name not in (HEADER_STYLE, LEGACY_STYLE) for name in styles):
            raise ValueError(f"style must be {HEADER_STYLE!r}, {LEGACY_STYLE!r} or null; got {style!r}")
        with self._lock:
            now = self.now()
            remaining = {}
            for name in styles:
                token = self._tokens.age_current(self.app.app_id, name, self.app.ea, seconds, now)
                remaining[name] = token.expires_at - now
            return remaining

    def _age_initial_tokens(self) -> None:
        if self._initial_token_age_s is not None:
            self.age_current_token(self._initial_token_age_s)

    def find_token(self, value: str) -> Token | None:
        with self._lock:
            return self._tokens.find(value, self.now())

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens.issued_values)

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.expire_all()

    def allow_call(self, path: str, tenant: str) -> bool:
        with self._lock:
            return self._api_limiter.allow((path, tenant), self.now())

    def allow_token_call(self, app_id: str) -> bool:
        with self._lock:
            return self._token_limiter.allow(app_id, self.now())

    def token_call_started(self) -> None:
        with self._lock:
            self._token_in_flight += 1
            self._token_concurrent_max = max(self._token_concurrent_max, self._token_in_flight)

    def token_call_finished(self) -> None:
        with self._lock:
            self._token_in_flight -= 1

    # --- records ---------------------------------------------------------------------------------
    def record_message(
        self,
        *,
        trace_id: str,
        third_trace_id: str | None,
        path: str,
        service_id: str | None,
        msg_type: str,
        to_user: list[str],
        message: Any,
        auth_style: str,
    ) -> str | None:
        """Record a delivery; returns the messageId to answer with (only when ``message_ids`` is on).

        ``persons`` names, for each ``toUser`` entry, the directory person it reached (their key,
        the employee id) whichever id kind was used, or None for an id the directory does not know.
        """
        persons = []
        for user in to_user:
            person = self.directory.person(user)
            persons.append(person.key if person is not None else None)
        with self._lock:
            seq = len(self._messages) + 1
            message_id = f"{MESSAGE_ID_PREFIX}{seq}.{secrets.token_hex(4)}" if self.message_ids else None
            record = {
                "seq": seq,
                "traceId": trace_id,
                "thirdTraceId": third_trace_id,
                "path": path,
                "serviceId": service_id,
                "msgType": msg_type,
                "toUser": to_user,
                "persons": persons,
                "auth_style": auth_style,
                "message": message,
                "messageId": message_id,
                "received_at": self.now(),
                "revoked": False,
            }
            self._messages.append(record)
            if message_id is not None:
                self._by_message_id[message_id] = record
            return message_id

    def record_revoke(
        self, *, trace_id: str, third_trace_id: str | None, service_id: str, message_id: str
    ) -> bool:
        """Record a revoke; any non-empty messageId is accepted.

        The sandbox matches it to no send by traceId or anything else: nothing public says where a
        messageId comes from. Only a messageId the sandbox ITSELF handed out (``message_ids`` on, a
        hypothetical behaviour) marks that message revoked; ``matched`` says whether that happened.
        """
        with self._lock:
            target = self._by_message_id.get(message_id)
            if target is not None:
                target["revoked"] = True
            self._revokes.append(
                {
                    "seq": len(self._revokes) + 1,
                    "traceId": trace_id,
                    "thirdTraceId": third_trace_id,
                    "serviceId": service_id,
                    "messageId": message_id,
                    "matched": target is not None,
                    "received_at": self.now(),
                }
            )
            return target is not None

    def record_request(
        self,
        *,
        path: str,
        third_trace_id: str | None,
        third_trace_id_valid: bool,
        auth_style: str | None,
        error_code: int | None,
        trace_id: str,
        fault: Fault | None,
        delivered: bool,
        http_status: int | None,
    ) -> dict[str, Any]:
        with self._lock:
            self._request_seq += 1
            record = {
                "seq": self._request_seq,
                "path": path,
                "thirdTraceId": third_trace_id,
                "auth_style": auth_style,
                "errorCode": error_code,
                "traceId": trace_id,
                "fault": fault.kind if fault is not None else None,
                "delivered": delivered,
                "http_status": http_status,
            }
            self._requests.append(record)
            self._codes[error_code] += 1
            self._http_statuses[http_status] += 1
            if fault is not None:
                self._counts["faults_injected"] += 1
            if delivered and path in SEND_PATHS:
                self._counts["messages_delivered"] += 1
            if path in TOKEN_PATHS:
                self._counts["token_calls"] += 1
                if error_code == SUCCESS:
                    self._counts["token_calls_ok"] += 1
            if third_trace_id_valid and third_trace_id:
                if third_trace_id in self._seen_third_trace_ids:
                    self._duplicated_third_trace_ids.add(third_trace_id)
                else:
                    self._seen_third_trace_ids.add(third_trace_id)
            return record

    def record_media(
        self,
        *,
        trace_id: str,
        third_trace_id: str | None,
        filename: str,
        size: int,
        image_type: str,
        auth_style: str,
    ) -> str:
        """Record an accepted upload (never its bytes) and return its new media id."""
        with self._lock:
            seq = len(self._media) + 1
            media_id = f"{MEDIA_ID_PREFIX}{seq}.{secrets.token_hex(4)}"
            self._media.append(
                {
                    "seq": seq,
                    "mediaId": media_id,
                    "traceId": trace_id,
                    "thirdTraceId": third_trace_id,
                    "filename": filename,
                    "size": size,
                    "type": image_type,
                    "auth_style": auth_style,
                    "received_at": self.now(),
                }
            )
            return media_id

    def count(self, name: str) -> None:
        """Bump a free-form counter shown in ``stats()`` (e.g. requests to unknown paths)."""
        with self._lock:
            self._counts[name] += 1

    # --- inspection ------------------------------------------------------------------------------
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._messages)

    def revokes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self._revokes]

    def media(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self._media]

    def deliveries_per_person(self) -> dict[str, Any]:
        """How many deliveries each directory person got, whichever id kind reached them.

        ``persons`` is keyed by the person key (employee id) and lists every person of the
        directory, 0 included; ``unknown_ids`` counts recipient ids the directory does not know.
        A toUser naming someone twice counts twice.
        """
        with self._lock:
            messages = [(m["seq"], m["toUser"], m["persons"]) for m in self._messages]
        persons: dict[str, dict[str, Any]] = {
            person.key: {
                "employeeId": person.employee_id,
                "openUserId": person.open_user_id,
                "name": person.name,
                "deliveries": 0,
                "messages": [],
            }
            for person in self.directory.people
        }
        unknown: Counter[str] = Counter()
        for seq, to_user, keys in messages:
            for user, key in zip(to_user, keys, strict=True):
                if key is None:
                    unknown[user] += 1
                else:
                    persons[key]["deliveries"] += 1
                    persons[key]["messages"].append(seq)
        return {"persons": persons, "unknown_ids": dict(unknown)}

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self._requests]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            counts = self._counts
            return {
                "requests": self._request_seq,
                "token_calls": counts["token_calls"],
                "token_calls_ok": counts["token_calls_ok"],
                "token_concurrent_max": self._token_concurrent_max,
                "token_in_flight": self._token_in_flight,
                "tokens_live": self._tokens.live_count(now),
                "messages_delivered": counts["messages_delivered"],
                "revokes": len(self._revokes),
                "media_uploads": len(self._media),
                "message_ids": self.message_ids,
                "faults_injected": counts["faults_injected"],
                "duplicate_third_trace_ids": len(self._duplicated_third_trace_ids),
                "not_found": counts["not_found"],
                "error_codes": {str(code): n for code, n in self._codes.items() if code is not None},
                "http_statuses": {str(status): n for status, n in self._http_statuses.items() if status},
                "clock_offset_s": self._clock_offset,
                "crm_queries": self.crm.queries,
            }

    def reset(self) -> None:
        """Forget tokens, records, counters, limits, faults and the clock offset.

        Constructor settings come back: ``message_ids``, the initial token age (if any) and the CRM
        records of the constructor's ``crm_seed`` (creates, edits and later seeds are dropped).
        """
        with self._lock:
            self._tokens.expire_all()
            self._api_limiter.clear()
            self._token_limiter.clear()
            self._faults.clear()
            self._init_records()
        self.crm.reset()
        self._age_initial_tokens()
