"""The interface in every language: complete catalogs, no text outside translation tags, and the
language chosen from the browser, the header's switcher or the learner's stored preference."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.core import mail
from django.template import Context, Template
from django.template.base import Lexer, TokenType
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation.template import templatize

from config.catalogs import compile_catalogs
from course.models import User
from course.selectors_progress import review_queue
from tests.course import groupkit

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PYTHON_DIRS = [ROOT / "course", ROOT / "grader", ROOT / "config"]
CATALOGS = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))
ZH = "zh-hans"

# name -> positions of (context, singular, plural) among the call's arguments, as xgettext reads them.
KEYWORDS: dict[str, tuple[int | None, int, int | None]] = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}
Message = tuple[str | None, str, str | None]  # (context, msgid, msgid_plural)


def _calls(source: str) -> Iterator[Message]:
    """Yield the messages of gettext-style calls with literal arguments, as xgettext does for Python.

    Works on Python files and on what Django's templatize makes of a template (the same text that
    `makemessages` hands to xgettext), so the two extractions cannot drift apart.
    """
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT)
    ]
    for i, token in enumerate(tokens[:-1]):
        if token.type != tokenize.NAME or token.string not in KEYWORDS:
            continue
        if tokens[i + 1].string != "(" or (i and tokens[i - 1].string == "def"):
            continue
        # Each argument: its string pieces (implicit concatenation), or None when not a literal.
        args: list[str | None] = []
        current: list[str] | None = []
        depth = 0
        for t in tokens[i + 2 :]:
            if t.type == tokenize.OP and t.string in ")]}" and depth == 0:
                break
            if t.type == tokenize.OP and t.string == "," and depth == 0:
                args.append("".join(current) if current else None)
                current = []
            elif t.type == tokenize.STRING and depth == 0 and current is not None:
                try:
                    current.append(ast.literal_eval(t.string))
                except (ValueError, SyntaxError):
                    current = None  # an f-string
            else:
                current = None
                if t.type == tokenize.OP and t.string in "([{":
                    depth += 1
                elif t.type == tokenize.OP and t.string in ")]}":
                    depth -= 1
        args.append("".join(current) if current else None)
        context_at, singular_at, plural_at = KEYWORDS[token.string]
        wanted = [p for p in (context_at, singular_at, plural_at) if p is not None]
        if len(args) <= max(wanted) or any(args[p] is None for p in wanted):
            continue  # not a literal message (a variable is passed on)
        yield (
            args[context_at] if context_at is not None else None,
            args[singular_at],  # type: ignore[misc]
            args[plural_at] if plural_at is not None else None,
        )


def extracted_messages() -> dict[Message, list[str]]:
    """Every message the templates and the Python code ask to translate, with where it is used."""
    found: dict[Message, list[str]] = {}
    # makemessages reads .html and .txt templates (the e-mails are .txt).
    for path in sorted([*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.txt")]):
        source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        # Its lines are indented like the template; every message sits on one line (a repr).
        source = "\n".join(line.strip() for line in source.splitlines())
        for message in _calls(source):
            found.setdefault(message, []).append(str(path.relative_to(ROOT)))
    for folder in PYTHON_DIRS:
        for path in sorted(folder.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for message in _calls(path.read_text(encoding="utf-8")):
                found.setdefault(message, []).append(str(path.relative_to(ROOT)))
    return found


def catalog_messages(catalog: polib.POFile) -> set[Message]:
    return {(e.msgctxt, e.msgid, e.msgid_plural or None) for e in catalog if not e.obsolete}


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%|<[a-z]+[^>]*>|</[a-z]+>")


@pytest.fixture(scope="module")
def extracted() -> dict[Message, list[str]]:
    return extracted_messages()


def test_there_is_a_chinese_catalog() -> None:
    assert [p.relative_to(ROOT).as_posix() for p in CATALOGS] == [
        "locale/zh_Hans/LC_MESSAGES/django.po"
    ]


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_catalog_is_complete_and_not_fuzzy(path: Path) -> None:
    catalog = polib.pofile(str(path))
    assert not catalog.metadata_is_fuzzy, "the header is marked fuzzy"
    assert catalog.metadata.get("Plural-Forms"), "the catalog names no plural rule"
    assert [e.msgid for e in catalog.fuzzy_entries()] == []
    assert [e.msgid for e in catalog.untranslated_entries()] == []
    assert [e.msgid for e in catalog.obsolete_entries()] == []
    assert catalog.percent_translated() == 100


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_translations_keep_every_placeholder_and_tag(path: Path) -> None:
    """A translation may move %(name)s and <a href=...> around, never drop or invent one."""
    wrong = []
    for entry in polib.pofile(str(path)):
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(entry.msgid)):
                wrong.append((entry.msgid, text))
    assert wrong == []


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_catalog_matches_the_code_and_templates(
    path: Path, extracted: dict[Message, list[str]]
) -> None:
    """What makemessages would extract today is exactly what the catalog holds (no new, no stale)."""
    in_catalog = catalog_messages(polib.pofile(str(path)))
    missing = {m: extracted[m] for m in extracted.keys() - in_catalog}
    assert missing == {}, "run makemessages and translate these"
    assert sorted(in_catalog - extracted.keys(), key=str) == [], "stale: no longer in the code"


def test_the_extractor_reads_every_kind_of_tag() -> None:
    source = templatize(
        "{% load i18n %}{% translate 'Plain' %}{% translate \"Menu\" context 'nav' %}"
        "{% blocktranslate trimmed count counter=n with who=name %}\n  {{ who }} has {{ counter }} hint"
        "{% plural %}{{ who }} has {{ counter }} hints{% endblocktranslate %}"
        '{% include "x.html" with title=_("Inline") %}{{ value|default:_("Filtered") }}',
        origin="inline",
    )
    assert set(_calls(source)) == {
        (None, "Plain", None),
        ("nav", "Menu", None),
        (None, "%(who)s has %(counter)s hint", "%(who)s has %(counter)s hints"),
        (None, "Inline", None),
        (None, "Filtered", None),
    }
    python = 'x = ngettext("one %(n)d", "many %(n)d", n) % {"n": n}\ny = pgettext("c", "a" "b")\nz = _(name)'
    assert set(_calls(python)) == {(None, "one %(n)d", "many %(n)d"), ("c", "ab", None)}


# --- Visible text outside translation tags ---------------------------------------------------

# Words that are the same in every language: the product's name and a file format.
UNTRANSLATED_WORDS = {"Chainrule", "CSV"}
VISIBLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "label"}
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


class _VisibleText(HTMLParser):
    """Collect text a reader sees: element text (not scripts or styles) and labelling attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden_depth += 1
        self.found += [value or "" for name, value in attrs if name in VISIBLE_ATTRIBUTES]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden_depth = max(0, self._hidden_depth - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.found.append(data)


def text_outside_translation_tags(source: str) -> list[str]:
    """Return the visible words of a template that no translation tag covers."""
    kept: list[str] = []
    depth = {"blocktranslate": 0, "comment": 0}
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents.split() else ""
            if name in ("blocktranslate", "blocktrans"):
                depth["blocktranslate"] += 1
            elif name in ("endblocktranslate", "endblocktrans"):
                depth["blocktranslate"] -= 1
            elif name == "comment":
                depth["comment"] += 1
            elif name == "endcomment":
                depth["comment"] -= 1
            kept.append(" ")
        elif token.token_type == TokenType.TEXT and not any(depth.values()):
            kept.append(token.contents)
        else:
            kept.append(" ")
    parser = _VisibleText()
    parser.feed("".join(kept))
    parser.close()
    words = " ".join(parser.found).split()
    return [w for w in words if LETTER.search(w) and w.strip(".,;:()·—") not in UNTRANSLATED_WORDS]


TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_has_no_visible_text_outside_translation_tags(path: Path) -> None:
    assert text_outside_translation_tags(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "left"),
    [
        ("<p>Hello</p>", ["Hello"]),
        ('<input placeholder="username">', ["username"]),
        ('<nav aria-label="Main">{% translate "Home" %}</nav>', ["Main"]),
        ("{% blocktranslate %}Hello {{ name }}{% endblocktranslate %}", []),
        ("{% comment %}A note to developers{% endcomment %}<p>{{ value }} · ✓ 42%</p>", []),
        ("<script>var x = 'code';</script><title>Chainrule</title>", []),
        ("<p>{% if a %}yes{% endif %}</p>", ["yes"]),
    ],
)
def test_the_template_check_finds_untagged_text(source: str, left: list[str]) -> None:
    assert text_outside_translation_tags(source) == left


