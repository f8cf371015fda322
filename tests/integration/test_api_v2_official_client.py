"""Airflow 3's official Python client (``apache-airflow-client`` 3.3.2) against a real Tradewind
API server: every client method that maps to a route Tradewind serves is called once, in the
order of :data:`OPERATIONS` (reads, then writes, then deletes), in one client process; each has
its own test here, which passes when the call returned without error (the client validated the
answer against Airflow's schema) and the returned object holds the expected values.

:data:`LEFT_OUT` lists the client methods not called, each with its reason; a test checks that
every method of the client is either called or listed there.
"""

from __future__ import annotations

from typing import Any

import pytest
from official_client_support import (
    ALIAS_NAME,
    ASSET_NAME,
    DAG_ID,
    HITL_DAG_ID,
    HITL_RUN_ID,
    RUN_ID,
    LiveServer,
    Op,
    check_coverage,
    check_outcome,
    client_methods,
    client_venv,
    ids,
    live_server,
    op_params,
    run_client_operations,
    seeded_ctx,
)

pytestmark = [pytest.mark.xdist_group("api-client"), pytest.mark.timeout(1800)]

TI = "ctx['dag_id'], ctx['run_id']"  # the seeded run's (dag_id, run_id) as call arguments
HITL = f"'{HITL_DAG_ID}', '{HITL_RUN_ID}'"  # the run whose approval task waits for an answer
NEW_EVENT = "asset_api.create_asset_event(models.CreateAssetEventsBody(asset_id=ctx['asset_id']))"


