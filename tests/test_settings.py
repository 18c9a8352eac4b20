"""Configuration from the environment: refusals, the deploy check and the start-up line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from config.env import env_bool, env_float, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "chainrule.example.com",
}


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
        **PRODUCTION,
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


@pytest.mark.parametrize(
    ("reader", "default"),
    [
        (lambda: env_str("CHAINRULE_TEST_VAR", "fallback"), "fallback"),
        (lambda: env_bool("CHAINRULE_TEST_VAR", default=True), True),
        (lambda: env_int("CHAINRULE_TEST_VAR", 7), 7),
        (lambda: env_float("CHAINRULE_TEST_VAR", 0.5), 0.5),
        (lambda: env_list("CHAINRULE_TEST_VAR", ["a"]), ["a"]),
    ],
    ids=["str", "bool", "int", "float", "list"],
)
@pytest.mark.parametrize("blank", ["", "  "], ids=["empty", "spaces"])
def test_an_empty_variable_means_its_default(
    monkeypatch: pytest.MonkeyPatch, reader: Callable[[], object], default: object, blank: str
) -> None:
    monkeypatch.setenv("CHAINRULE_TEST_VAR", blank)
    assert reader() == default


def setting_values(*names: str, **env: str) -> list[object]:
    """Return the named settings as a fresh process started with this environment sees them."""
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps([getattr(settings, n) for n in {list(names)!r}], default=str))"
    )
    result = manage("shell", "--no-imports", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_settings_use_their_defaults_for_empty_variables() -> None:
    values = setting_values(
        "VAR_DIR",
        "DATABASES",
        "EMAIL_BACKEND",
        DEBUG="1",
        DATABASE_URL="",
        CHAINRULE_VAR_DIR="",
        EMAIL_BACKEND="",
    )
    assert values[0] == str(ROOT / "var")
    assert values[1]["default"]["NAME"] == str(ROOT / "var" / "chainrule.sqlite3")
    assert values[2] == "django.core.mail.backends.console.EmailBackend"


def test_none_switches_the_course_spec_validator_off() -> None:
    assert setting_values("COURSE_SPEC_VALIDATOR", DEBUG="1", COURSE_SPEC_VALIDATOR="none") == [""]


def test_hsts_preload_is_opt_in(tmp_path: Path) -> None:
    names = ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
    assert setting_values(*names, **PRODUCTION, CHAINRULE_VAR_DIR=str(tmp_path)) == [
        31536000,
        True,
        False,
    ]
    opted_in = setting_values(
        *names, **PRODUCTION, CHAINRULE_VAR_DIR=str(tmp_path), SECURE_HSTS_PRELOAD="1"
    )
    assert opted_in == [31536000, True, True]


def test_the_deploy_check_is_clean_with_preload_opted_in(tmp_path: Path) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        CHAINRULE_VAR_DIR=str(tmp_path),
        SECURE_HSTS_PRELOAD="1",
    )
    assert result.returncode == 0, result.stderr
