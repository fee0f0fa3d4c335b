"""The gallery's site: index.html (a sortable table of stills), contact.png (every
still in one labelled grid) and summary.csv (one row per cell)."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from typing import Any

from optrace.gallery.cells import SUFFIX, CellResult

#: summary.csv's columns, in order.
COLUMNS = (
    "optimizer",
    "function",
    "hyperparameters",
    "final_loss",
    "final_gap",
    "best_gap",
    "reached_at",
    "diverged",
    "escaped",
    "status",
    "seconds",
)


def summary_csv(results: Sequence[CellResult]) -> bytes:
    """One row per cell, floats written losslessly (repr)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for result in results:
        writer.writerow(["" if result.row.get(c) is None else result.row[c] for c in COLUMNS])
    return out.getvalue().encode("utf-8")


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}"


def index_html(title: str, results: Sequence[CellResult], functions: Sequence[str]) -> bytes:
    """The page: a row per optimizer, a column per function; each cell its still,
    linking to its player (or GIF), with its final gap and reached epoch. Clicking
    a column's header sorts the rows by that column's final gap."""
    esc = html.escape
    by_place = {(r.cell.optimizer, r.cell.function): r for r in results}
    optimizers = list(dict.fromkeys(r.cell.optimizer for r in results))
    head = "".join(
        f'<th data-column="{i}" tabindex="0" role="button">{esc(f)}</th>'
        for i, f in enumerate(functions, start=1)
    )
    rows = []
    for name in optimizers:
        cells = []
        for function in functions:
            result = by_place.get((name, function))
            if result is None:
                cells.append('<td data-gap="inf"></td>')
                continue
            cells.append(_cell(result))
        rows.append(f'<tr><th scope="row">{esc(name)}</th>{"".join(cells)}</tr>')
    page = _PAGE.format(title=esc(title), head=head, rows="\n".join(rows))
    return page.encode("utf-8")


def _cell(result: CellResult) -> str:
    esc = html.escape
    row = result.row
    stem = result.cell.stem
    if row["status"] == "failed":
        reason = esc(result.reason or "failed")
        return f'<td class="failed" data-gap="inf"><div class="card">failed: {reason}</div></td>'
    link = next(
        (f"{stem}{SUFFIX[k]}" for k in ("html", "gif") if k in result.cell.outputs),
        f"{stem}.png",
    )
    gap = row.get("final_gap")
    sort = "inf" if gap is None else repr(float(gap))
    reached = "never" if row.get("reached_at") is None else str(row["reached_at"])
    note = "" if row["status"] == "ok" else f' <span class="bad">{esc(row["status"])}</span>'
    tuned = _tuned(result)
    return (
        f'<td class="{esc(row["status"])}" data-gap="{sort}">'
        f'<a href="{esc(link)}"><img src="{esc(stem)}.png" alt="{esc(row["optimizer"])} on '
        f'{esc(row["function"])}" loading="lazy"></a>'
        f"<div>gap {_number(gap)} &middot; reached {reached}{note}</div>"
        + (f'<div class="tuned">tuned: {esc(tuned)}</div>' if tuned else "")
        + "</td>"
    )


def _tuned(result: CellResult) -> str:
    """``lr=0.0123``: the values a tuned cell raced with, for the keywords searched."""
    tune = result.cell.config.get("tune")
    own = result.cell.config["racers"][0].get("tune")
    if tune is None or own is False:
        return ""
    space = own["space"] if isinstance(own, dict) else tune.get("space", {"lr": None})
    used = json.loads(result.row["hyperparameters"])
    return " ".join(f"{k}={_value(used[k])}" for k in space if k in used)


def _value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px; text-align: center; vertical-align: top; }}
thead th {{ cursor: pointer; }} thead th:focus {{ outline: 2px solid #06c; }}
img {{ width: 200px; height: auto; display: block; }}
.failed .card {{ width: 200px; color: #900; font-size: small; text-align: left; }}
.bad {{ color: #900; }} .tuned {{ font-size: small; }}
</style></head>
<body><h1>{title}</h1>
<p>Each cell: the race's last frame (click for the animation), its final gap to the
lowest known minimum, and the first epoch within tolerance. Click a function to sort.</p>
<table id="gallery"><thead><tr><th>optimizer</th>{head}</tr></thead>
<tbody>
{rows}
</tbody></table>
<script>
(function () {{
  var table = document.getElementById("gallery");
  function sortBy(column) {{
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {{
      return parseFloat(a.cells[column].dataset.gap) - parseFloat(b.cells[column].dataset.gap);
    }});
    rows.forEach(function (row) {{ body.appendChild(row); }});
  }}
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {{
    if (!th.dataset.column) return;
    var go = function () {{ sortBy(parseInt(th.dataset.column, 10)); }};
    th.addEventListener("click", go);
    th.addEventListener("keydown", function (e) {{ if (e.key === "Enter") go(); }});
  }});
}})();
</script>
</body></html>
"""


def contact_png(
    title: str, results: Sequence[CellResult], functions: Sequence[str], width: int = 220
) -> bytes:
    """Every still in one grid, a row per optimizer and a column per function, labelled."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    by_place = {(r.cell.optimizer, r.cell.function): r for r in results}
    optimizers = list(dict.fromkeys(r.cell.optimizer for r in results))
    thumbs: dict[tuple[str, str], Image.Image] = {}
    height = width
    for place, result in by_place.items():
        data = result.files.get(".png")
        if data:
            with Image.open(io.BytesIO(data)) as im:
                ratio = width / im.width
                height = round(im.height * ratio)
                thumbs[place] = im.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    left, top, gap = 130, 44, 6
    sheet = Image.new(
        "RGB",
        (left + len(functions) * (width + gap), top + len(optimizers) * (height + gap)),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 6), title, fill="black", font=font)
    for j, function in enumerate(functions):
        draw.text((left + j * (width + gap) + 4, top - 16), function, fill="black", font=font)
    for i, name in enumerate(optimizers):
        y = top + i * (height + gap)
        draw.text((6, y + height // 2), name[:20], fill="black", font=font)
        for j, function in enumerate(functions):
            x = left + j * (width + gap)
            thumb = thumbs.get((name, function))
            if thumb is not None:
                sheet.paste(thumb, (x, y))
            elif (name, function) in by_place:
                draw.rectangle([x, y, x + width, y + height], fill="#f3dede")
                draw.text((x + 6, y + 6), "failed", fill="#900", font=font)
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=False)
    return out.getvalue()
