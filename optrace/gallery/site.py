"""The gallery's site: index.html (a sortable table of stills), contact.png (every
still in one labelled grid) and summary.csv (one row per cell)."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

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
    "evaluations",
    "reached_at_evaluations",
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


#: The contact sheet's text sizes, as fractions of a cell's width: at the usual
#: 220 px a label's capitals are 13 px high and the title's 18 px.
LABEL_SIZE = 18 / 220
TITLE_SIZE = 26 / 220


def contact_png(
    title: str, results: Sequence[CellResult], functions: Sequence[str], width: int = 220
) -> bytes:
    """Every still in one grid, a row per optimizer and a column per function,
    labelled in type sized to the cells (:data:`LABEL_SIZE`, :data:`TITLE_SIZE`)."""
    label_font = ImageFont.load_default(size=round(width * LABEL_SIZE))
    title_font = ImageFont.load_default(size=round(width * TITLE_SIZE))
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
    pad, gap = round(width * 0.04), 6
    names = [_fitted(name, label_font, 1.2 * width) for name in optimizers]
    heads = [_fitted(function, label_font, width) for function in functions]
    title_box = [round(v) for v in title_font.getbbox(title)]
    label_box = [round(v) for v in label_font.getbbox("Hg")]  # capitals and descenders
    left = pad + max((round(label_font.getlength(n)) for n in names), default=0) + pad
    top = pad + title_box[3] + pad + label_box[3] + pad // 2
    sheet = Image.new(
        "RGB",
        (
            max(left + len(functions) * (width + gap) - gap, pad + title_box[2]) + pad,
            top + len(optimizers) * (height + gap) - gap + pad,
        ),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, pad), title, fill="black", font=title_font)
    for j, head in enumerate(heads):
        x = left + j * (width + gap) + (width - label_font.getlength(head)) / 2
        draw.text((x, top - pad // 2 - label_box[3]), head, fill="black", font=label_font)
    for i, name in enumerate(optimizers):
        y = top + i * (height + gap)
        middle = y + height / 2 - (label_box[1] + label_box[3]) / 2
        draw.text((pad, middle), names[i], fill="black", font=label_font)
        for j, function in enumerate(functions):
            x = left + j * (width + gap)
            thumb = thumbs.get((name, function))
            if thumb is not None:
                sheet.paste(thumb, (x, y))
            elif (name, function) in by_place:
                draw.rectangle([x, y, x + width, y + height], fill="#f3dede")
                draw.text((x + pad, y + pad), "failed", fill="#900", font=label_font)
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _fitted(text: str, font: Any, room: float) -> str:
    """``text``, cut and ended with an ellipsis where it is wider than ``room`` pixels."""
    if font.getlength(text) <= room:
        return text
    while text and font.getlength(text + "\u2026") > room:
        text = text[:-1]
    return text + "\u2026"