# --- Compiling ---------------------------------------------------------------------------------


def test_catalogs_compile_to_mo_files_gettext_reads(tmp_path: Path) -> None:
    folder = tmp_path / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = polib.POFile()
    po.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Plural-Forms": "nplurals=1; plural=0;",
    }
    po.append(polib.POEntry(msgid="Gradient", msgstr="梯度"))
    po.append(polib.POEntry(msgid="Likelihood", msgstr="似然", flags=["fuzzy"]))
    po.save(str(folder / "django.po"))

    assert compile_catalogs(tmp_path) == [folder / "django.mo"]
    assert compile_catalogs(tmp_path) == []  # up to date: nothing rewritten
    mo = {e.msgid: e.msgstr for e in polib.mofile(str(folder / "django.mo"))}
    assert mo["Gradient"] == "梯度" and "Likelihood" not in mo  # fuzzy entries are left out


# --- Choosing the language ---------------------------------------------------------------------


def _html_lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', body)
    assert match, "no lang attribute on <html>"
    return match[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "lang", "words"),
    [
        ("", "en", ["Log in", "Sign up", "Two tracks"]),
        ("en-GB,en;q=0.9", "en", ["Log in", "Sign up", "Two tracks"]),
        ("zh-CN,zh;q=0.9,en;q=0.8", ZH, ["登录", "注册", "两条学习路线"]),
        ("zh-Hans", ZH, ["登录", "注册"]),
        ("fr-FR,fr;q=0.9", "en", ["Log in"]),  # a language the site does not offer
    ],
)
def test_the_browser_language_picks_the_interface(accept: str, lang: str, words: list[str]) -> None:
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    response = Client().get("/", **headers)
    body = response.content.decode()
    assert _html_lang(body) == lang
    assert response["Content-Language"] == lang
    assert all(word in body for word in words)


