# Rendered by Jinja before bash runs it (BashOperator treats a command ending in
# ".sh" as a template file found through the DAG's template_searchpath).
set -euo pipefail

workspace="{{ data_folder() }}/templated_etl/{{ params.region }}/{{ ds }}"
mkdir -p "$workspace"

cat > "$workspace/manifest.txt" <<MANIFEST
dag_id={{ dag.dag_id }}
run_id={{ run_id }}
logical_date={{ ds }}
data_interval_start={{ data_interval_start }}
data_interval_end={{ data_interval_end }}
region={{ params.region }}
MANIFEST

echo "prepared workspace for {{ ds }} (region {{ params.region }})" >&2
# The last line on stdout is the task's XCom: the folder the next tasks write to.
echo "$workspace"
