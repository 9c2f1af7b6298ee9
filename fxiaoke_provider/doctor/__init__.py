"""``airflow fxiaoke doctor``: checks one connection against the real gateway and says what to fix.

Read-only unless ``--send`` is given; then it writes only to the acting user's own chat. Kept free
of imports here, because Airflow imports this package to build its CLI on every ``airflow`` call.
"""
