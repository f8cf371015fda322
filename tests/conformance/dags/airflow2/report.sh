echo "report for {{ ds }} in {{ dag.dag_id }}"
