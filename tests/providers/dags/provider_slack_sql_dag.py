"""The slack provider's SQL-to-Slack transfer: a query's rows rendered into a webhook message.

Connection ``shop_sqlite`` (conn_type ``sqlite``; the test creates the file and sets
AIRFLOW_CONN_SHOP_SQLITE): SqlToSlackWebhookOperator reaches it through ``Connection.get_hook``.
Connection ``slack_e2e`` is the webhook to the local HTTP server, as in provider_slack_dag.py; a task
also gets its hook with ``Connection.get_hook`` (the hook class named by the provider's info).
"""

import pendulum
from airflow.providers.slack.transfers.sql_to_slack_webhook import SqlToSlackWebhookOperator
from airflow.models import Connection
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_slack_sql():
    report = SqlToSlackWebhookOperator(
        task_id="report",
        sql_conn_id="shop_sqlite",
        sql="SELECT name, qty FROM stock WHERE qty < {{ params.below }} ORDER BY name",
        params={"below": 5},
        slack_webhook_conn_id="slack_e2e",
        slack_message="Low stock on {{ ds }}: {{ results_df | length }} items\n"
                      "{{ results_df.to_dict('records') }}",
    )

    @task
    def through_get_hook() -> str:
        # slackwebhook is served only by the installed distribution's provider info.
        hook = Connection.get_connection_from_secrets("slack_e2e").get_hook(hook_params={"timeout": 10})
        hook.send(text=f"sent by {type(hook).__name__}")
        return type(hook).__module__  # the distribution's module (Tradewind has no slack hook)

    report >> through_get_hook()


provider_slack_sql()
