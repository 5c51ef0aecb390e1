"""``rdbtool report --html``: one self-contained page (inline CSS and SVG, no script, no network)
with a treemap of key prefixes by memory, per-type and per-encoding bars, the TTL histogram and
the top-keys table."""

from __future__ import annotations

import html
import os
import tempfile

__all__ = ["write_html", "render_html"]

_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac"]


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


def _treemap(node: dict, x: float, y: float, w: float, h: float, depth: int, out: list, color: str) -> None:
    """Slice-and-dice treemap: children split the rectangle along its longer side."""
    kids = [c for c in node.get("children", []) if c["memory"] > 0]
    if depth > 0:
        label = html.escape(node["name"])
        out.append(f'<rect class="tm" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                   f'fill="{color}" fill-opacity="{0.35 + 0.2 * min(depth, 3):.2f}" stroke="#fff">'
                   f'<title>{label}: {_human(node["memory"])}, {node["keys"]} keys</title></rect>')
        if w > 60 and h > 16:
            out.append(f'<text x="{x + 4:.1f}" y="{y + 13:.1f}" class="tl">{label[:int(w / 7)]}</text>')
    if not kids:
        return
    total = sum(c["memory"] for c in kids) or 1
    pad = 16 if depth > 0 and h > 40 else 0
    y0, h0 = y + pad, h - pad
    pos = 0.0
    for i, c in enumerate(kids):
        share = c["memory"] / total
        col = _COLORS[i % len(_COLORS)] if depth == 0 else color
        if w >= h0:
            cw = w * share
            _treemap(c, x + pos, y0, cw, h0, depth + 1, out, col)
            pos += cw
        else:
            ch = h0 * share
            _treemap(c, x, y0 + pos, w, ch, depth + 1, out, col)
            pos += ch


def _bars(rows: list[dict], label, title: str, css: str) -> str:
    if not rows:
        return ""
    top = max(r["memory"] for r in rows) or 1
    height = 24 * len(rows) + 10
    parts = [f'<svg class="{css}" width="760" height="{height}" role="img" aria-label="{html.escape(title)}">']
    for i, r in enumerate(rows):
        w = 480 * r["memory"] / top
        y = 5 + 24 * i
        parts.append(f'<text x="0" y="{y + 15}" class="bl">{html.escape(label(r))}</text>'
                     f'<rect class="bar" x="200" y="{y}" width="{max(w, 1):.1f}" height="18" '
                     f'fill="{_COLORS[i % len(_COLORS)]}"><title>{_human(r["memory"])}</title></rect>'
                     f'<text x="{205 + w:.1f}" y="{y + 14}" class="bv">{_human(r["memory"])} · {r["keys"]} keys</text>')
    parts.append("</svg>")
    return f"<h2>{html.escape(title)}</h2>" + "".join(parts)


def render_html(data: dict) -> str:
    """The page as a string."""
    tm: list[str] = []
    _treemap(data["prefixes"], 0, 0, 1000, 420, 0, tm, _COLORS[0])
    files = ", ".join(f'{html.escape(f["file"])} ({html.escape(f["server"])})' for f in data["files"])
    rows = []
    for r in data["top_keys"]["by_memory"].get("all", []):
        rows.append(f'<tr><td>{r["db"]}</td><td class="k">{html.escape(r["key"])}</td><td>{r["type"]}</td>'
                    f'<td>{r["encoding"]}</td><td class="n">{r["elements"]}</td>'
                    f'<td class="n">{r["memory_usage"]}</td></tr>')
    advice = "".join(f'<li><b>{_human(a["bytes_saved"])}</b> — {html.escape(a["text"])}</li>' for a in data["advice"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rdbtool report</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
.tl {{ font-size: 11px; fill: #111; }} .bl {{ font-size: 12px; }} .bv {{ font-size: 11px; fill: #444; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
td.n {{ text-align: right; }} td.k {{ font-family: monospace; }}
</style></head><body>
<h1>Memory report</h1>
<p>{files}<br>{data["keys"]} keys, {_human(data["memory"])} estimated (MEMORY USAGE sum)</p>
<h2>Key prefixes by memory</h2>
<svg id="treemap" width="1000" height="420" role="img" aria-label="treemap of key prefixes">{"".join(tm)}</svg>
<div id="types">{_bars(data["by_type"], lambda r: r["type"], "Memory by type", "types")}</div>
<div id="encodings">{_bars(data["by_encoding"], lambda r: f'{r["type"]} / {r["encoding"]}', "Memory by encoding", "encodings")}</div>
<div id="ttl">{_bars(data["expiry"], lambda r: r["bucket"], "Keys by time to live (memory)", "ttl")}</div>
<h2>Biggest keys</h2>
<table id="topkeys"><tr><th>db</th><th>key</th><th>type</th><th>encoding</th><th>elements</th><th>bytes</th></tr>
{"".join(rows)}</table>
<h2>Advice</h2><ul id="advice">{advice or "<li>nothing to suggest</li>"}</ul>
</body></html>
"""


def write_html(data: dict, path: str) -> None:
    """Write the page to ``path`` atomically."""
    text = render_html(data)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".html", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
