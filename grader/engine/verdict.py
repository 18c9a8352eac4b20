"""Moved to grader.engine.types; kept only until grader/engine/code.py imports from there."""

from __future__ import annotations

from grader.engine.types import Message, Status, TestResult, Verdict

__all__ = ["Message", "Status", "TestResult", "Verdict"]
