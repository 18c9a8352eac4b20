"""Every variable the settings read is documented in .env.example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_read_from_the_environment_is_listed() -> None:
    read = set(
        re.findall(
            r'env_(?:str|bool|int|float|list)\(\s*"([A-Z0-9_]+)"',
            (ROOT / "config/settings.py").read_text(),
        )
    )
    listed = set(
        re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE)
    )
    assert read, "no settings found: has config/settings.py stopped using the env helpers?"
    assert sorted(read - listed) == []


def test_every_engine_setting_is_listed() -> None:
    from grader.engine.config import EngineConfig

    listed = set(
        re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE)
    )
    assert sorted(set(EngineConfig.variables()) - listed) == []


def test_a_shell_can_source_it_and_reads_the_values_as_written() -> None:
    """`set -a; . ./.env` is the usual way to load it; an unquoted `<` or space breaks that."""
    written = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.match(r"^([A-Z0-9_]+)=(.*)$", line):
            name, value = match.groups()
            written[name] = value[1:-1] if value[:1] == value[-1:] == '"' else value
    script = 'set -a; . ./.env.example; exec "$0" -c "import json, os, sys; print(json.dumps(dict(os.environ)))"'
    result = subprocess.run(
        ["/bin/sh", "-c", script, sys.executable],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    sourced = json.loads(result.stdout)
    assert {name: sourced.get(name) for name in written} == written
