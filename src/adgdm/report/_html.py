"""Page assembly: inline CSS, escaping, small HTML tables, a tiny markdown subset and atomic writes.

Nothing here needs plotly, so these helpers work without the ``[report]`` extra.
"""
from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path

__all__ = ["esc", "fmt", "page", "section", "table", "markdown", "write_atomic", "adgdm_version"]

# System fonts only: a web font would need the network when the page is opened.
CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d0d7de; --bg-alt: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.5;
       font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
header { padding: 20px 32px 12px; border-bottom: 1px solid var(--line); background: var(--bg-alt); }
header h1 { margin: 0 0 4px; font-size: 26px; }
header .subtitle { margin: 0 0 6px; font-size: 16px; color: var(--fg); }
header .meta { color: var(--muted); font-size: 13px; }
nav { margin-top: 8px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 32px 40px; }
section { margin: 28px 0 36px; }
section h2 { font-size: 21px; margin: 0 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 6px; }
p, .note { max-width: 960px; }
.note { color: var(--muted); font-size: 13px; margin: 4px 0 10px; }
.stats { display: flex; flex-wrap: wrap; gap: 8px 22px; margin: 6px 0 10px; font-size: 14px; }
.stats b { font-variant-numeric: tabular-nums; }
.fig { width: 100%; min-height: 120px; }
/* auto-fill, not auto-fit: a figure drawn before its neighbour is parsed must already get half the width */
.grid2 { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.grid2 > * { min-width: 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table.data { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
table.data th, table.data td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
table.data th { background: var(--bg-alt); font-weight: 600; }
table.data td.num { text-align: right; }
table.data tbody tr:nth-child(even) td:not(.heat) { background: #fbfcfd; }
td.best { font-weight: 700; }
.contrib { display: grid; grid-template-columns: minmax(60px, max-content) 90px 44px; gap: 6px;
           align-items: center; font-size: 12px; }
.cbar { display: block; height: 9px; background: #eaeef2; border-radius: 2px; }
.cbar span { display: block; height: 100%; background: #d1495b; border-radius: 2px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(var(--tile, 220px), 1fr)); gap: 14px; }
figure.tile { margin: 0; }
figure.tile img { width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figure.tile figcaption { font-size: 12px; color: var(--muted); margin-top: 3px; overflow-wrap: anywhere; }
code { background: var(--bg-alt); padding: 0 3px; border-radius: 3px; font-size: 90%; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 16px; border-top: 1px solid var(--line); }
"""


def esc(value) -> str:
    """HTML-escape any value (quotes too, so the result is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def fmt(x, digits: int = 4) -> str:
    """A short number: ``4`` significant digits, no exponent for ordinary magnitudes."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "–" if x != x else str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.{digits}g}" if (abs(x) >= 1e-3 and abs(x) < 1e6) else f"{x:.3e}"


def adgdm_version() -> str:
    """``adgdm.__version__`` or the installed distribution's version, else ``"unknown"``."""
    try:
        from .._version import __version__

        return str(__version__)
    except ImportError:
        pass
    try:
        from importlib.metadata import version

        return version("adgdm")
    except Exception:  # not installed (e.g. run from a source tree)
        return "unknown"


def section(sid: str, title: str, body: str) -> str:
    return f'<section id="{esc(sid)}">\n<h2>{esc(title)}</h2>\n{body}\n</section>'


def table(headers, rows, *, numeric=(), raw_columns=(), cell_attrs=None) -> str:
    """An HTML table. Cells are escaped except columns listed in ``raw_columns`` (already HTML).

    ``cell_attrs(i, j)``, when given, returns the attributes (class, heat colour) of body cell ``(i, j)``.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, v in enumerate(row):
            attrs = cell_attrs(i, j) if cell_attrs else (' class="num"' if j in numeric else "")
            text = v if j in raw_columns else esc(fmt(v) if j in numeric else v)
            cells.append(f"<td{attrs}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


_INLINE = [(re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
           (re.compile(r"\*\*([^*]+)\*\*"), r"<b>\1</b>"),
           (re.compile(r"(?<![*\w])\*([^*]+)\*(?!\w)"), r"<i>\1</i>")]


def markdown(text: str) -> str:
    """Escaped text with a small markdown subset: paragraphs, ``- `` lists, ``### `` headings,
    ``**bold**``, ``*italic*`` and ``code``. Raw HTML in ``text`` is shown as text, not run."""
    out = []
    for block in re.split(r"\n\s*\n", str(text).strip()):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        if all(ln.startswith(("- ", "* ")) for ln in lines):
            out.append("<ul>" + "".join(f"<li>{_inline(ln[2:])}</li>" for ln in lines) + "</ul>")
        elif len(lines) == 1 and lines[0].startswith("#"):
            out.append(f"<h3>{_inline(lines[0].lstrip('#').strip())}</h3>")
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(out)


def _inline(s: str) -> str:
    s = esc(s)
    for pat, rep in _INLINE:
        s = pat.sub(rep, s)
    return s


def page(*, title: str, subtitle: str | None, date: str, version: str, sections: list[tuple[str, str]],
         body: str, plotlyjs: str | None) -> str:
    """The whole document. ``sections`` is ``[(id, title)]`` for the table of contents; ``plotlyjs``
    is the plotly.js bundle (inlined once, before any figure script) or None when there are no figures."""
    nav = " ".join(f'<a href="#{esc(sid)}">{esc(t)}</a>' for sid, t in sections)
    sub = f'<p class="subtitle">{esc(subtitle)}</p>' if subtitle else ""
    js = f'<script type="text/javascript">{plotlyjs}</script>' if plotlyjs else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="adgdm {esc(version)}">
<title>{esc(title)}</title>
<style>{CSS}</style>
{js}
</head>
<body>
<header>
<h1>{esc(title)}</h1>
{sub}
<div class="meta">Generated {esc(date)} by adgdm {esc(version)}</div>
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<footer>Self-contained report: opens offline, no external resources.</footer>
</body>
</html>
"""


def write_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and ``os.replace``,
    so an interrupted write never leaves a half file, and an existing file stays intact on failure."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"report path {path} is a folder; give a file name such as {path / 'report.html'}")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist; create it first")
    from .._atomic import atomic_file

    with atomic_file(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    return path
