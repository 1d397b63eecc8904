"""leaderboards/ablations.md: per claim, the arms side by side on each held-out dataset,
the paired-bootstrap p-values, the verdict, what a decisive run would need, and how each
arm was trained (from the committed results and records)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ablation_stats as st
from ablation_claims import Claim, Claims
from ablation_results import Row

from colorbench.reporting.formatting import magnitude_decimals, md, number, p_text
from colorbench.reporting.significance import N_BOOT

Meta = Mapping[str, Mapping[str, Any]]  # metric id -> display_name, higher_is_better, leaderboard_abs


def values(rows: list[Row], dataset: str, arm: str, metric: str) -> dict[str, float]:
    """image id -> value of one arm's metric on one dataset (images without a value left out)."""
    return {str(r["image_id"]): float(r[metric]) for r in rows  # type: ignore[arg-type]
            if r["dataset"] == dataset and r["arm"] == arm and r.get(metric) is not None}


def datasets(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(str(r["dataset"]) for r in rows))


def head(meta: Meta, mid: str) -> str:
    m = meta[mid]
    name = m.get("display_name", mid)
    if m.get("leaderboard_abs"):
        return f"\\|{name}\\| ↓"
    return f"{name} {'↑' if m.get('higher_is_better', True) else '↓'}"


def comparisons(claim: Claim, rows: list[Row], meta: Meta, oracles: bool = False) -> list[st.Comparison]:
    """The verdict's cells: mechanism arm against every other arm (oracles only with ``oracles``)."""
    out = []
    for ds in datasets(rows):
        for mid in claim.metrics:
            mech = values(rows, ds, claim.mechanism, mid)
            for arm in claim.arms.values():
                if arm.name == claim.mechanism or (arm.derived == "oracle" and not oracles):
                    continue
                out.append(st.compare(mech, values(rows, ds, arm.name, mid), dataset=ds, metric=mid,
                                      other_name=arm.name, higher_is_better=bool(meta[mid].get("higher_is_better", True)),
                                      absolute=bool(meta[mid].get("leaderboard_abs"))))
    return out


def dataset_table(claim: Claim, rows: list[Row], ds: str, meta: Meta, p: Mapping[tuple[str, str, str], float | None]) -> list[str]:
    """One held-out dataset: every arm's mean ± half-width per metric, its p against the mechanism, n."""
    cols = [c for mid in claim.metrics for c in (head(meta, mid), "p")]
    lines = [f"| arm | {' | '.join(cols)} | n |", "|---|" + "---|" * (len(cols) + 1)]
    sums = {(a, m): st.summarize(values(rows, ds, a, m), bool(meta[m].get("leaderboard_abs")))
            for a in claim.arms for m in claim.metrics}
    for arm in claim.arms.values():
        cells = []
        for mid in claim.metrics:
            col = [s.mean for (a, m), s in sums.items() if m == mid and s.mean is not None]
            d = magnitude_decimals(max((abs(v) for v in col), default=0.0))
            s = sums[(arm.name, mid)]
            text = number(s.mean, d) + (f" ± {number(s.half_width, d)}" if s.half_width is not None else "")
            cells += [text, "mechanism" if arm.name == claim.mechanism else p_text(p.get((ds, mid, arm.name)))]
        n = max((sums[(arm.name, m)].n for m in claim.metrics), default=0)
        label = f"**{md(arm.name)}**" if arm.name == claim.mechanism else md(arm.name)
        if arm.derived == "oracle":
            label += f" (per image the best of {', '.join(arm.of)} on {head(meta, str(arm.by))}: upper bound, not in the verdict)"
        elif arm.derived == "random":
            label += f" (per image one of {', '.join(arm.of)}, seeded random choice)"
        lines.append(f"| {label} | {' | '.join(cells)} | {n} |")
    return lines


def needs(claim: Claim, cells: list[st.Comparison], meta: Meta) -> list[str]:
    """What a GPU run would need: the claim's own note and the images for 80 % power per cell."""
    lines = ["", "**What a GPU run would need.** " + (md(claim.decide_at_scale) or "(no note in the claims file)"),
             "", "Held-out images that would detect the observed difference with 80 % power (two-sided 5 %), "
             "n ≈ ((1.96 + 0.84) · sd / |difference|)², sd of the per-image paired differences:", "",
             "| dataset | metric | vs | difference | sd | n now | n needed |", "|---|---|---|---|---|---|---|"]
    open_cells = [c.n_needed for c in cells if not (c.better or c.worse) and c.n_needed is not None]
    if open_cells:
        lines[3:3] = [f"The {len(open_cells)} comparison(s) not significant here would need up to "
                      f"{max(open_cells):,} held-out images (median {sorted(open_cells)[len(open_cells) // 2]:,}) "
                      "at the effect observed.", ""]
    for c in cells:
        d = magnitude_decimals(abs(c.effect)) if c.effect else 4
        need = c.n_needed
        lines.append(f"| {md(c.dataset)} | {head(meta, c.metric)} | {md(c.other)} | {number(c.effect, d)} | "
                     f"{number(c.sd, d)} | {c.n} | {need if need is not None else 'no difference observed'} |")
    return lines


