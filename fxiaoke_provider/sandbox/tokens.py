"""Token issue and lookup with the documented lifetime: same token until 6600 s, valid until 7200 s.

Pure logic on an explicit ``now`` so the sandbox clock can be advanced; the caller holds the lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fxiaoke_provider.protocol import TOKEN_LIFETIME_S

TOKEN_RENEW_AFTER_S = 6600  # interim: the sandbox states its own rules


@dataclass(frozen=True)
class Token:
    """One issued token; ``style`` is the auth style it may be used with (``header`` / ``legacy``)."""

    value: str
    style: str
    app_id: str
    tenant: str
    issued_at: float
    expires_at: float

    def __repr__(self) -> str:  # the value is a secret
        return f"Token(style={self.style!r}, app_id={self.app_id!r}, expires_at={self.expires_at})"


class TokenStore:
    """All live tokens, plus the newest one per (app, style) that a renewal call may hand out again."""

    def __init__(self) -> None:
        self._by_value: dict[str, Token] = {}
        self._current: dict[tuple[str, str], Token] = {}
        #: Every value ever handed out, kept past expiry so tests can scan output for any of them.
        self.issued_values: list[str] = []

    def issue(self, app_id: str, style: str, tenant: str, now: float) -> tuple[Token, bool]:
        """The token to answer with and whether it is new (an older one stays valid until it expires)."""
        current = self._current.get((app_id, style))
        if current is not None and now < current.expires_at and now - current.issued_at < TOKEN_RENEW_AFTER_S:
            return current, False
        self._prune(now)
        token = Token(
            value=secrets.token_urlsafe(32),
            style=style,
            app_id=app_id,
            tenant=tenant,
            issued_at=now,
            expires_at=now + TOKEN_LIFETIME_S,
        )
        self._by_value[token.value] = token
        self.issued_values.append(token.value)
        self._current[(app_id, style)] = token
        return token, True

    def find(self, value: str, now: float) -> Token | None:
        """The live token with this value, or None if it is unknown, forged or expired."""
        token = self._by_value.get(value)
        if token is None or now >= token.expires_at:
            return None
        return token

    def expire_all(self) -> None:
        self._by_value.clear()
        self._current.clear()

    def live_count(self, now: float) -> int:
        return sum(1 for token in self._by_value.values() if now < token.expires_at)

    def _prune(self, now: float) -> None:
        expired = [value for value, token in self._by_value.items() if now >= token.expires_at]
        for value in expired:
            del self._by_value[value]
