"""Alembic migration environment (run via tradewind.persist.migrate)."""
