"""Test the papers' claims at CPU scale: train every arm, score it on the held-out photos,
write the records and per-image results, and render leaderboards/ablations.md.

    COLORBENCH_DATA=../shared/data .venv/bin/python benchmarks/ablations/ablate.py
    .venv/bin/python benchmarks/ablations/ablate.py --only ccc-class-weighted-loss --dry-run
    .venv/bin/python benchmarks/ablations/ablate.py --page-only

Everything resumes: an arm whose directory already holds its checkpoint is resumed (a
finished one costs only start-up), an evaluation already finished with the same command and
checkpoint is not redone. A failed arm is recorded, the others go on, and the exit status is 1.
See benchmarks/ablations/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import ablation_claims as claims_file  # noqa: E402
import ablation_page  # noqa: E402
import ablation_results as results  # noqa: E402
from ablation_runner import Engine, Layout  # noqa: E402

from colorbench.errors import ColorbenchError  # noqa: E402
from colorbench.results import atomic_write_text, read_json  # noqa: E402


def metric_meta(names: set[str]) -> dict[str, dict[str, object]]:
    """Direction, display name and |mean| flag of each metric, from the registered metrics."""
    from colorbench.plugin import manager

    regs = manager.load()
    out = {}
    for mid in sorted(names):
        spec = regs.metrics.get(mid)
        out[mid] = {"display_name": spec.display_name, "higher_is_better": spec.higher_is_better,
                    "leaderboard_abs": spec.leaderboard_abs}
    return out


def eval_metrics(claim: claims_file.Claim) -> list[str]:
    """The claim's metrics and the ones its oracle arms choose by."""
    extra = [a.by for a in claim.arms.values() if a.by]
    return list(dict.fromkeys([*claim.metrics, *(str(m) for m in extra)]))


def run_claims(engine: Engine, chosen: list[claims_file.Claim], meta: dict) -> None:
    """Train (dependency order), evaluate and write each chosen claim's results CSV."""
    c = engine.claims
    for arm in claims_file.training_order(c, [a for claim in chosen for a in claim.arms.values()]):
        engine.train(arm)
    higher = {m: bool(v["higher_is_better"]) for m, v in meta.items()}
    for claim in chosen:
        metrics = eval_metrics(claim)
        rows: list[results.Row] = []
        for arm in claim.arms.values():
            if arm.derived:
                continue
            engine.evaluate(claim, arm, metrics)
            rows += results.from_run(engine.layout.eval_dir(claim.name, arm.name), arm, metrics)
        if not engine.dry_run and rows:
            path = engine.layout.results / f"{claim.name}.csv"
            results.write(path, results.with_derived(claim, rows, higher), claim.metrics)
            engine.progress(f"{claim.name}: results in {engine.layout.rel(path)}")


def write_page(c: claims_file.Claims, layout: Layout, meta: dict) -> None:
    """Render the page from the committed results and records of every claim of the file."""
    res, recs = {}, {}
    for name, claim in c.claims.items():
        _, res[name] = results.read(layout.results / f"{name}.csv")
        recs[name] = {a: read_json(layout.records / name / f"{a}.json") for a in claim.arms}
    atomic_write_text(layout.page, ablation_page.render(c, res, recs, meta))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ablate.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=Path, default=HERE / "claims.yaml", help="claims file (default: benchmarks/ablations/claims.yaml)")
    ap.add_argument("--only", help="comma-separated claims to train and evaluate (default: all)")
    ap.add_argument("--page-only", action="store_true", help="only re-render the page from results/ and records/")
    ap.add_argument("--dry-run", action="store_true", help="print the commands; run and write nothing")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "ablations", help="training and run directories")
    ap.add_argument("--records", type=Path, default=HERE / "records", help="per-arm records (committed)")
    ap.add_argument("--results", type=Path, default=HERE / "results", help="per-image results (committed)")
    ap.add_argument("--page", type=Path, default=ROOT / "leaderboards" / "ablations.md", help="the page")
    ap.add_argument("--root", type=Path, default=ROOT, help="project root: the commands' working directory")
    return ap


def main(argv: list[str] | None = None, engine_factory=Engine) -> int:
    """Run the CLI; the exit status (0 ok, 1 some arm failed, 2 bad input)."""
    args = parser().parse_args(argv)
    try:
        c = claims_file.load(args.claims)
        chosen = claims_file.select(c, args.only)
        layout = Layout(args.root, args.runs, args.records, args.results, args.page)
        meta = metric_meta({m for claim in c.claims.values() for m in eval_metrics(claim)})
        engine = engine_factory(c, layout, dry_run=args.dry_run)
        if not args.page_only:
            run_claims(engine, chosen, meta)
        if not args.dry_run:
            write_page(c, layout, meta)
            engine.progress(f"page: {layout.rel(layout.page)}")
    except ColorbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key, why in engine.failed.items():
        print(f"FAILED {key}: {why}", file=sys.stderr)
    return 1 if engine.failed else 0


if __name__ == "__main__":
    sys.exit(main())
