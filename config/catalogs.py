"""Compile the translation catalogs (locale/*/LC_MESSAGES/*.po) to the .mo files Django reads.

`make install` runs `python -m config.catalogs`. It uses polib (pure Python, pinned in
pyproject.toml) rather than Django's compilemessages, which needs GNU gettext's msgfmt installed on
the machine, and it imports no Django settings, so it runs before any configuration exists. Fuzzy
entries are left out of the .mo, as msgfmt does; the test suite refuses them anyway.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def compile_catalogs(locale_dir: Path = LOCALE_DIR, *, force: bool = False) -> list[Path]:
    """Write each catalog's .mo beside its .po when missing or older; return the files written."""
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalog = polib.pofile(str(po_path))
        for entry in catalog.fuzzy_entries():
            catalog.remove(entry)
        catalog.save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


def main() -> None:
    force = "--force" in sys.argv[1:]
    for path in compile_catalogs(force=force):
        print(f"compiled {path.relative_to(LOCALE_DIR.parent)}")


if __name__ == "__main__":
    main()
