"""Usernames that cannot pass for someone else's: one key per look, and no mixed alphabets.

`іnstructor` (Cyrillic і), `instructоr` (Cyrillic о) and `ＩＮＳＴＲＵＣＴＯＲ` (full-width) all read as
"instructor" on screen. Two rules keep such names apart:

- `username_key` folds a name to how it looks: Unicode NFKC (full-width and compatibility forms to
  their plain letters), case folding, then every non-ASCII letter that Unicode's confusables data
  (UTS #39, through `confusable_homoglyphs`) lists as a look-alike of an ASCII letter is replaced by
  that letter. The key is unique in the database, so a name that looks like a taken one is refused.
- `mixed_script_problem` refuses a name that mixes alphabets (Latin with Cyrillic, Greek with Latin,
  …): a real name is written in one, and mixing is how look-alikes are made. Digits, `_`, `.`, `@`,
  `+` and `-` belong to every alphabet, and the combinations East Asian names are written in (Han with
  Latin, kana, Bopomofo or Hangul) count as one: UTS #39's "highly restrictive" level.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache

from confusable_homoglyphs import categories, confusables

# Characters every script may use in a username (Django's validator allows these besides letters).
_SHARED_ALIASES = frozenset({"COMMON", "INHERITED"})
# Sets of scripts that are written together (UTS #39, highly restrictive).
_WRITTEN_TOGETHER = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


@lru_cache(maxsize=4096)
def _ascii_look_alike(char: str) -> str:
    """Return the ASCII letter or digit `char` looks like, or `char` itself when it looks like none."""
    if char.isascii():
        return char
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=[])
    if not found:
        return char
    for entry in found:
        for glyph in entry["homoglyphs"]:
            candidate = glyph["c"]
            if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
                return candidate.casefold()
    return char


def username_skeleton(name: str) -> str:
    """Fold a username to how it looks on screen (NFKC, case folding, ASCII look-alikes)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(_ascii_look_alike(char) for char in folded)


def username_key(name: str) -> str:
    """Return the fixed-length key that is unique among accounts: a hash of the name's skeleton."""
    return hashlib.sha256(username_skeleton(name).encode()).hexdigest()


def scripts_of(name: str) -> set[str]:
    """Name the alphabets (Unicode script aliases) a username's letters come from."""
    scripts = set()
    for char in unicodedata.normalize("NFKC", name):
        alias = categories.alias(char)
        if alias not in _SHARED_ALIASES:
            scripts.add(alias)
    return scripts


def mixed_script_problem(name: str) -> str | None:
    """Say which alphabets a username mixes, or None when it keeps to one."""
    scripts = scripts_of(name)
    if len(scripts) <= 1 or any(scripts <= together for together in _WRITTEN_TOGETHER):
        return None
    return ", ".join(sorted(script.title() for script in scripts))
