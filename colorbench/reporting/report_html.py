"""HTML of the visual report (colorbench.reporting.report): inline CSS and vanilla JS, no external
resources, so a page works from disk, offline, in any browser."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from colorbench.reporting.run_view import (
    GRAY_COLUMN,
    GT_COLUMN,
    MAIN_METRICS,
    N_MAIN,
    DatasetView,
    format_metric,
)
from colorbench.reporting.thumbnails import Thumb
from colorbench.results.manifest import RunManifest

CSS = """
:root { --fg:#1d1d1f; --muted:#6e6e73; --line:#d8d8dc; --bg:#fff; --head:#f5f5f7; --best:#1a7f37; --err:#b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 12px 16px 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0 0 4px; }
.meta { color: var(--muted); font-size: 12px; }
.meta code { font-size: 11px; }
.controls { position: sticky; top: 0; z-index: 3; background: var(--bg); padding: 8px 16px; border-bottom: 1px solid var(--line);
  display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.controls select { font: inherit; padding: 2px 4px; }
.controls .hint { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin: 0 8px 24px; }
thead th { position: sticky; top: var(--ctl, 41px); z-index: 2; background: var(--head); border-bottom: 1px solid var(--line);
  padding: 4px 6px; text-align: left; vertical-align: bottom; font-weight: 600; }
thead th .mean { display: block; white-space: nowrap; font-weight: 400; color: var(--muted); font-size: 11px; }
td { vertical-align: top; padding: 6px; border-bottom: 1px solid var(--line); }
td.rowhead { width: 110px; max-width: 140px; overflow-wrap: anywhere; font-size: 12px; }
.rank { color: var(--muted); font-size: 11px; }
.key { display: block; color: var(--muted); font-size: 11px; margin-top: 2px; }
td img { display: block; image-rendering: auto; background: #eee; }
.mv { display: block; font-size: 11px; font-variant-numeric: tabular-nums; color: #333; white-space: nowrap; }
.mv.hid { display: none; }
.mv.sel { font-weight: 700; color: var(--fg); }
td.best { background: #e9f7ee; }
td.best .mv.sel { color: var(--best); }
.x { display: block; font-size: 11px; color: #5b3cc4; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.missing { display: flex; align-items: center; justify-content: center; background: #f1f1f3; color: var(--muted); font-size: 11px; text-align: center; padding: 4px; }
.err { color: var(--err); overflow-wrap: anywhere; font-size: 11px; overflow: hidden; }
.index li { margin: 0 0 16px; }
.index img { display: block; margin-top: 6px; max-width: 100%; border: 1px solid var(--line); }
"""

JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("cb-data").textContent);
  var tbody = document.querySelector("#grid tbody");
  var trs = Array.prototype.slice.call(tbody.rows);
  var metricSel = document.getElementById("sort-metric");
  var modelSel = document.getElementById("sort-model");
  var dirSel = document.getElementById("sort-dir");
  var hib = {}, names = {}, absolute = {};
  D.metrics.forEach(function (m) { hib[m.id] = m.hib; names[m.id] = m.name; absolute[m.id] = m.abs; });
  function num(v) { return v === null || v === undefined || v === "" ? null : Number(v); }
  function ok(x) { return x !== null && !isNaN(x); }
  function raw(i, model, m) { var r = D.rows[i].v[model]; return r ? num(r[m]) : null; }
  // signed differences (e.g. ΔCF) rank by their size, as in the leaderboard
  function val(i, model, m) { var x = raw(i, model, m); return ok(x) && absolute[m] ? Math.abs(x) : x; }
  function spread(i, m) {
    var xs = D.models.map(function (md) { return raw(i, md, m); }).filter(function (x) { return ok(x) && isFinite(x); });
    return xs.length < 2 ? null : Math.max.apply(null, xs) - Math.min.apply(null, xs);
  }
  function fmt(x) {
    if (!ok(x)) return "–";
    if (!isFinite(x)) return x > 0 ? "inf" : "-inf";
    var a = Math.abs(x);
    return a >= 100 ? x.toFixed(1) : a >= 10 ? x.toFixed(2) : x.toFixed(3);
  }
  function labels() {
    var m = metricSel.value, md = modelSel.value, t;
    modelSel.disabled = m === "__id";
    if (m === "__id") t = ["A → Z", "Z → A"];
    else if (md === "__spread") t = ["largest first", "smallest first"];
    else t = ["best first", "worst first"];
    dirSel.options[0].text = t[0]; dirSel.options[1].text = t[1];
  }
  function apply() {
    labels();
    var m = metricSel.value, md = modelSel.value, dir = Number(dirSel.value);
    var order = trs.map(function (_, i) { return i; });
    var keys = order.map(function (i) { return m === "__id" ? null : md === "__spread" ? spread(i, m) : val(i, md, m); });
    if (m === "__id") {
      order.sort(function (a, b) { return dir * D.rows[a].id.localeCompare(D.rows[b].id, undefined, {numeric: true}); });
    } else {
      // best first: descending when higher is better; largest spread first: descending
      var sign = (md === "__spread" || hib[m]) ? -dir : dir;
      order.sort(function (a, b) {
        var x = keys[a], y = keys[b];
        if (!ok(x)) return ok(y) ? 1 : a - b;  // missing values always last
        if (!ok(y)) return -1;
        return (sign * (x - y)) || (x === y ? 0 : sign * (x < y ? -1 : 1)) || a - b;
      });
    }
    var frag = document.createDocumentFragment();
    order.forEach(function (i, r) {
      var tr = trs[i];
      tr.querySelector(".rank").textContent = "#" + (r + 1);
      var k = tr.querySelector(".key");
      k.textContent = m === "__id" ? "" : md === "__spread" ? "spread " + names[m] + ": " + fmt(keys[i])
        : md + " " + (absolute[m] ? "|" + names[m] + "|" : names[m]) + ": " + fmt(keys[i]);
      frag.appendChild(tr);
    });
    tbody.appendChild(frag);
    highlight(m);
    try { history.replaceState(null, "", "#" + [m, md, dirSel.value].map(encodeURIComponent).join("|")); } catch (e) {}
  }
  function highlight(m) {
    document.querySelectorAll(".mv").forEach(function (s) {
      var sel = s.getAttribute("data-m") === m;
      s.classList.toggle("sel", sel);
      s.classList.toggle("hid", !sel && s.getAttribute("data-main") !== "1");
    });
    trs.forEach(function (tr, i) {
      var best = null, bestVal = null;
      if (m !== "__id") D.models.forEach(function (md) {
        var x = val(i, md, m);
        if (ok(x) && (bestVal === null || (hib[m] ? x > bestVal : x < bestVal))) { best = md; bestVal = x; }
      });
      tr.querySelectorAll("td[data-model]").forEach(function (td) {
        td.classList.toggle("best", best !== null && td.getAttribute("data-model") === best);
      });
    });
  }
  var h = decodeURIComponent(location.hash.slice(1)).split("|");
  if (h.length === 3) {
    [[metricSel, h[0]], [modelSel, h[1]], [dirSel, h[2]]].forEach(function (p) {
      if (Array.prototype.some.call(p[0].options, function (o) { return o.value === p[1]; })) p[0].value = p[1];
    });
  }
  [metricSel, modelSel, dirSel].forEach(function (s) { s.addEventListener("change", apply); });
  var ctl = document.querySelector(".controls");
  document.documentElement.style.setProperty("--ctl", ctl.offsetHeight + "px");
  apply();
})();
"""


def _json_value(v: float | None) -> Any:
    if v is None or math.isnan(v):
        return None
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _embed_json(data: Any) -> str:
    text = json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    return text.replace("</", "<\\/")


def _main_metrics(view: DatasetView) -> list[str]:
    main = [m for m in MAIN_METRICS if m in view.metrics][:N_MAIN]
    return main or list(view.metrics)[:N_MAIN]


def _arrow(meta: dict[str, Any]) -> str:
    return "↑" if meta.get("higher_is_better", True) else "↓"


def _value(row: dict[str, str] | None, mid: str) -> float | None:
    if not row or row.get(mid) in (None, ""):
        return None
    try:
        return float(row[mid])
    except ValueError:
        return None


def _img(t: Thumb, thumb: int, alt: str) -> str:
    return (f'<img loading="lazy" decoding="async" width="{t.width}" height="{t.height}" '
            f'alt="{escape(alt)}" src="{t.uri}">')


def _missing(text: str, thumb: int, cls: str = "missing") -> str:
    return f'<div class="{cls}" style="width:{thumb}px;height:{thumb}px">{escape(text)}</div>'


def render_page(view: DatasetView, manifest: RunManifest, thumbs: dict[tuple[str, str], Thumb],
                thumb: int) -> str:
    main = _main_metrics(view)
    metrics = view.metrics
    name = lambda m: metrics[m].get("display_name", m)  # noqa: E731
    env = manifest.environment
    columns = [GRAY_COLUMN, *view.models, GT_COLUMN]
    head = ['<th>image</th>']
    for col in columns:
        means = view.means.get(col, {})
        parts = [f"{name(m)} {format_metric(means.get(m))}" for m in main if means.get(m) is not None]
        title = "mean over the dataset (summary.csv): " + ", ".join(parts) if parts else col
        spans = "".join(f'<span class="mean">{escape(p)}</span>' for p in parts)
        head.append(f'<th title="{escape(title)}" style="max-width:{thumb + 12}px">{escape(col)}{spans}</th>')
    body, data_rows = [], []
    for image_id in view.ids:
        cells = [f'<td class="rowhead"><span class="rank"></span> {escape(image_id)}<span class="key"></span></td>']
        values: dict[str, dict[str, Any]] = {}
        for col in columns:
            t = thumbs.get((col, image_id))
            if col in (GRAY_COLUMN, GT_COLUMN):
                inner = _img(t, thumb, f"{col} {image_id}") if t else _missing("no ground truth saved", thumb)
                cells.append(f'<td title="{escape(col)} · {escape(image_id)}">{inner}</td>')
                continue
            row = view.rows.get((col, image_id))
            vals = {m: _value(row, m) for m in metrics}
            values[col] = {m: _json_value(v) for m, v in vals.items() if v is not None}
            tip = [f"{col} · {image_id}"]
            tip += [f"{name(m)} {_arrow(metrics[m])}: {format_metric(v)}" for m, v in vals.items() if v is not None]
            extras = [(c, row.get(c, "")) for c in view.extras.get(col, [])] if row else []
            tip += [f"{c}: {v}" for c, v in extras if v]
            if row is None:
                inner = _missing("not run on this image", thumb)
            elif row.get("status") == "failed":
                err = row.get("error") or "failed"
                tip.append(f"error: {err}")
                inner = _missing(f"failed: {err[:160]}", thumb, "missing err")
            elif t is not None:
                inner = _img(t, thumb, f"{col} {image_id}")
            else:
                inner = _missing("image not saved", thumb)
            spans = "".join(
                f'<span class="mv{"" if m in main else " hid"}" data-m="{escape(m)}" data-main="{int(m in main)}">'
                f'{escape(name(m))} {format_metric(v)}</span>' for m, v in vals.items() if v is not None)
            spans += "".join(f'<span class="x">{escape(c)}: {escape(v)}</span>' for c, v in extras if v)
            cells.append(f'<td data-model="{escape(col)}" title="{escape(chr(10).join(tip))}" '
                         f'style="max-width:{thumb + 12}px">{inner}{spans}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
        data_rows.append({"id": image_id, "v": values})
    data = {"models": view.models, "rows": data_rows,
            "metrics": [{"id": m, "name": name(m), "hib": bool(metrics[m].get("higher_is_better", True)),
                         "abs": bool(metrics[m].get("leaderboard_abs"))} for m in metrics]}
    metric_opts = ['<option value="__id" selected>image id</option>'] + [
        f'<option value="{escape(m)}">{escape(name(m))} {_arrow(metrics[m])}</option>' for m in metrics]
    first = next((md for md in view.models if md != "gray"), view.models[0] if view.models else "")
    model_opts = [f'<option value="{escape(md)}"{" selected" if md == first else ""}>of {escape(md)}</option>'
                  for md in view.models]
    model_opts.append('<option value="__spread">disagreement between models (max − min)</option>')
    total = len({i for (_m, i) in view.rows})
    shown = f"{len(view.ids)} images" + (f" (first {len(view.ids)} of {total})" if total > len(view.ids) else "")
    meta = (f"run <b>{escape(str(manifest.name or view.run_dir.name))}</b> · {shown} · "
            f"{len(view.models)} models · device {escape(str(manifest.device_name or manifest.device))}"
            f" · colorbench {escape(str(env.get('colorbench', '')))} · finished {escape(str(manifest.finished or 'no'))}")
    command = env.get("command", "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>colorbench report · {escape(view.name)}</title>
<style>{CSS}</style></head>
<body>
<header><h1>{escape(view.name)} <span class="meta">· <a href="index.html">all datasets</a></span></h1>
<div class="meta">{meta}</div>
{f'<div class="meta"><code>{escape(command)}</code></div>' if command else ""}
<div class="meta">Gray input = the ground truth's L* alone, as every model received it. Hover a cell for all its values; the best model of the sorted metric is shaded.</div>
</header>
<div class="controls">
<label>Sort by <select id="sort-metric">{''.join(metric_opts)}</select></label>
<select id="sort-model" aria-label="model">{''.join(model_opts)}</select>
<select id="sort-dir" aria-label="direction"><option value="1">best first</option><option value="-1">worst first</option></select>
<span class="hint">↑ higher is better · ↓ lower is better · missing values last</span>
</div>
<table id="grid"><thead><tr>{''.join(head)}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
<script id="cb-data" type="application/json">{_embed_json(data)}</script>
<script>{JS}</script>
</body></html>
"""


def render_index(manifest: RunManifest, entries: list[tuple[DatasetView, str, str | None]]) -> str:
    env = manifest.environment
    items = []
    for view, page, sheet in entries:
        img = f'<a href="{escape(page)}"><img src="{escape(sheet)}" alt="contact sheet of {escape(view.name)}"></a>' if sheet else ""
        items.append(f'<li><a href="{escape(page)}"><b>{escape(view.name)}</b></a> · {len(view.ids)} images · '
                     f'models: {escape(", ".join(view.models))}{img}</li>')
    name = escape(str(manifest.name))
    command = env.get("command", "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>colorbench report · {name}</title>
<style>{CSS}</style></head>
<body class="index"><header><h1>colorbench report · {name}</h1>
<div class="meta">device {escape(str(manifest.device_name or manifest.device))} · colorbench {escape(str(env.get('colorbench', '')))} · finished {escape(str(manifest.finished or 'no'))}</div>
{f'<div class="meta"><code>{escape(command)}</code></div>' if command else ""}
</header>
<ul style="padding: 12px 32px">
{chr(10).join(items)}
</ul></body></html>
"""
