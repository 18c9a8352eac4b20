"""Moved: COMMON_KEYS is in grader.engine.types; kept only until grader/engine/code.py imports it from there."""

from __future__ import annotations

from grader.engine.types import COMMON_KEYS

__all__ = ["COMMON_KEYS"]
