"""Configuration from the environment: refusals, the deploy check and the start-up line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "DATABASE_URL",
            "PYTEST_CURRENT_TEST",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path: Path) -> None:
    result = manage("check", DEBUG="0", CHAINRULE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_the_deploy_check_is_clean_in_production(tmp_path: Path) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="chainrule.example.com",
        CHAINRULE_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_rejects_a_malformed_boolean(tmp_path: Path) -> None:
    result = manage("check", DEBUG="maybe", CHAINRULE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_the_startup_line_names_the_database_and_broker(settings) -> None:  # noqa: ANN001
    line = (
        settings.describe_backends()
        if callable(getattr(settings, "describe_backends", None))
        else None
    )
    from config.settings import describe_backends

    line = describe_backends()
    assert line.startswith("Chainrule: database = ")
    assert "; broker = " in line
