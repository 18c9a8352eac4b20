"""Render course and learner Markdown (with LaTeX math and highlighted code) to sanitised HTML."""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_ALLOWED_TAGS = {
    "a",
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
    "div",
    "del",
    "sup",
    "sub",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}


def _highlight(code: str, language: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


def _math_inline(self, tokens, idx, options, env) -> str:  # noqa: ANN001 - markdown-it renderer signature
    return f'<span class="math math-inline">{html.escape(tokens[idx].content)}</span>'


def _math_block(self, tokens, idx, options, env) -> str:  # noqa: ANN001
    return f'<div class="math math-display">{html.escape(tokens[idx].content)}</div>\n'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight})
    md.enable("table").enable("strikethrough")
    md.use(dollarmath_plugin, allow_space=True, double_inline=True)
    md.add_render_rule("math_inline", _math_inline)
    md.add_render_rule("math_inline_double", _math_block)
    md.add_render_rule("math_block", _math_block)
    md.add_render_rule("math_block_label", _math_block)
    return md


# Course text (prompts, hints, solutions, feedback messages) is rendered again on every page and
# verdict that shows it, the same few hundred strings: those up to this length are remembered, up
# to RENDERED_KEPT of them per process (a few MB at most). Longer text is rendered each time.
CACHED_MAX_CHARS = 4000
RENDERED_KEPT = 1024


def render_markdown(text: str) -> str:
    """Return sanitised HTML for Markdown text; math is left as TeX in .math elements for KaTeX.

    A pure function of the text, so short text is looked up in a bounded cache first.
    """
    if len(text) <= CACHED_MAX_CHARS:
        return _render_kept(text)
    return _render(text)


def _render(text: str) -> str:
    rendered = _parser().render(text)
    return nh3.clean(
        rendered,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


_render_kept = lru_cache(maxsize=RENDERED_KEPT)(_render)


def warm_up() -> None:
    """Build the parser and the Python highlighter now (a web process calls this as it starts).

    Pygments compiles a lexer's patterns on first use, about a tenth of a second for Python's:
    paid here, not by the first learner to open a code exercise's solution in each process.
    """
    _render("```python\nx = 1\n```\n$x$")


# Xcode's colours all reach 5:1 against its white code background (WCAG AA needs 4.5:1;
# "friendly" had comments at 3.7:1). static/css/pygments.css is this function's output.
PYGMENTS_STYLE = "xcode"


def pygments_css() -> str:
    """Return the stylesheet for highlighted code blocks."""
    return HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs(".prose pre code")