OPERATIONS: list[Op] = [
    # ---------------------------------------------------------------- monitor, version, config ...
    Op("monitor_api.get_health", "monitor_api.get_health()",
       lambda v: v["metadatabase"]["status"] == "healthy" and "scheduler" in v),
    Op("version_api.get_version", "version_api.get_version()", lambda v: bool(v["version"])),
    Op("config_api.get_config", "config_api.get_config()",
       lambda v: "core" in ids(v["sections"], "name")),
    Op("config_api.get_config_value", "config_api.get_config_value('core', 'parallelism')",
       lambda v: v["sections"][0]["options"][0] == {"key": "parallelism", "value": "32"}),
    Op("provider_api.get_providers", "provider_api.get_providers()",
       lambda v: v["total_entries"] > 0 and "apache-airflow-providers-standard" in ids(v["providers"], "package_name")),
    Op("plugin_api.get_plugins", "plugin_api.get_plugins()", lambda v: v == {"plugins": [], "total_entries": 0}),
    Op("plugin_api.import_errors", "plugin_api.import_errors()",
       lambda v: v == {"import_errors": [], "total_entries": 0}),
    Op("job_api.get_jobs", "job_api.get_jobs()",
       lambda v: "SchedulerJob" in ids(v["jobs"], "job_type")),  # the seeding run's scheduler
    Op("import_error_api.get_import_errors", "import_error_api.get_import_errors()",
       lambda v: v["total_entries"] == 1 and v["import_errors"][0]["filename"].endswith("broken_dag.py")),
    Op("import_error_api.get_import_error", "import_error_api.get_import_error(ctx['import_error_id'])",
       lambda v: v["filename"].endswith("broken_dag.py") and "SyntaxError" in v["stack_trace"]),
    Op("event_log_api.get_event_logs", "event_log_api.get_event_logs(event='trigger')",
       lambda v: RUN_ID in ids(v["event_logs"], "run_id")),
    Op("event_log_api.get_event_log",
       "event_log_api.get_event_log(R['event_log_api.get_event_logs']['event_logs'][0]['event_log_id'])",
       lambda v: v["event"] == "trigger"),
    # ---------------------------------------------------------------- DAGs, versions, tasks
    Op("dag_api.get_dags", "dag_api.get_dags()", lambda v: DAG_ID in ids(v["dags"], "dag_id")),
    Op("dag_api.get_dag", "dag_api.get_dag(ctx['dag_id'])",
       lambda v: v["dag_id"] == DAG_ID and "client" in ids(v["tags"], "name")),
    Op("dag_api.get_dag_details", "dag_api.get_dag_details(ctx['dag_id'])",
       lambda v: v["dag_id"] == DAG_ID and "rows" in (v.get("params") or {})),
    Op("dag_api.get_dag_tags", "dag_api.get_dag_tags()", lambda v: "client" in v["tags"]),
    Op("dag_version_api.get_dag_versions", "dag_version_api.get_dag_versions(ctx['dag_id'])",
       lambda v: v["total_entries"] >= 1 and v["dag_versions"][0]["dag_id"] == DAG_ID),
    Op("dag_version_api.get_dag_version", "dag_version_api.get_dag_version(ctx['dag_id'], 1)",
       lambda v: v["version_number"] == 1 and v["dag_id"] == DAG_ID),
    Op("dag_source_api.get_dag_source", "dag_source_api.get_dag_source(ctx['dag_id'])",
       lambda v: DAG_ID in v["content"]),
    Op("task_api.get_tasks", "task_api.get_tasks(ctx['dag_id'])",
       lambda v: {"extract", "square", "grp.inner", "load"} <= ids(v["tasks"], "task_id")),
    Op("task_api.get_task", "task_api.get_task(ctx['dag_id'], 'extract')", lambda v: v["task_id"] == "extract"),
    Op("dag_stats_api.get_dag_stats", "dag_stats_api.get_dag_stats(dag_ids=[ctx['dag_id']])",
       lambda v: v["dags"][0]["dag_id"] == DAG_ID
       and {"state": "success", "count": 1} in v["dags"][0]["stats"]),
    Op("dag_warning_api.list_dag_warnings", "dag_warning_api.list_dag_warnings()",
       lambda v: v["total_entries"] == len(v["dag_warnings"])),
    Op("dag_parsing_api.reparse_dag_file",
       "dag_parsing_api.reparse_dag_file(R['dag_api.get_dag']['file_token'])", lambda v: v is None),
    # ---------------------------------------------------------------- the seeded run
    Op("dag_run_api.get_dag_runs", "dag_run_api.get_dag_runs(ctx['dag_id'])",
       lambda v: RUN_ID in ids(v["dag_runs"], "dag_run_id")),
    Op("dag_run_api.get_dag_run", f"dag_run_api.get_dag_run({TI})",
       lambda v: v["dag_run_id"] == RUN_ID and v["state"] == "success"),
    Op("dag_run_api.get_list_dag_runs_batch",
       "dag_run_api.get_list_dag_runs_batch('~', models.DAGRunsBatchBody(dag_ids=[ctx['dag_id']]))",
       lambda v: RUN_ID in ids(v["dag_runs"], "dag_run_id")),
    Op("dag_run_api.wait_dag_run_until_finished", f"dag_run_api.wait_dag_run_until_finished({TI}, 1)",
       lambda v: "success" in str(v)),
    Op("experimental_api.wait_dag_run_until_finished", f"experimental_api.wait_dag_run_until_finished({TI}, 1)",
       lambda v: "success" in str(v)),
    Op("dag_run_api.get_upstream_asset_events", f"dag_run_api.get_upstream_asset_events({TI})",
       lambda v: v["total_entries"] == len(v["asset_events"])),
    Op("task_instance_api.get_task_instances", f"task_instance_api.get_task_instances({TI})",
       lambda v: v["total_entries"] == 5 and {"extract", "square", "grp.inner", "load"} == ids(
           v["task_instances"], "task_id")),
    Op("task_instance_api.get_task_instance", f"task_instance_api.get_task_instance({TI}, 'extract')",
       lambda v: v["task_id"] == "extract" and v["state"] == "success" and v["try_number"] == 1),
    Op("task_instance_api.get_mapped_task_instances",
       f"task_instance_api.get_mapped_task_instances({TI}, 'square')",
       lambda v: v["total_entries"] == 2 and ids(v["task_instances"], "map_index") == {0, 1}),
    Op("task_instance_api.get_mapped_task_instance",
       f"task_instance_api.get_mapped_task_instance({TI}, 'square', 1)",
       lambda v: v["map_index"] == 1 and v["state"] == "success"),
    Op("task_instance_api.get_task_instance_tries",
       f"task_instance_api.get_task_instance_tries({TI}, 'extract')",
       lambda v: [t["try_number"] for t in v["task_instances"]] == [1]),
    Op("task_instance_api.get_task_instance_try_details",
       f"task_instance_api.get_task_instance_try_details({TI}, 'extract', 1)",
       lambda v: v["try_number"] == 1 and v["state"] == "success"),
    Op("task_instance_api.get_mapped_task_instance_tries",
       f"task_instance_api.get_mapped_task_instance_tries({TI}, 'square', 0)",
       lambda v: v["task_instances"][0]["map_index"] == 0),
    Op("task_instance_api.get_mapped_task_instance_try_details",
       f"task_instance_api.get_mapped_task_instance_try_details({TI}, 'square', 1, 0)",
       lambda v: v["map_index"] == 0 and v["try_number"] == 1),
    Op("task_instance_api.get_task_instance_dependencies",
       f"task_instance_api.get_task_instance_dependencies({TI}, 'extract')",
       lambda v: isinstance(v["dependencies"], list)),
    Op("task_instance_api.get_task_instance_dependencies_by_map_index",
       f"task_instance_api.get_task_instance_dependencies_by_map_index({TI}, 'square', 0)",
       lambda v: isinstance(v["dependencies"], list)),
    Op("task_instance_api.get_task_instances_batch",
       "task_instance_api.get_task_instances_batch('~', '~', models.TaskInstancesBatchBody(dag_ids=[ctx['dag_id']]))",
       lambda v: v["total_entries"] >= 5),
    Op("task_instance_api.get_log", f"task_instance_api.get_log({TI}, 'extract', 1)",
       lambda v: bool(v["content"])),
    Op("task_instance_api.get_extra_links", f"task_instance_api.get_extra_links({TI}, 'extract')",
       lambda v: v["total_entries"] == len(v["extra_links"])),
    Op("extra_links_api.get_extra_links", f"extra_links_api.get_extra_links({TI}, 'extract')",
       lambda v: v["total_entries"] == len(v["extra_links"])),
    Op("task_instance_api.get_hitl_details", f"task_instance_api.get_hitl_details({TI})",
       lambda v: v["total_entries"] == 0),
    Op("task_instance_api.get_hitl_detail", f"task_instance_api.get_hitl_detail({HITL}, 'approve', -1)",
       lambda v: v["subject"] == "Ship it?" and v["response_received"] is False),
    Op("task_instance_api.get_hitl_detail_try_detail",
       f"task_instance_api.get_hitl_detail_try_detail({HITL}, 'approve', -1, 1)",
       lambda v: v["subject"] == "Ship it?"),
    Op("task_instance_api.update_hitl_detail",
       f"task_instance_api.update_hitl_detail({HITL}, 'approve', -1, "
       "models.UpdateHITLDetailPayload(chosen_options=['Approve']))",
       lambda v: v["chosen_options"] == ["Approve"]),
    Op("x_com_api.get_xcom_entries", f"x_com_api.get_xcom_entries({TI}, 'extract')",
       lambda v: "return_value" in ids(v["xcom_entries"], "key")),
    Op("x_com_api.get_xcom_entry",
       "x_com_api.get_xcom_entry(ctx['dag_id'], 'extract', ctx['run_id'], 'return_value', deserialize=True)",
       lambda v: v["key"] == "return_value" and v["value"] in ({"rows": 3}, "{'rows': 3}", '{"rows": 3}')),
    # ---------------------------------------------------------------- assets
    Op("asset_api.get_assets", "asset_api.get_assets()", lambda v: ASSET_NAME in ids(v["assets"], "name")),
    Op("asset_api.get_asset", "asset_api.get_asset(ctx['asset_id'])", lambda v: v["name"] == ASSET_NAME),
    Op("asset_api.get_asset_aliases", "asset_api.get_asset_aliases()",
       lambda v: ALIAS_NAME in ids(v["asset_aliases"], "name")),
    Op("asset_api.get_asset_alias",
       "asset_api.get_asset_alias(R['asset_api.get_asset_aliases']['asset_aliases'][0]['id'])",
       lambda v: v["name"] == ALIAS_NAME),
    Op("asset_api.get_asset_events", "asset_api.get_asset_events(asset_id=ctx['asset_id'])",
       lambda v: v["total_entries"] >= 1 and v["asset_events"][0]["source_run_id"] == RUN_ID),
    Op("asset_api.get_dag_asset_queued_events", "asset_api.get_dag_asset_queued_events('consumer_dag')",
       lambda v: v["total_entries"] == 1 and v["queued_events"][0]["asset_id"]),
    Op("asset_api.get_dag_asset_queued_event",
       "asset_api.get_dag_asset_queued_event('consumer_dag', ctx['asset_id'])",
       lambda v: v["dag_id"] == "consumer_dag"),
    Op("asset_api.get_asset_queued_events", "asset_api.get_asset_queued_events(ctx['asset_id'])",
       lambda v: "consumer_dag" in ids(v["queued_events"], "dag_id")),
    Op("asset_api.create_asset_event",
       "asset_api.create_asset_event(models.CreateAssetEventsBody(asset_id=ctx['asset_id'], extra={'by': 'client'}))",
       lambda v: v["asset_id"] and v["extra"].get("by") == "client"),
    Op("asset_api.delete_dag_asset_queued_event",
       "asset_api.delete_dag_asset_queued_event('consumer_dag', ctx['asset_id'])", lambda v: v is None),
    # Each delete below needs a queued event: a new asset event queues one for consumer_dag first.
    Op("asset_api.delete_dag_asset_queued_events",
       f"({NEW_EVENT}, asset_api.delete_dag_asset_queued_events('consumer_dag'))[1]", lambda v: v is None),
    Op("asset_api.delete_asset_queued_events",
       f"({NEW_EVENT}, asset_api.delete_asset_queued_events(ctx['asset_id']))[1]", lambda v: v is None),
    Op("asset_api.materialize_asset", "asset_api.materialize_asset(ctx['asset_id'])",
       lambda v: v["dag_id"] == DAG_ID and v["state"] == "queued"),
    # ---------------------------------------------------------------- state stores
    Op("task_state_store_api.set_task_state_store",
       "task_state_store_api.set_task_state_store('cursor', ctx['dag_id'], ctx['run_id'], 'extract', "
       "models.TaskStateStoreBody.from_dict({'value': {'page': 1}, 'expires_at': 'default'}))", lambda v: v is None),
    Op("task_state_store_api.get_task_state_store",
       "task_state_store_api.get_task_state_store('cursor', ctx['dag_id'], ctx['run_id'], 'extract')",
       lambda v: v["key"] == "cursor" and v["value"] == {"page": 1} and v["expires_at"]),
    Op("task_state_store_api.patch_task_state_store",
       "task_state_store_api.patch_task_state_store('cursor', ctx['dag_id'], ctx['run_id'], 'extract', "
       "models.TaskStateStorePatchBody.from_dict({'value': {'page': 2}}))", lambda v: v["value"] == {"page": 2}),
    Op("task_state_store_api.list_task_state_store",
       f"task_state_store_api.list_task_state_store({TI}, 'extract')",
       lambda v: v["total_entries"] == 1 and v["task_state_store"][0]["value"] == {"page": 2}),
    Op("task_state_store_api.delete_task_state_store",
       "task_state_store_api.delete_task_state_store('cursor', ctx['dag_id'], ctx['run_id'], 'extract')",
       lambda v: v is None),
    Op("task_state_store_api.clear_task_state_store",
       f"task_state_store_api.clear_task_state_store({TI}, 'extract')", lambda v: v is None),
    Op("asset_state_store_api.set_asset_state_store",
       "asset_state_store_api.set_asset_state_store('mark', ctx['asset_id'], "
       "models.AssetStateStoreBody.from_dict({'value': [1, 2]}))", lambda v: v is None),
    Op("asset_state_store_api.get_asset_state_store",
       "asset_state_store_api.get_asset_state_store('mark', ctx['asset_id'])", lambda v: v["value"] == [1, 2]),
    Op("asset_state_store_api.list_asset_state_store",
       "asset_state_store_api.list_asset_state_store(ctx['asset_id'])", lambda v: v["total_entries"] == 1),
    Op("asset_state_store_api.delete_asset_state_store",
       "asset_state_store_api.delete_asset_state_store('mark', ctx['asset_id'])", lambda v: v is None),
    Op("asset_state_store_api.clear_asset_state_store",
       "asset_state_store_api.clear_asset_state_store(ctx['asset_id'])", lambda v: v is None),
    # ---------------------------------------------------------------- writes on DAGs, runs, instances
    Op("dag_api.patch_dag", "dag_api.patch_dag(ctx['dag_id'], models.DAGPatchBody(is_paused=True))",
       lambda v: v["dag_id"] == DAG_ID and v["is_paused"] is True),
    Op("dag_api.patch_dags",
       "dag_api.patch_dags(models.DAGPatchBody(is_paused=False), dag_id_pattern=ctx['dag_id'])",
       lambda v: DAG_ID in ids(v["dags"], "dag_id") and all(not d["is_paused"] for d in v["dags"])),
    Op("dag_run_api.trigger_dag_run",
       "dag_run_api.trigger_dag_run(ctx['dag_id'], models.TriggerDAGRunPostBody.from_dict("
       "{'dag_run_id': 'client_run', 'logical_date': '2024-02-01T00:00:00Z', 'conf': {'rows': 5}}))",
       lambda v: v["dag_run_id"] == "client_run" and v["conf"] == {"rows": 5} and v["state"] == "queued"),
    Op("dag_run_api.patch_dag_run",
       "dag_run_api.patch_dag_run(ctx['dag_id'], 'client_run', models.DAGRunPatchBody(note='from the client'))",
       lambda v: v["note"] == "from the client"),
    # Not a dry run: client 3.3.2 cannot read a dry run's answer that lists existing task instances
    # (each matches both TaskInstanceResponse and NewTaskResponse of its oneOf), whatever the server.
    Op("dag_run_api.clear_dag_run",
       "dag_run_api.clear_dag_run(ctx['dag_id'], 'client_run', models.DAGRunClearBody(dry_run=False))",
       lambda v: v["dag_run_id"] == "client_run" and v["state"] == "queued"),
    Op("dag_run_api.clear_dag_runs",
       "dag_run_api.clear_dag_runs(ctx['dag_id'], models.BulkDAGRunClearBody.from_dict("
       "{'dag_runs': [{'dag_run_id': 'client_run'}], 'dry_run': False}))", lambda v: v is not None),
    Op("task_instance_api.post_clear_task_instances",
       "task_instance_api.post_clear_task_instances(ctx['dag_id'], models.ClearTaskInstancesBody.from_dict("
       "{'dry_run': True, 'only_failed': False, 'task_ids': ['extract'], 'dag_run_id': ctx['run_id']}))",
       lambda v: ids(v["task_instances"], "task_id") == {"extract"}),
    Op("task_instance_api.patch_task_instance_dry_run",
       f"task_instance_api.patch_task_instance_dry_run({TI}, 'load', models.PatchTaskInstanceBody(new_state='failed'))",
       lambda v: "load" in ids(v["task_instances"], "task_id")),
    Op("task_instance_api.patch_task_instance",
       f"task_instance_api.patch_task_instance({TI}, 'load', models.PatchTaskInstanceBody(note='checked'))",
       lambda v: v["task_instances"][0]["note"] == "checked"),
    Op("task_instance_api.patch_task_instance_dry_run_by_map_index",
       f"task_instance_api.patch_task_instance_dry_run_by_map_index({TI}, 'square', 0, "
       "models.PatchTaskInstanceBody(new_state='failed'))",
       lambda v: v["task_instances"][0]["map_index"] == 0),
    Op("task_instance_api.patch_task_instance_by_map_index",
       f"task_instance_api.patch_task_instance_by_map_index({TI}, 'square', 0, models.PatchTaskInstanceBody(note='m0'))",
       lambda v: v["task_instances"][0]["note"] == "m0"),
    Op("task_instance_api.patch_task_group_instances_dry_run",
       f"task_instance_api.patch_task_group_instances_dry_run({TI}, 'grp', "
       "models.PatchTaskInstanceBody(new_state='failed'))",
       lambda v: "grp.inner" in ids(v["task_instances"], "task_id")),
    Op("task_instance_api.patch_task_group_instances",
       f"task_instance_api.patch_task_group_instances({TI}, 'grp', models.PatchTaskInstanceBody(note='group'))",
       lambda v: "grp.inner" in ids(v["task_instances"], "task_id")),
    Op("task_instance_api.bulk_task_instances",
       f"task_instance_api.bulk_task_instances({TI}, models.BulkBodyBulkTaskInstanceBody.from_dict("
       "{'actions': [{'action': 'update', 'entities': [{'task_id': 'extract', 'note': 'bulk'}]}]}))",
       lambda v: v["update"]["success"] and not v["update"]["errors"]),
    Op("x_com_api.create_xcom_entry",
       "x_com_api.create_xcom_entry(ctx['dag_id'], 'extract', ctx['run_id'], "
       "models.XComCreateBody(key='client_key', value={'a': 1}))", lambda v: v["key"] == "client_key"),
    Op("x_com_api.update_xcom_entry",
       "x_com_api.update_xcom_entry(ctx['dag_id'], 'extract', ctx['run_id'], 'client_key', "
       "models.XComUpdateBody(value={'a': 2}))", lambda v: v["key"] == "client_key"),
    Op("x_com_api.delete_xcom_entry",
       "x_com_api.delete_xcom_entry(ctx['dag_id'], 'extract', ctx['run_id'], 'client_key')", lambda v: v is None),
    # ---------------------------------------------------------------- backfills
    Op("backfill_api.create_backfill_dry_run",
       "backfill_api.create_backfill_dry_run(models.BackfillPostBody.from_dict({'dag_id': ctx['dag_id'], "
       "'from_date': '2024-03-01T00:00:00Z', 'to_date': '2024-03-03T00:00:00Z'}))",
       lambda v: v["total_entries"] >= 1),
    Op("backfill_api.create_backfill",
       "backfill_api.create_backfill(models.BackfillPostBody.from_dict({'dag_id': ctx['dag_id'], "
       "'from_date': '2024-03-01T00:00:00Z', 'to_date': '2024-03-03T00:00:00Z'}))",
       lambda v: v["dag_id"] == DAG_ID and v["id"]),
    Op("backfill_api.get_backfill", "backfill_api.get_backfill(R['backfill_api.create_backfill']['id'])",
       lambda v: v["dag_id"] == DAG_ID),
    Op("backfill_api.list_backfills", "backfill_api.list_backfills(ctx['dag_id'])",
       lambda v: v["total_entries"] >= 1),
    Op("backfill_api.pause_backfill", "backfill_api.pause_backfill(R['backfill_api.create_backfill']['id'])",
       lambda v: v["is_paused"] is True),
    Op("backfill_api.unpause_backfill", "backfill_api.unpause_backfill(R['backfill_api.create_backfill']['id'])",
       lambda v: v["is_paused"] is False),
    Op("backfill_api.cancel_backfill", "backfill_api.cancel_backfill(R['backfill_api.create_backfill']['id'])",
       lambda v: v["completed_at"] is not None),
    # ---------------------------------------------------------------- variables, pools, connections
    Op("variable_api.post_variable",
       "variable_api.post_variable(models.VariableBody(key='client_var', value='v1', description='made by the client'))",
       lambda v: v["key"] == "client_var" and v["value"] == "v1"),
    Op("variable_api.get_variable", "variable_api.get_variable('client_var')",
       lambda v: v["value"] == "v1" and v["description"] == "made by the client"),
    Op("variable_api.get_variables", "variable_api.get_variables()",
       lambda v: "client_var" in ids(v["variables"], "key")),
    Op("variable_api.patch_variable",
       "variable_api.patch_variable('client_var', models.VariableBody(key='client_var', value='v2'))",
       lambda v: v["value"] == "v2"),
    Op("variable_api.bulk_variables",
       "variable_api.bulk_variables(models.BulkBodyVariableBody.from_dict({'actions': [{'action': 'create', "
       "'entities': [{'key': 'bulk_var', 'value': 'b'}]}]}))",
       lambda v: v["create"]["success"] == ["bulk_var"]),
    Op("variable_api.delete_variable", "variable_api.delete_variable('client_var')", lambda v: v is None),
    Op("pool_api.post_pool", "pool_api.post_pool(models.PoolBody(name='client_pool', slots=3))",
       lambda v: v["name"] == "client_pool" and v["slots"] == 3),
    Op("pool_api.get_pool", "pool_api.get_pool('client_pool')", lambda v: v["slots"] == 3),
    Op("pool_api.get_pools", "pool_api.get_pools()",
       lambda v: {"default_pool", "client_pool"} <= ids(v["pools"], "name")),
    Op("pool_api.patch_pool", "pool_api.patch_pool('client_pool', models.PoolPatchBody(slots=5))",
       lambda v: v["slots"] == 5),
    Op("pool_api.bulk_pools",
       "pool_api.bulk_pools(models.BulkBodyPoolBody.from_dict({'actions': [{'action': 'create', "
       "'entities': [{'name': 'bulk_pool', 'slots': 2}]}]}))",
       lambda v: v["create"]["success"] == ["bulk_pool"]),
    Op("pool_api.delete_pool", "pool_api.delete_pool('client_pool')", lambda v: v is None),
    Op("connection_api.post_connection",
       "connection_api.post_connection(models.ConnectionBody(connection_id='client_conn', conn_type='http', "
       "host='example.com', password='s3cret-pass'))",
       lambda v: v["connection_id"] == "client_conn" and v.get("password") != "s3cret-pass"),
    Op("connection_api.get_connection", "connection_api.get_connection('client_conn')",
       lambda v: v["host"] == "example.com" and v.get("password") != "s3cret-pass"),
    Op("connection_api.get_connections", "connection_api.get_connections()",
       lambda v: "client_conn" in ids(v["connections"], "connection_id")),
    Op("connection_api.patch_connection",
       "connection_api.patch_connection('client_conn', models.ConnectionBody(connection_id='client_conn', "
       "conn_type='http', host='example.org'))", lambda v: v["host"] == "example.org"),
    Op("connection_api.bulk_connections",
       "connection_api.bulk_connections(models.BulkBodyConnectionBody.from_dict({'actions': [{'action': 'create', "
       "'entities': [{'connection_id': 'bulk_conn', 'conn_type': 'http'}]}]}))",
       lambda v: v["create"]["success"] == ["bulk_conn"]),
    Op("connection_api.test_connection",
       "connection_api.test_connection(models.ConnectionBody(connection_id='probe', conn_type='sqlite', "
       "host=ctx['sqlite_path']))", lambda v: v["status"] is True),
    Op("connection_api.delete_connection", "connection_api.delete_connection('client_conn')", lambda v: v is None),
    # ---------------------------------------------------------------- deletes last
    Op("dag_run_api.bulk_dag_runs",
       "dag_run_api.bulk_dag_runs(ctx['dag_id'], models.BulkBodyBulkDAGRunBody.from_dict({'actions': "
       "[{'action': 'delete', 'entities': ['no_such_run'], 'action_on_non_existence': 'skip'}]}))",
       lambda v: not v["delete"]["errors"]),
    Op("dag_run_api.delete_dag_run", "dag_run_api.delete_dag_run(ctx['dag_id'], 'client_run')", lambda v: v is None),
    Op("task_instance_api.delete_task_instance", f"task_instance_api.delete_task_instance({TI}, 'load')",
       lambda v: v is None),
    Op("dag_api.delete_dag", "dag_api.delete_dag('doomed_dag')",
       lambda v: v is None or v.get("dag_id") == "doomed_dag"),
]

