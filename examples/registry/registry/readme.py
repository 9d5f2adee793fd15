"""A bundle's README as safe HTML: Markdown rendered, then sanitised to an allow-list.

The README comes from a collection, so it is untrusted. markdown-it-py renders it with
raw HTML turned off (any ``<script>`` stays text) and refuses ``javascript:``-like link
targets; nh3 (the Ammonia sanitiser) then keeps only the allow-listed tags and
attributes, and only absolute ``http(s)``/``mailto`` links, which get
``rel="noopener noreferrer nofollow"``. Images are dropped: the pages' CSP would block
them anyway. Headings move two levels down, under the page's own ``h1`` and ``h2``.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["ALLOWED_TAGS", "render_readme"]

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
})
_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
_ABSOLUTE = ("http://", "https://", "mailto:")
#: Characters no kept link may hold, so that no ``>`` is ever inside a tag (see
#: :func:`_quote_text`).
_UNSAFE_IN_LINK = re.compile(r"[\s<>\"'`]")
_TAG = re.compile(r"(<[^>]*>)")
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


def _keep(_tag: str, attribute: str, value: str) -> str | None:
    """Relative links would point into the registry, not the bundle's repository: dropped."""
    if attribute == "href" and (not value.lower().startswith(_ABSOLUTE)
                                or _UNSAFE_IN_LINK.search(value)):
        return None
    return value


def _quote_text(html: str) -> str:
    """Quotes in text escaped too: the sanitiser writes text's ``"`` and ``'`` as they
    are, harmless between tags but easy to misread as markup by a later filter.
    No kept attribute holds a ``>``, so every ``<...>`` here is one whole tag."""
    parts = _TAG.split(html)
    parts[::2] = [p.replace('"', "&quot;").replace("'", "&#39;") for p in parts[::2]]
    return "".join(parts)


def render_readme(text: str) -> Markup:
    """``text`` (Markdown) as HTML safe to put in a page."""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + 2)}"
    html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    clean = nh3.clean(
        html, tags=set(ALLOWED_TAGS), attributes={k: set(v) for k, v in _ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
        attribute_filter=_keep)
    return Markup(_quote_text(clean))  # the allow-listed HTML nh3 wrote
