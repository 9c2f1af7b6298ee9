"""One access token per Airflow deployment, kept in Airflow's own metadata store (``token_cache: airflow``).

Workers that share no disk (one pod per task, several machines) still share the metadata DB, so
the token lives in an Airflow Variable. Its key contains ``access_token``, which Airflow treats
as sensitive (masked in the UI and in logs); Variables are encrypted at rest with the
deployment's Fernet key. Inside a task the Variable is read and written through Airflow's
execution API, elsewhere (scripts, ``dag.test()``'s parent) through the ORM.

Coordinating fetches: Airflow Variables offer no compare-and-set, so a fetch is guarded by a lease
Variable written, left to settle, and read back: only the worker that still finds its own lease
fetches, the others wait for the token to appear. On one machine processes also queue on the
file lock of the machine's token cache, so only one per machine takes part in the lease. Two
workers can still both fetch if one's lease write takes longer than the settle time to land after
the other's read-back; the gateway then hands both the same token, so the cost is one extra call
to the token endpoint, never a wrong token. If Variables cannot be read or written, the store
falls back to the machine's file cache with a warning.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from fxiaoke_provider.airflow_support.version_compat import in_task_process, metadata_db_variable
from fxiaoke_provider.gateway.tokens import AccessToken, Clock, Fetch, FileTokenStore, MemoryTokenStore

log = logging.getLogger(__name__)

TOKEN_VARIABLE_PREFIX = "fxiaoke_access_token_"
LEASE_VARIABLE_PREFIX = "fxiaoke_access_token_lease_"
#: Time a lease write is given to land before it is read back (one execution-API round trip is ~10 ms).
SETTLE_S = 0.3
#: A lease older than this is abandoned (its holder died): longer than a patient token fetch.
LEASE_S = 120.0
#: Polling for another worker's fetch, with jitter so waiting workers do not move in step.
POLL_S = 0.25
POLL_JITTER_S = 0.25


class VariableStoreError(RuntimeError):
    """Airflow Variables could not be read or written (no DB, no API server, no permission)."""


class Variables(Protocol):
    """Plain string Variables: ``get`` returns None for a missing key."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...


class AirflowVariables:
    """Airflow's Variables: the task SDK inside a task (execution API), the ORM elsewhere."""

    def get(self, key: str) -> str | None:
        try:
            if in_task_process():
                from airflow.sdk import Variable

                value = Variable.get(key, default=None)
            else:
                value = metadata_db_variable().get(key, default_var=None)
        except Exception as err:  # any failure of the store means: use the fallback
            raise VariableStoreError(f"reading Variable {key!r} failed: {type(err).__name__}") from None
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        try:
            if in_task_process():
                from airflow.sdk import Variable

                Variable.set(key, value)
            else:
                metadata_db_variable().set(key, value)
        except Exception as err:
            raise VariableStoreError(f"writing Variable {key!r} failed: {type(err).__name__}") from None

    def delete(self, key: str) -> None:
        try:
            if in_task_process():
                from airflow.sdk import Variable

                Variable.delete(key)
            else:
                metadata_db_variable().delete(key)
        except Exception as err:
            raise VariableStoreError(f"deleting Variable {key!r} failed: {type(err).__name__}") from None


class AirflowVariableTokenStore:
    """Memory first, then the deployment-wide Variable; fetches coordinated by a lease Variable."""

    def __init__(
        self,
        key: str,
        fallback: FileTokenStore,
        variables: Variables | None = None,
        clock: Clock = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._memory = MemoryTokenStore(clock)
        self.token_key = TOKEN_VARIABLE_PREFIX + key
        self.lease_key = LEASE_VARIABLE_PREFIX + key
        self.fallback = fallback
        self.variables: Variables = variables or AirflowVariables()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._owner = uuid.uuid4().hex
        self._broken = False

    # --- the store interface -------------------------------------------------------------------
    def get(self, fetch: Fetch) -> AccessToken:
        return self._memory.get(lambda: self._load_or_fetch(fetch))

    def _load_or_fetch(self, fetch: Fetch) -> AccessToken:
        if not self._broken:
            try:
                return self._shared(fetch)
            except VariableStoreError as err:
                self._use_fallback(err)
        return self.fallback.get(fetch)

    def invalidate(self, token: AccessToken) -> None:
        self._memory.invalidate(token)
        if self._broken:
            self.fallback.invalidate(token)
            return
        try:
            stored = self._read_token()
            if stored is not None and stored.value == token.value:
                self.variables.delete(self.token_key)
        except VariableStoreError as err:
            self._use_fallback(err)
            self.fallback.invalidate(token)

    def _use_fallback(self, err: Exception) -> None:
        log.warning(
            "Fxiaoke token_cache 'airflow': %s; using the machine's token file in %s instead",
            err,
            self.fallback.directory,
        )
        self._broken = True

    # --- sharing through Variables ------------------------------------------------------------
    def _shared(self, fetch: Fetch) -> AccessToken:
        token = self._fresh_token()
        if token is not None:
            return token
        try:
            lock = self.fallback._file_lock()  # one process per machine takes part in the lease
            lock.__enter__()
        except OSError as err:
            log.warning("Fxiaoke token lock in %s unusable (%s)", self.fallback.directory, err)
            lock = None
        try:
            return self._fetch_under_lease(fetch)
        finally:
            if lock is not None:
                lock.__exit__(None, None, None)

    def _fetch_under_lease(self, fetch: Fetch) -> AccessToken:
        give_up_at = self._clock() + LEASE_S + SETTLE_S
        while True:
            token = self._fresh_token()
            if token is not None:
                return token
            now = self._clock()
            lease = self._read_lease()
            if lease is None or lease[1] <= now or lease[0] == self._owner or now >= give_up_at:
                self._write_lease(now + LEASE_S)
                self._sleep(SETTLE_S)
                lease = self._read_lease()
                if lease is not None and lease[0] == self._owner:
                    return self._fetch_and_publish(fetch)
            self._sleep(POLL_S + self._rng.uniform(0, POLL_JITTER_S))

    def _fetch_and_publish(self, fetch: Fetch) -> AccessToken:
        try:
            token = self._fresh_token()  # someone may have published while our lease settled
            if token is not None:
                return token
            token = fetch()
            self.variables.set(self.token_key, token.to_json())
            log.info("Stored the new Fxiaoke access token in Airflow Variable %s", self.token_key)
            return token
        finally:
            try:
                lease = self._read_lease()
                if lease is not None and lease[0] == self._owner:
                    self.variables.delete(self.lease_key)
            except VariableStoreError as err:  # the lease expires by itself
                log.warning("Could not release the Fxiaoke token lease: %s", err)

    def _fresh_token(self) -> AccessToken | None:
        token = self._read_token()
        return token if token is not None and token.fresh(self._clock()) else None

    def _read_token(self) -> AccessToken | None:
        text = self.variables.get(self.token_key)
        if not text:
            return None
        try:
            return AccessToken.from_json(text)
        except (ValueError, KeyError, TypeError) as err:
            log.warning(
                "Ignoring unreadable Fxiaoke token Variable %s (%s)", self.token_key, type(err).__name__
            )
            return None

    def _read_lease(self) -> tuple[str, float] | None:
        text = self.variables.get(self.lease_key)
        if not text:
            return None
        try:
            data: Any = json.loads(text)
            return str(data["owner"]), float(data["until"])
        except (ValueError, KeyError, TypeError):
            return None

    def _write_lease(self, until: float) -> None:
        self.variables.set(self.lease_key, json.dumps({"owner": self._owner, "until": until}))
