"""``python -m fxiaoke_provider.doctor CONN_ID``: the doctor where Airflow has no provider CLI commands."""

from fxiaoke_provider.doctor.command import main

raise SystemExit(main())
