"""Tests of the shipped example DAGs, written with the ``tradewind_sim`` pytest fixture."""
