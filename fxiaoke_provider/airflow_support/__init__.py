"""What only Airflow brings: version differences, connection lookup, the deployment-wide token
store, the task state store's send journal, the send path shared by operators and the notifier,
and default alerts. The client and the capabilities never import this package."""
