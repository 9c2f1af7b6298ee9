"""Access tokens shared by every task process on a machine.

The token endpoint allows 10 calls a minute and no concurrent calls, while a DAG may start
dozens of task processes at once. So a token lives in a 0600 file per credential set, and
fetching happens under an exclusive file lock (``files``): one fetch per token lifetime per machine.
A cache file that cannot be read or parsed is ignored and replaced, never fatal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fxiaoke_provider.gateway import files, protocol

log = logging.getLogger(__name__)

#: A token that arrives already renewable is still used until this close to its expiry.
EXPIRY_SAFETY_S = 60.0


@dataclass(frozen=True)
class AccessToken:
    """A token and the tenant it belongs to (``ea`` in header style, ``corpId`` in legacy style).

    ``expires_in`` is the REMAINING lifetime the gateway reported when the token was obtained: a
    token handed out again late in its life arrives with little left.
    """

    value: str = field(repr=False)
    tenant: str
    obtained_at: float
    expires_in: float
    style: str = protocol.DEFAULT_AUTH_STYLE

    @property
    def renew_at(self) -> float:
        """When asking again first yields a NEW token; asking sooner only returns this one again.

        The gateway re-issues a token once it is older than ``TOKEN_REISSUE_AFTER_S``, i.e. when less
        than ``lifetime - reissue_after`` is left. A token that arrives with even less left is used
        until shortly before it expires, so a late token never turns into a token call per request.
        """
        reissue_left = protocol.TOKEN_LIFETIME_S - protocol.TOKEN_REISSUE_AFTER_S[self.style]
        if self.expires_in > reissue_left:
            return self.obtained_at + self.expires_in - reissue_left
        usable = max(self.expires_in - EXPIRY_SAFETY_S, min(self.expires_in, EXPIRY_SAFETY_S))
        return self.obtained_at + usable

    def fresh(self, now: float) -> bool:
        return now < self.renew_at

    def to_json(self) -> str:
        return json.dumps(
            {
                "value": self.value,
                "tenant": self.tenant,
                "obtained_at": self.obtained_at,
                "expires_in": self.expires_in,
                "style": self.style,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> AccessToken:
        data = json.loads(text)
        style = str(data.get("style", protocol.DEFAULT_AUTH_STYLE))
        if style not in protocol.AUTH_STYLES:
            raise ValueError(f"unknown auth style {style!r}")
        return cls(
            value=str(data["value"]),
            tenant=str(data["tenant"]),
            obtained_at=float(data["obtained_at"]),
            expires_in=float(data["expires_in"]),
            style=style,
        )


Fetch = Callable[[], AccessToken]
Clock = Callable[[], float]


class TokenStore(Protocol):
    """Where a hook gets its token: ``get`` returns a fresh one (fetching if needed), ``invalidate``
    forgets one the gateway rejected (20016)."""

    def get(self, fetch: Fetch) -> AccessToken: ...

    def invalidate(self, token: AccessToken) -> None: ...


class MemoryTokenStore:
    """One token per hook, guarded so threads sharing a hook fetch once."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def get(self, fetch: Fetch) -> AccessToken:
        token = self._token
        if token is not None and token.fresh(self._clock()):
            return token
        with self._lock:
            token = self._token
            if token is None or not token.fresh(self._clock()):
                token = self._token = fetch()
            return token

    def invalidate(self, token: AccessToken) -> None:
        """Forget ``token`` after the gateway rejected it, unless someone already replaced it."""
        with self._lock:
            if self._token is not None and self._token.value == token.value:
                self._token = None


def cache_key(base_url: str, app_id: str, permanent_code: str, auth_style: str) -> str:
    """File-name-safe key; the permanent code only enters hashed."""
    code_hash = hashlib.sha256(permanent_code.encode()).hexdigest()
    material = "\0".join((base_url, app_id, code_hash, auth_style))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class FileTokenStore:
    """Memory first, then the machine-wide file; fetches under an exclusive ``flock``."""

    def __init__(self, directory: str, key: str, clock: Clock = time.time) -> None:
        self._clock = clock
        self._memory = MemoryTokenStore(clock)
        self.directory = directory
        self.path = os.path.join(directory, f"fxiaoke-token-{key}.json")
        self.lock_path = self.path + ".lock"

    def get(self, fetch: Fetch) -> AccessToken:
        return self._memory.get(lambda: self._load_or_fetch(fetch))

    def _load_or_fetch(self, fetch: Fetch) -> AccessToken:
        cached = self._read()
        if cached is not None and cached.fresh(self._clock()):
            return cached
        try:
            lock_fd = self._acquire_lock()
        except OSError as err:
            log.warning(
                "Fxiaoke token cache %s unusable (%s); using a per-process token", self.directory, err
            )
            return fetch()
        try:
            cached = self._read()  # another process may have fetched while we waited
            if cached is not None and cached.fresh(self._clock()):
                return cached
            token = fetch()
            try:
                self._write(token)
            except OSError as err:
                log.warning("Could not store the Fxiaoke token in %s (%s)", self.directory, err)
            return token
        finally:
            os.close(lock_fd)  # closing releases the lock

    def invalidate(self, token: AccessToken) -> None:
        self._memory.invalidate(token)
        try:
            with self._file_lock():
                cached = self._read()
                if cached is not None and cached.value == token.value:
                    os.unlink(self.path)
        except OSError as err:
            log.warning("Could not drop the rejected token from %s: %s", self.directory, err)

    def _acquire_lock(self) -> int:
        return files.acquire(self.lock_path)

    def _file_lock(self) -> contextlib.AbstractContextManager[int]:
        return files.locked(self.lock_path)

    def _read(self) -> AccessToken | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return AccessToken.from_json(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            log.warning("Ignoring unreadable Fxiaoke token cache file %s (%s)", self.path, type(err).__name__)
            return None

    def _write(self, token: AccessToken) -> None:
        fd, tmp_path = tempfile.mkstemp(dir=self.directory, prefix=".fxiaoke-token-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp creates it 0600
                handle.write(token.to_json())
            os.replace(tmp_path, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_path)
            raise
