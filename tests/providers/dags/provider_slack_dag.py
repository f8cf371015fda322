"""The slack provider's incoming-webhook parts as its docs show them, posting to a local HTTP server.

Connection ``slack_e2e`` (AIRFLOW_CONN_SLACK_E2E, set by the test): conn_type ``slackwebhook``, host
``http://127.0.0.1:<port>`` and the webhook token ``T000/B000/XXXX`` in the password, from which
the hook builds the webhook URL ``<host>/<token>``. Connection ``slack_api_e2e`` (conn_type ``slack``):
the bot token in the password and the extra ``base_url`` pointing the Web API client at the server.
"""

import pendulum
from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
from airflow.providers.slack.notifications.slack_webhook import send_slack_webhook_notification
from airflow.providers.slack.operators.slack import SlackAPIPostOperator
from airflow.providers.slack.operators.slack_webhook import SlackWebhookOperator
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_slack():
    announce = SlackWebhookOperator(
        task_id="announce",
        slack_webhook_conn_id="slack_e2e",
        message="Run of {{ dag.dag_id }} for {{ ds }} started",
    )

    @task(on_success_callback=send_slack_webhook_notification(
        slack_webhook_conn_id="slack_e2e", text="{{ ti.task_id }} done"))
    def with_blocks() -> None:
        hook = SlackWebhookHook(slack_webhook_conn_id="slack_e2e")
        hook.send(text="fallback text", blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "*bold* report"}}])

    announce >> with_blocks()


provider_slack()


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_slack_api():
    post = SlackAPIPostOperator(task_id="post", slack_conn_id="slack_api_e2e", channel="#e2e",
                                text="Report for {{ ds }} is ready")

    @task
    def read_answer(answer: dict) -> str:
        # SlackAPIPostOperator returns the Web API's answer (an XCom).
        assert answer["ok"] is True, answer
        return answer["ts"]

    read_answer(post.output)


provider_slack_api()
