"""HTTP: :class:`HttpHook`, :class:`HttpOperator` (alias ``SimpleHttpOperator``) and
:class:`HttpSensor`, on httpx (the ``http`` extra), configured by an ``http`` connection."""

from tradewind.integrations.http.hooks import HttpHook, HttpResponse, HttpResponseError
from tradewind.integrations.http.operators import HttpOperator, SimpleHttpOperator
from tradewind.integrations.http.sensors import HttpSensor

__all__ = ["HttpHook", "HttpOperator", "HttpResponse", "HttpResponseError", "HttpSensor", "SimpleHttpOperator"]
