"""``EmptyOperator``: a task that does nothing (a join point or placeholder)."""

from __future__ import annotations

from typing import Any

from tradewind.definition.baseoperator import BaseOperator


class EmptyOperator(BaseOperator):
    """Does nothing; the scheduler may mark it success without starting a process."""

    ui_color = "#e8f7e4"
    inherits_from_empty_operator = True

    def execute(self, context: dict[str, Any]) -> None:
        return None


#: Airflow 1/2 name.
DummyOperator = EmptyOperator