@pytest.mark.django_db
def test_urls_carry_no_language_prefix() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/zh-hans/accounts/login/").status_code == 404


@pytest.mark.django_db
def test_the_switcher_sets_the_language_and_returns_to_the_page(student: User) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = page.cookies["csrftoken"].value
    assert 'action="/i18n/setlang/"' in page.content.decode()

    refused = Client(enforce_csrf_checks=True).post("/i18n/setlang/", {"language": ZH})
    assert refused.status_code == 403  # CSRF is on

    response = client.post(
        "/i18n/setlang/",
        {"language": ZH, "next": "/accounts/login/", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert _html_lang(client.get("/accounts/login/").content.decode()) == ZH
    assert "忘记密码了？" in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_the_switcher_saves_a_learners_choice(student: User) -> None:
    client = Client()
    client.force_login(student)
    client.post("/i18n/setlang/", {"language": ZH, "next": "/dashboard/"})
    student.refresh_from_db()
    assert student.language == ZH
    client.post("/i18n/setlang/", {"language": "xx", "next": "/dashboard/"})  # not offered
    student.refresh_from_db()
    assert student.language == ZH


@pytest.mark.django_db
def test_a_stored_preference_wins_over_the_browser_and_follows_the_login(
    student: User, password: str
) -> None:
    student.language = ZH
    student.save(update_fields=["language"])
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US")
    assert _html_lang(client.get("/").content.decode()) == "en"

    response = client.post("/accounts/login/", {"username": "sam", "password": password})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == ZH  # applied on login, kept after logout
    body = client.get("/dashboard/").content.decode()
    assert _html_lang(body) == ZH and "欢迎回来，sam" in body

    client.post("/accounts/logout/")
    assert _html_lang(client.get("/").content.decode()) == ZH


@pytest.mark.django_db
def test_signing_up_keeps_the_language_of_the_sign_up() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    response = client.post(
        "/accounts/signup/",
        {
            "username": "lin",
            "email": "lin@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
        follow=True,
    )
    assert "欢迎来到 Chainrule，lin。" in response.content.decode()
    assert User.objects.get(username="lin").language == ZH


@pytest.mark.django_db
def test_form_errors_come_in_the_readers_language() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    body = client.post("/accounts/signup/", {"username": "", "email": "x"}).content.decode()
    assert "这个字段是必填项。" in body  # Django's own catalog
    assert "仅用于重置密码。" in body  # ours


@pytest.mark.django_db
def test_the_password_reset_email_is_in_the_readers_language(student: User) -> None:
    Client(HTTP_ACCEPT_LANGUAGE="zh-CN").post("/accounts/password_reset/", {"email": student.email})
    assert len(mail.outbox) == 1
    assert "重置" in mail.outbox[0].subject and "密码" in mail.outbox[0].body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["not solved yet after 1 attempt", "took 4 attempts; solved 20 days ago"]),
        (ZH, ["已尝试 1 次，尚未解出", "尝试了 4 次；20 天前解出"]),
    ],
)
def test_counts_use_the_languages_plural_forms(
    student: User, language: str, expected: list[str]
) -> None:
    catalogue = groupkit.build_catalogue()
    tried, solved, *_ = catalogue.exercises[catalogue.modules[0].pk]
    groupkit.attempt(student, tried)
    then = timezone.now() - timedelta(days=20)
    for _ in range(3):
        groupkit.attempt(student, solved, at=then)
    groupkit.solve(student, solved, at=then)
    with translation.override(language):
        assert [item.reason for item in review_queue(user=student)] == expected


