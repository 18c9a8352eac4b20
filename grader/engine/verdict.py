"""Moved to grader.engine.types; this name stays only until every importer has switched."""

from __future__ import annotations

from grader.engine.types import Message, Status, TestResult, Verdict

__all__ = ["Message", "Status", "TestResult", "Verdict"]