def minutes(seconds: Any) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(round(float(seconds)), 60)
    return f"{m}:{s:02d}"


def records_table(claim: Claim, records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """How each model arm was trained and evaluated (from records/<claim>/<arm>.json)."""
    lines = ["", "| arm | training command | steps | commit | machine | training | evaluation |",
             "|---|---|---|---|---|---|---|"]
    for arm in claim.arms.values():
        if arm.derived:
            continue
        rec = records.get(arm.name, {})
        train, ev, mach = rec.get("train", {}), rec.get("eval", {}), rec.get("machine", {})
        cmd = f"`{md(train['command'])}`" if train.get("command") else "(not trained: existing weights)"
        if train.get("status") == "failed":
            cmd += f" **failed**: {md(train.get('error', ''))}"
        where = (f"{md(mach.get('cpu', '?'))}, {mach.get('cores', '?')} cores, torch {md(mach.get('torch', '?'))}"
                 + (f", {mach['threads']} thread(s)" if mach.get("threads") else "")) if mach else "–"
        commit = f"`{str(rec['commit'])[:10]}`" if rec.get("commit") else "–"
        if rec.get("commit") and (train or ev).get("uncommitted_changes"):
            commit += " + uncommitted changes"
        lines.append(f"| {md(arm.name)} | {cmd} | {train.get('steps', '–')} | {commit} | {where} | "
                     f"{minutes(train.get('wall_s'))} | {minutes(ev.get('wall_s'))} |")
    return lines


def claim_section(claim: Claim, rows: list[Row], records: Mapping[str, Mapping[str, Any]], meta: Meta,
                  cells: list[st.Comparison], verdict: str | None) -> list[str]:
    lines = ["", f"## {md(claim.name)}", "", f"**Paper:** {md(claim.paper)}. **Claim:** {md(claim.claim)}", "",
             f"**Mechanism arm:** `{md(claim.mechanism)}`; metrics: {', '.join(head(meta, m) for m in claim.metrics)}."]
    if verdict is None:
        return [*lines, "", "Not run yet: `python benchmarks/ablations/ablate.py --only "
                f"{md(claim.name)}` (see benchmarks/ablations/README.md)."]
    better, worse = sum(c.better for c in cells), sum(c.worse for c in cells)
    p = {(c.dataset, c.metric, c.other): c.p for c in comparisons(claim, rows, meta, oracles=True)}
    lines += ["", f"**Verdict: {verdict}** (significantly better in {better}, worse in {worse} "
                  f"of {len(cells)} comparisons)."]
    for ds in datasets(rows):
        lines += ["", f"### {md(claim.name)}: {md(ds)}", "", *dataset_table(claim, rows, ds, meta, p)]
    if verdict != st.REPRODUCED:
        lines += needs(claim, cells, meta)
    return lines + records_table(claim, records)


def render(claims: Claims, results: Mapping[str, list[Row]], records: Mapping[str, Mapping[str, Any]],
           meta: Meta) -> str:
    """The whole page; ``results``/``records``: claim -> rows / arm -> record."""
    verdicts: dict[str, tuple[str | None, list[st.Comparison]]] = {}
    for name, claim in claims.claims.items():
        rows = results.get(name, [])
        cells = comparisons(claim, rows, meta) if rows else []
        verdicts[name] = (st.verdict(cells) if rows else None, cells)
    lines = ["# Ablations: the papers' claims at CPU scale", "",
             "Generated by `benchmarks/ablations/ablate.py` from `benchmarks/ablations/results/` and "
             "`benchmarks/ablations/records/`; do not edit by hand. How to regenerate it, how long it takes "
             "and how to add a claim: [benchmarks/ablations/README.md](../benchmarks/ablations/README.md).", "",
             "Each claim's arms differ only in the mechanism the paper credits and share the training budget; "
             "they are scored on held-out photos with the same suite. Cells: mean over images ± half-width of "
             "the 95% t interval (signed metrics as |mean|); p: paired bootstrap of the mechanism arm against "
             f"that arm over the images both scored ({N_BOOT:,} resamples, fixed seed, two-sided).", "",
             f"**Verdict rule.** {st.rule_text()}", "",
             "| claim | paper | verdict | better / worse / comparisons |", "|---|---|---|---|"]
    for name, claim in claims.claims.items():
        v, cells = verdicts[name]
        counts = f"{sum(c.better for c in cells)} / {sum(c.worse for c in cells)} / {len(cells)}" if v else "–"
        lines.append(f"| [{md(name)}](#{name.lower()}) | {md(claim.paper)} | {v or 'not run yet'} | {counts} |")
    for name, claim in claims.claims.items():
        v, cells = verdicts[name]
        lines += claim_section(claim, results.get(name, []), records.get(name, {}), meta, cells, v)
    return "\n".join(lines) + "\n"
