"""Every variable the settings read is documented in .env.example."""

from __future__ import annotations

import re
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
