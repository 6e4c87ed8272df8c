"""report.md as HTML for the listening page, rendered by markdown-it-py (CommonMark + pipe tables)
with raw HTML disabled and every link and image limited to a relative URL inside the report
folder, so nothing in the page loads from (or points to) anywhere else: `javascript:`, `data:`,
`http(s):`, protocol-relative `//host`, absolute `/path` and `..` URLs stay literal text.

Item ids and error strings reach report.md; with this renderer they can add text, never markup.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt


def is_local_url(url: str) -> bool:
    """A relative URL that stays inside the page's folder (or a `#fragment` of the page)."""
    url = url.strip()
    if not url or any(ord(c) < 0x20 for c in url):
        return False
    if url.startswith("#"):
        return True
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith(("/", "\\")) or "\\" in url:
        return False
    return ".." not in unquote(parts.path).split("/")


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.validateLink = is_local_url          # links, images and autolinks alike

    def heading_open(self, tokens, idx, options, env):
        title = tokens[idx + 1].content if idx + 1 < len(tokens) else ""
        tokens[idx].attrSet("id", f"r-{_anchor(title)}")
        return self.renderToken(tokens, idx, options, env)

    def table_open(self, tokens, idx, options, env):
        tokens[idx].attrSet("class", "report")
        return self.renderToken(tokens, idx, options, env)

    def image(self, tokens, idx, options, env):
        tokens[idx].attrSet("loading", "eager")
        return self.image(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("table_open", table_open)
    md.add_render_rule("image", image)
    md.add_render_rule("strong_open", lambda *a: "<b>")
    md.add_render_rule("strong_close", lambda *a: "</b>")
    return md


_MD = _renderer()


def to_html(md: str) -> str:
    return _MD.render(md)
