"""Fixtures for course tests: a small copy of a course that tests may edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE_COURSE = Path(__file__).resolve().parent.parent / "fixtures" / "course"


@pytest.fixture
def course_dir(tmp_path: Path, settings) -> Path:  # noqa: ANN001 - pytest-django fixture
    """Copy the fixture course to a temporary folder and point the site at it (structure checks only)."""
    target = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, target)
    settings.EXERCISES_DIR = target
    settings.COURSE_SPEC_VALIDATOR = ""
    return target
