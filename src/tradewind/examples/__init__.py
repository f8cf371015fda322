"""Example pipelines shipped with Tradewind (``examples/dags``) and the helpers they share.

The DAG files in ``dags/`` are parsed beside the user's own unless
``TRADEWIND__CORE__LOAD_EXAMPLES=False``.
"""
