"""Declares ``airflow fxiaoke doctor`` (Airflow 3.2+ reads the provider info's ``cli`` list).

Airflow calls ``get_cli_commands`` on every ``airflow`` invocation, so it only declares: the doctor
itself is imported when the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.cli.cli_config import CLICommand


def get_cli_commands() -> list[CLICommand]:
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand, lazy_load_command

    from fxiaoke_provider.doctor.options import ARGUMENTS, DESCRIPTION

    doctor = ActionCommand(
        name="doctor",
        help="Check an Fxiaoke connection (host, credentials, id kinds, revoke) and say what to fix",
        description=DESCRIPTION,
        func=lazy_load_command("fxiaoke_provider.doctor.command.doctor_command"),
        args=tuple(Arg(flags, **kwargs) for flags, kwargs in ARGUMENTS),
    )
    return [GroupCommand(name="fxiaoke", help="Fxiaoke provider commands", subcommands=(doctor,))]
