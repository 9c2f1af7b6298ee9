"""Sandbox defaults: the one fake app it knows, its listening defaults, and its own error code.

``INVALID_PARAMETER`` (10002, defined in ``rules``) is SANDBOX-SPECIFIC. The Fxiaoke manual names no
code for a missing or malformed ``thirdTraceId``, a broken field inside a composite card or an
article, a missing ``serviceId`` / ``messageId``, a bad ``x-fs-userid``, a request that mixes both
auth styles, bad address-book arguments or a refused upload, so the sandbox answers all of these
with this one code and names the field in ``errorMessage``. Clients must not branch on it: the real
gateway may answer such requests differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fxiaoke_provider.sandbox.rules import INVALID_PARAMETER as INVALID_PARAMETER  # re-exported

DEFAULT_APP_ID: Final = "FSAID_sandbox0001"
DEFAULT_APP_SECRET: Final = "sandbox-app-secret"
DEFAULT_PERMANENT_CODE: Final = "sandbox-permanent-code"
DEFAULT_EA: Final = "sandbox-ea"
DEFAULT_CORP_ID: Final = "FSCID_sandbox0001"
DEFAULT_OPEN_USER_ID: Final = "FSUID_sandbox_admin"
#: What the CLI's ready-to-paste connection uses: the acting employee and a service account id.
DEFAULT_USER_ID: Final = "1000"
DEFAULT_SERVICE_ID: Final = "FSAID_service_alerts"

DEFAULT_HOST: Final = "127.0.0.1"
#: Port the CLI listens on by default; the Python API defaults to 0 (an ephemeral port).
DEFAULT_CLI_PORT: Final = 8901
#: How long a token call takes, so that concurrent token calls overlap and can be counted.
DEFAULT_TOKEN_DELAY_S: Final = 0.05

#: Inspection and control endpoints live under this prefix (no auth: the sandbox is loopback only).
ADMIN_PREFIX: Final = "/__sandbox__/"
#: Sandbox traceIds look like the real ``E-O.827...`` ones but can never be mistaken for them.
TRACE_ID_PREFIX: Final = "E-O.SBX."
#: Where a ``redirect`` fault points, as the real non-API host does.
REDIRECT_LOCATION: Final = "https://www.fxiaoke.com/"
#: Oldest request records are dropped past this many, so a long demo cannot eat all memory.
REQUEST_RECORD_LIMIT: Final = 100_000


@dataclass(frozen=True)
class SandboxApp:
    """The one self-built app the sandbox accepts, and the tenant it belongs to."""

    app_id: str = DEFAULT_APP_ID
    app_secret: str = DEFAULT_APP_SECRET
    permanent_code: str = DEFAULT_PERMANENT_CODE
    ea: str = DEFAULT_EA
    corp_id: str = DEFAULT_CORP_ID
    open_user_id: str = DEFAULT_OPEN_USER_ID

    def __repr__(self) -> str:  # never show the secrets, even in a traceback
        return f"SandboxApp(app_id={self.app_id!r}, ea={self.ea!r}, corp_id={self.corp_id!r})"


DEFAULT_APP: Final = SandboxApp()


def connection_for(url: str, app: SandboxApp = DEFAULT_APP, **extra: object) -> dict:
    """An Airflow ``fxiaoke`` connection (JSON form) to a sandbox at ``url`` with its own fake credentials.

    Header style, acting user ``1000``, service account ``FSAID_service_alerts``; ``extra`` keys join
    or replace the extras (``service_id=None`` drops the default service account).
    """
    extras = {
        "permanent_code": app.permanent_code,
        "auth_style": "header",
        "user_id": DEFAULT_USER_ID,
        "service_id": DEFAULT_SERVICE_ID,
        **extra,
    }
    return {
        "conn_type": "fxiaoke",
        "host": url,
        "login": app.app_id,
        "password": app.app_secret,
        "extra": {key: value for key, value in extras.items() if value is not None},
    }
