"""Fixtures of the distributed tests: the network-namespace lab (tests/netns.py)."""

from __future__ import annotations

from netns import lab  # noqa: F401
