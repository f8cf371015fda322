"""Email: :class:`SmtpHook` (an ``smtp`` connection) and :class:`EmailOperator` (standard library only)."""

from tradewind.integrations.smtp.hooks import SmtpHook
from tradewind.integrations.smtp.operators import EmailOperator

__all__ = ["EmailOperator", "SmtpHook"]