@pytest.mark.parametrize(
    ("language", "name", "expected"),
    [
        ("en", "DATE_FORMAT", "5 Dec 2026"),
        ("en", "MONTH_DAY_FORMAT", "Sat 5 Dec"),
        ("en", "DATETIME_FORMAT", "5 Dec 2026, 14:05"),
        ("en", "SHORT_DATETIME_FORMAT", "5 Dec, 14:05:09"),
        (ZH, "DATE_FORMAT", "2026年12月5日"),
        (ZH, "MONTH_DAY_FORMAT", "12月5日 星期六"),
        (ZH, "DATETIME_FORMAT", "2026年12月5日 14:05"),
        (ZH, "SHORT_DATETIME_FORMAT", "12月5日 14:05:09"),
    ],
)
def test_dates_follow_the_language(language: str, name: str, expected: str) -> None:
    moment = datetime(2026, 12, 5, 14, 5, 9)
    with translation.override(language):
        rendered = Template(f'{{{{ moment|date:"{name}" }}}}').render(Context({"moment": moment}))
    assert rendered == expected


# --- The grader's words ------------------------------------------------------------------------

ENGINE = ROOT / "grader" / "engine"
# The helpers that take a message template first (grader.engine.types and the diagnosis).
TEMPLATE_TAKERS = {"message": 1, "phrase": 0, "diagnosis": 1}
ONLY_PLACEHOLDERS = re.compile(r"^(%\(\w+\)s)+$")


