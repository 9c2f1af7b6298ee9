"""The doctor's command-line options, declared once for Airflow's CLI and for ``python -m``.

Bad values stop argument parsing with a message naming the option, before anything is sent.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.connection.config import DEFAULT_CONN_ID
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import wire

PROG = "python -m fxiaoke_provider.doctor"
DESCRIPTION = (
    "Check an Fxiaoke connection against the gateway: fields, host, one token call, one CRM "
    "describe (may the app read CRM data). Read-only "
    "unless --send is given; --send writes one short test text to the acting user's own chat "
    "for each id kind, from the sender the hook uses (the service account, else the app itself), "
    "and revokes it when the answer holds a message id. Exit code 0 when healthy."
)
_OPEN_ID_RE = re.compile(re.escape(protocol.OPEN_USER_ID_PREFIX) + r"\w+", re.ASCII)


def open_user_id(value: str) -> str:
    value = value.strip()
    if not _OPEN_ID_RE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"must be an open user id like {protocol.OPEN_USER_ID_PREFIX}xxx; got {value!r}"
        )
    return value


def mobile(value: str) -> str:
    """The send path's own rule (``messaging.recipients.check_mobile``): the doctor never looks up a
    number the hook would refuse."""
    from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
    from fxiaoke_provider.messaging.recipients import MOBILE_RULE, check_mobile

    try:
        return check_mobile(value.strip())
    except FxiaokeInvalidInputError:
        raise argparse.ArgumentTypeError(MOBILE_RULE) from None


#: (flags, argparse keyword arguments), in the order ``--help`` shows them.
ARGUMENTS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("conn_id",),
        {
            "metavar": "CONN_ID",
            "nargs": "?",
            "default": DEFAULT_CONN_ID,
            "help": f"Airflow connection id of type fxiaoke (default {DEFAULT_CONN_ID})",
        },
    ),
    (
        ("--send",),
        {
            "action": "store_true",
            "help": "also send one short test text to the acting user (user_id) as the hook sends: "
            "through the connection's service account (service_id), else as the app itself, in each "
            "id kind the auth style may accept",
        },
    ),
    (
        ("--open-user-id",),
        {
            "type": open_user_id,
            "metavar": "FSUID_...",
            "help": "with --send: YOUR OWN open user id, to test open-id recipients",
        },
    ),
    (
        ("--mobile",),
        {
            "type": mobile,
            "metavar": "NUMBER",
            "help": "with --send: YOUR OWN mobile number, to look up your open user id "
            f"({wire.USER_BY_MOBILE_PATH})",
        },
    ),
    (("--json",), {"action": "store_true", "help": "print the report as JSON"}),
)


@dataclass(frozen=True)
class DoctorOptions:
    conn_id: str = DEFAULT_CONN_ID
    send: bool = False
    open_user_id: str | None = None
    mobile: str | None = None
    as_json: bool = False

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> DoctorOptions:
        return cls(
            conn_id=args.conn_id,
            send=args.send,
            open_user_id=args.open_user_id,
            mobile=args.mobile,
            as_json=args.json,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    for flags, kwargs in ARGUMENTS:
        parser.add_argument(*flags, **kwargs)
    return parser
