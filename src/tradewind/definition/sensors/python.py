"""``PythonSensor``: pokes by calling a Python function until it returns something truthy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tradewind.definition.exceptions import InvalidTaskArgumentError
from tradewind.definition.operators.python import determine_kwargs
from tradewind.definition.sensors.base import BaseSensorOperator, PokeReturnValue

__all__ = ["PythonSensor"]


class PythonSensor(BaseSensorOperator):
    """Calls ``python_callable(*op_args, **op_kwargs, <context entries it accepts>)`` each poke.

    A truthy return ends the wait; a :class:`PokeReturnValue` also sets the sensor's XCom.
    """

    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise InvalidTaskArgumentError(
                f"python_callable of sensor {self.task_id!r} must be callable, got {python_callable!r}"
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def poke(self, context: dict[str, Any]) -> PokeReturnValue:
        merged = {**context, "templates_dict": self.templates_dict, **self.op_kwargs}
        name = getattr(self.python_callable, "__name__", repr(self.python_callable))
        self.task_logger(context).info("Poking callable: %s", name)
        result = self.python_callable(*self.op_args, **determine_kwargs(self.python_callable, self.op_args, merged))
        if isinstance(result, PokeReturnValue):
            return result
        return PokeReturnValue(bool(result))
