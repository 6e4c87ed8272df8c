"""A small Markdown-to-HTML converter for the subset `benchmark.report.writer` writes: headings, pipe
tables, bullet lists, paragraphs, **bold**, `code`, [links](x) and ![images](x). Used to show
report.md's tables (bold winners, CIs) and plots on the listening page without a new dependency.
"""

from __future__ import annotations

import html
import re

_INLINE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)|\[([^\]]+)\]\(([^)\s]+)\)|\*\*(.+?)\*\*|`([^`]+)`")


def inline(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        img_alt, img_src, link_text, link_href, bold, code = m.groups()
        if img_src is not None:
            out.append(f'<img src="{html.escape(img_src)}" alt="{html.escape(img_alt)}" loading="eager">')
        elif link_href is not None:
            out.append(f'<a href="{html.escape(link_href)}">{inline(link_text)}</a>')
        elif bold is not None:
            out.append(f"<b>{inline(bold)}</b>")
        else:
            out.append(f"<code>{html.escape(code)}</code>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    head = _cells(lines[0])
    body = [_cells(x) for x in lines[2:]]
    rows = ["<tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>"]
    rows += ["<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in body]
    return '<table class="report">\n' + "\n".join(rows) + "\n</table>"


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def to_html(md: str) -> str:
    blocks: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        h = re.match(r"^(#{1,6})\s+(.*)$", line)
        if h:
            level = len(h.group(1))
            blocks.append(f'<h{level} id="r-{_anchor(h.group(2))}">{inline(h.group(2))}</h{level}>')
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and re.match(r"^\s*\|[-:| ]+\|\s*$", lines[i + 1]):
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            blocks.append(_table(lines[i:j]))
            i = j
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            blocks.append("<ul>" + "".join(items) + "</ul>")
            continue
        para = [line]
        i += 1
        while i < len(lines) and lines[i].strip() and not re.match(r"^(#{1,6}\s|- |\s*\|)", lines[i]):
            para.append(lines[i])
            i += 1
        blocks.append("<p>" + inline(" ".join(para)) + "</p>")
    return "\n".join(blocks)
