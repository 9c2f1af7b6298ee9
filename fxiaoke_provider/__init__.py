"""Apache Airflow provider for Fxiaoke (ShareCRM): service-account messages from DAG tasks.

Importing this package is cheap on purpose: nothing here imports Airflow or ``requests``.
"""

__version__ = "0.2.0.dev0"
