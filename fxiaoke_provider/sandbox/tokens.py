"""Token issue and lookup with the documented lifetime (``rules``): every token lives 7200 s; asking
again hands out the SAME token until it is 6650 s old (header style) or 6600 s old (legacy style),
a new one after that while the old one stays valid until its 7200 s.

Pure logic on an explicit ``now`` so the sandbox clock can be advanced; the caller holds the lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from fxiaoke_provider.sandbox.rules import TOKEN_LIFETIME_S, TOKEN_REUSE_UNTIL_S


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
        reuse_until = TOKEN_REUSE_UNTIL_S[style]
        if current is not None and now < current.expires_at and now - current.issued_at < reuse_until:
            return current, False
        self._prune(now)
        return self._new(app_id, style, tenant, issued_at=now), True

    def age_current(self, app_id: str, style: str, tenant: str, age: float, now: float) -> Token:
        """Make the token a renewal call would hand out ``age`` seconds old (issuing one if needed).

        So that a brand-new client can be handed a token late in its life (e.g. 590 s left).
        """
        if isinstance(age, bool) or not isinstance(age, (int, float)) or not 0 <= age < TOKEN_LIFETIME_S:
            raise ValueError(f"age must be a number of seconds from 0 to below {TOKEN_LIFETIME_S}")
        current = self._current.get((app_id, style))
        if current is None or now >= current.expires_at:
            return self._new(app_id, style, tenant, issued_at=now - age)
        aged = replace(current, issued_at=now - age, expires_at=now - age + TOKEN_LIFETIME_S)
        self._by_value[aged.value] = aged
        self._current[(app_id, style)] = aged
        return aged

    def _new(self, app_id: str, style: str, tenant: str, *, issued_at: float) -> Token:
        token = Token(
            value=secrets.token_urlsafe(32),
            style=style,
            app_id=app_id,
            tenant=tenant,
            issued_at=issued_at,
            expires_at=issued_at + TOKEN_LIFETIME_S,
        )
        self._by_value[token.value] = token
        self.issued_values.append(token.value)
        self._current[(app_id, style)] = token
        return token

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