def _unmarked_templates(source: str) -> list[str]:
    """Return the literal templates given to message/phrase/diagnosis without gettext_noop."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        at = TEMPLATE_TAKERS.get(node.func.id)
        if at is None or len(node.args) <= at:
            continue
        argument = node.args[at]
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            if not ONLY_PLACEHOLDERS.match(argument.value):
                found.append(argument.value)
    return found


def test_every_engine_template_is_marked_for_translation() -> None:
    """A template given as a bare string would never reach the catalog: makemessages skips it."""
    unmarked = {
        str(path.relative_to(ROOT)): found
        for path in sorted(ENGINE.rglob("*.py"))
        if (found := _unmarked_templates(path.read_text(encoding="utf-8")))
    }
    assert unmarked == {}


def test_the_marking_check_finds_a_bare_template() -> None:
    source = (
        'a = message("x", gettext_noop("Marked %(n)d."), n=1)\n'
        'b = message("x", "Not marked.")\n'
        'c = phrase("%(text)s", text=t)\n'
        'd = diagnosis(CODE, "Not marked either.")\n'
    )
    assert _unmarked_templates(source) == ["Not marked.", "Not marked either."]


def _templates(words: dict[str, object]) -> Iterator[str]:
    yield str(words["template"])
    for value in dict(words["params"]).values():  # type: ignore[call-overload]
        if isinstance(value, dict) and set(value) == {"template", "params"}:
            yield from _templates(value)


SCALAR = {
    "id": "i18n-scalar",
    "kind": "expression",
    "title": "t",
    "prompt": "p",
    "variables": {"x": {"domain": "real", "sample": [-3, 3]}},
    "answer": "x^2*exp(x)",
    "mistakes": [{"answer": "x^2", "feedback": "Forgot the exponential."}],
}
MATRIX = {
    "id": "i18n-matrix",
    "kind": "matrix",
    "title": "t",
    "prompt": "p",
    "variables": {"A": {"shape": ["m", "n"]}, "x": {"shape": ["n", 1]}},
    "wrt": "x",
    "answer": "A^T*A*x",
}
DERIVATION = {
    "id": "i18n-derivation",
    "kind": "derivation",
    "title": "t",
    "prompt": "p",
    "variables": {"x": {"domain": "real", "sample": [-3, 3]}},
    "start": "diff(x^2*exp(x), x)",
    "target": "(x^2 + 2*x)*exp(x)",
    "milestones": [{"form": "2*x*exp(x) + x^2*exp(x)", "step": "you apply the product rule"}],
}
WRONG_ANSWERS = [
    (SCALAR, "-x^2*exp(x)"),  # sign
    (SCALAR, "3*x^2*exp(x)"),  # constant factor
    (SCALAR, "x^2*exp(x) + 1"),  # constant offset
    (SCALAR, "x^2"),  # the author's known mistake
    (SCALAR, "x^2*exp(x)) "),  # syntax
    (SCALAR, "y*exp(x)"),  # unknown name
    (SCALAR, "x ≤ 1"),  # a character with a hint
    (SCALAR, "sin(x, x)"),  # arity
    (MATRIX, "x^T*A^T*A"),  # shape: transpose?
    (MATRIX, "A*x + A"),  # sizes differ
    (MATRIX, "-A^T*A*x"),  # matrix sign
    (DERIVATION, "diff(x^2*exp(x), x)\n(x^2 + 2*x)*exp(x)"),  # skips the milestone
    (DERIVATION, "diff(x^2*exp(x), x)\nx*exp(x)"),  # does not follow
]


@pytest.fixture(scope="module")
def catalog_ids() -> set[str]:
    return {e.msgid for e in polib.pofile(str(CATALOGS[0])) if not e.obsolete}


@pytest.mark.parametrize(
    ("spec", "answer"), WRONG_ANSWERS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_verdict_message_is_said_in_chinese(
    spec: dict[str, object], answer: str, catalog_ids: set[str]
) -> None:
    """Each message keeps its template and parameters; every template has a zh-Hans entry."""
    from grader.engine.symbolic.dispatch import grade_in_process
    from grader.engine.types import Phrase, render_phrase
    from grader.rendering import message_text

    verdict = grade_in_process(spec, answer, seed=1)
    shown = [m for m in verdict.messages if m.code not in ("correct", "incorrect")]
    assert shown, verdict
    for message in verdict.to_dict()["messages"]:
        if message["source"] is not None:
            continue  # an author's words: the exercise's translation has them
        words = Phrase(template=message["template"], params=message["params"])
        assert render_phrase(words) == message["text"], "the English is the template filled in"
        assert set(_templates(dict(words))) <= catalog_ids, "run makemessages and translate"
        with translation.override(ZH):
            chinese, english = message_text(message)
        assert re.search(r"[\u4e00-\u9fff]", chinese) and not english, chinese


def test_math_and_names_in_the_parameters_are_not_translated() -> None:
    from grader.engine.symbolic.dispatch import grade_in_process
    from grader.rendering import message_text

    verdict = grade_in_process(MATRIX, "x^T*A^T*A", seed=1).to_dict()
    with translation.override(ZH):
        [text] = [message_text(m)[0] for m in verdict["messages"]]
    assert text == "你的答案是 1×n；关于 x 的梯度是 n×1——是否需要转置？"


def test_an_old_verdict_without_templates_is_shown_as_stored() -> None:
    from grader.engine.types import Verdict
    from grader.rendering import message_text

    old = {"status": "incorrect", "messages": [{"code": "sign_error", "text": "Wrong sign."}]}
    verdict = Verdict.from_dict(old)
    assert verdict.messages[0].template == "" and verdict.messages[0].source is None
    with translation.override(ZH):
        assert message_text(old["messages"][0]) == ("Wrong sign.", False)


CODE_SPEC = {
    "id": "0b7c5a52-2f0a-4f5e-9c57-3f1f6f4f1a99",
    "title": "Scores",
    "kind": "code",
    "function": "score",
    "signature": "score(x, w) -> ndarray",
    "starter": "def score(x, w):\n    ...\n",
    "prompt": "Return x @ w.",
    "reference": "import numpy as np\ndef score(x, w):\n    return x @ w\n",
    "inputs": (
        "def make_inputs(rng, case):\n"
        "    return {'x': rng.normal(size=(4, 3)), 'w': rng.normal(size=3)}\n"
    ),
    "tests": [{"name": "small", "case": "small"}, {"case": "small", "hidden": True}],
    "tolerance": {"rtol": 1e-9, "atol": 1e-12},
}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "def score(x, w):\n    return 2 * (x @ w)\n",
            ["测试“small”：你的结果不对：", "你的结果的数值不对。", "通过。"],
        ),
        (
            "def score(x, w):\n    return (x @ w).astype(int)\n",
            ["你的结果中是 int64 值；应为浮点数"],
        ),
        ("def score(x, w):\n    return x @ w +\n", ["第 2 行有语法错误："]),
        ("def other(x, w):\n    return x\n", ["你的代码没有定义 score(x, w) -> ndarray。"]),
    ],
)
def test_the_code_grader_speaks_chinese(
    answer: str, expected: list[str], catalog_ids: set[str]
) -> None:
    """Code-test messages and refusals keep their words; the test table is said in Chinese too."""
    from grader.engine import grade
    from grader.rendering import message_text, words_text

    verdict = grade(CODE_SPEC, answer, seed=1).to_dict()
    said = []
    with translation.override(ZH):
        said += [message_text(m)[0] for m in verdict["messages"]]
        said += [words_text(t["words"], t["message"]) for t in verdict.get("tests") or []]
    for message in verdict["messages"]:
        assert message["template"] and set(_templates(message)) <= catalog_ids
    text = "\n".join(said)
    assert all(part in text for part in expected), text
