"""Placeholder for the UI area 'dependencies' (issue 14); its owner fills it in."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