#: Client methods not called, and why. Only shrinks: each entry is a route Tradewind does not
#: serve for a reason that holds, or a call that cannot be made meaningful here.
LEFT_OUT: dict[str, str] = {
    "login_api.login": "a browser redirect to the UI's login page (Airflow's auth manager), not a JSON call",
    "login_api.logout": "a browser redirect ending the UI session, not a JSON call",
    "dag_api.favorite_dag": "Airflow 3's UI favourites: Tradewind keeps no per-user favourite DAGs",
    "dag_api.unfavorite_dag": "Airflow 3's UI favourites: Tradewind keeps no per-user favourite DAGs",
    "dag_run_api.clear_dag_run_partitions": "partitioned runs (Airflow 3.2+) are not supported by Tradewind",
    "connection_api.create_default_connections": "Airflow's ~70 default connections are not Tradewind's",
    "connection_api.enqueue_connection_test": "Airflow 3.3's asynchronous test on a worker; Tradewind tests inline",
    "connection_api.get_connection_test": "the result of an enqueued asynchronous connection test (see above)",
    "task_instance_api.get_external_log_url": "no external log viewer (Elasticsearch/OpenSearch) in Tradewind",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> LiveServer:
    with live_server(tmp_path_factory.mktemp("client-home")) as server:
        yield server


@pytest.fixture(scope="module")
def outcomes(live) -> dict[str, dict[str, Any]]:
    ctx = seeded_ctx(live)
    return run_client_operations(client_venv(), live, [(op.name, op.expression) for op in OPERATIONS], ctx)


@pytest.mark.parametrize("op", op_params(OPERATIONS))
def test_client_method(op: Op, outcomes) -> None:
    check_outcome(op, outcomes)


def test_every_client_method_is_called_or_left_out_with_a_reason() -> None:
    check_coverage(client_methods(client_venv()), OPERATIONS, LEFT_OUT)
