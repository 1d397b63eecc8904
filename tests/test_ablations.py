"""benchmarks/ablations/: the claims file (references, training order, errors), the derived
arms, the statistics behind a verdict (rule, power formula) and the rendered page."""

from __future__ import annotations

from pathlib import Path

import ablation_claims as cl
import ablation_page as page
import ablation_results as res
import ablation_stats as st
import numpy as np
import pytest
from ablation_fixtures import claims_header

from colorbench.errors import ColorbenchError

HEADER = claims_header(3)
TWO_ARMS = """  a:
    paper: P
    claim: C
    metrics: [cpsnr]
    mechanism: with
    arms:
      with: {model: ccc, train: ["--steps", "2"]}
      without: {model: ccc, train: ["--steps", "2", "--set", "init=@b/base"]}
  b:
    paper: Q
    claim: D
    metrics: [cpsnr]
    mechanism: base
    train: {dataset: samples}
    arms:
      base: {model: gan, train: ["--steps", "1"]}
      shipped: {model: gan, checkpoint: "@a/with"}
"""


def write(tmp_path: Path, body: str, name: str = "claims.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_claims_merge_defaults_and_read_arms(tmp_path):
    c = cl.load(write(tmp_path, TWO_ARMS))
    assert list(c.claims) == ["a", "b"]
    assert c.claims["a"].train == {"dataset": "shapes", "split": "train", "seed": 3}
    assert c.claims["b"].train["dataset"] == "samples" and c.claims["b"].train["seed"] == 3
    assert c.claims["a"].arms["without"].refs() == ["b/base"]
    assert c.claims["b"].arms["shipped"].checkpoint == "@a/with" and c.claims["b"].arms["shipped"].train is None


def test_training_order_puts_referenced_arms_first_across_claims(tmp_path):
    c = cl.load(write(tmp_path, TWO_ARMS))
    order = [a.key for a in cl.training_order(c, list(c.claims["a"].arms.values()))]
    assert order == ["a/with", "b/base", "a/without"]  # b/base pulled in although claim b is not selected
    everything = [a.key for a in cl.training_order(c, [x for k in c.claims.values() for x in k.arms.values()])]
    assert everything.index("b/base") < everything.index("a/without")
    assert everything.index("a/with") < everything.index("b/shipped")


def test_substitute_replaces_references_by_training_directories():
    dirs = {"b/base": "runs/ablations/b/base"}
    assert cl.substitute("init=@b/base/checkpoint.pt", dirs) == "init=runs/ablations/b/base/checkpoint.pt"


def test_a_cycle_is_one_clear_error(tmp_path):
    body = TWO_ARMS.replace('base: {model: gan, train: ["--steps", "1"]}',
                            'base: {model: gan, train: ["--set", "init=@a/without"]}')
    with pytest.raises(ColorbenchError, match=r"cycle \(a/without -> b/base -> a/without\)"):
        cl.load(write(tmp_path, body))


@pytest.mark.parametrize(("old", "new", "message"), [
    ("@b/base", "@b/nothing", "refers to @b/nothing, which is no arm"),
    ("with: {model", "yes: {model", "name True is not a string"),
    ("mechanism: with", "mechanism: nope", "mechanism: 'nope' is not one of its arms"),
    ("paper: P", "papers: P", "unknown key"),
    ('shipped: {model: gan, checkpoint: "@a/with"}', "shipped: {derived: best, of: [base]}", "not one of random, oracle"),
    ('shipped: {model: gan, checkpoint: "@a/with"}', "shipped: {derived: oracle, of: [base]}", "needs by: METRIC"),
    ('shipped: {model: gan, checkpoint: "@a/with"}', "shipped: {derived: random, of: [ghost]}", "ghost: not a model arm"),
])
def test_bad_claims_files_name_the_place(tmp_path, old, new, message):
    with pytest.raises(ColorbenchError, match=message):
        cl.load(write(tmp_path, TWO_ARMS.replace(old, new, 1)))


def test_only_selects_claims_and_rejects_unknown_names(tmp_path):
    c = cl.load(write(tmp_path, TWO_ARMS))
    assert [x.name for x in cl.select(c, "b")] == ["b"]
    assert [x.name for x in cl.select(c, None)] == ["a", "b"]
    with pytest.raises(ColorbenchError, match="--only zzz: no such claim"):
        cl.select(c, "a,zzz")


# ------------------------------------------------------------------ derived arms
def rows_of(arm: str, values: dict[str, float], metric: str = "m", dataset: str = "d") -> list[res.Row]:
    return [{"dataset": dataset, "image_id": k, "arm": arm, metric: v} for k, v in values.items()]


def derived(kind: str, **kw) -> cl.Arm:
    return cl.Arm("c", kind, derived=kind, of=["x", "y"], **kw)


def test_random_arm_is_seeded_reproducible_and_mixes_the_arms():
    ids = [f"i{n:03d}" for n in range(200)]
    rows = rows_of("x", dict.fromkeys(ids, 1.0)) + rows_of("y", dict.fromkeys(ids, 2.0))
    first = res.derive(derived("random", seed=0), rows, {"m": True})
    again = res.derive(derived("random", seed=0), rows, {"m": True})
    other = res.derive(derived("random", seed=1), rows, {"m": True})
    picked = [r["m"] for r in first]
    assert picked == [r["m"] for r in again] and picked != [r["m"] for r in other]
    assert 60 < picked.count(1.0) < 140 and {r["arm"] for r in first} == {"random"}


@pytest.mark.parametrize(("higher", "expected"), [(True, [5.0, 7.0, 3.0]), (False, [1.0, 2.0, 3.0])])
def test_oracle_picks_the_best_row_per_image_in_the_metrics_direction(higher, expected):
    rows = (rows_of("x", {"a": 1.0, "b": 7.0, "c": 3.0}) + rows_of("y", {"a": 5.0, "b": 2.0, "c": 3.0})
            + rows_of("x", {"a": 9.0}, metric="n") + rows_of("y", {"a": 8.0}, metric="n"))
    rows = [r for r in rows if "m" in r] + rows_of("y", {"z": 4.0})  # z: only y scored it, left out
    out = res.derive(derived("oracle", by="m"), rows, {"m": higher})
    assert [r["m"] for r in out] == expected and [r["image_id"] for r in out] == ["a", "b", "c"]


def test_results_csv_round_trips(tmp_path):
    rows = [*rows_of("x", {"a": 1.5, "b": float("inf")}), {"dataset": "d", "image_id": "c", "arm": "x", "m": None}]
    res.write(tmp_path / "r.csv", rows, ["m"])
    metrics, back = res.read(tmp_path / "r.csv")
    assert metrics == ["m"] and back == rows


# ------------------------------------------------------------------ statistics
def test_images_needed_follows_the_power_formula():
    assert st.images_needed(0.5, 2.0) == 126  # ((1.96 + 0.84) * 2 / 0.5)^2 = 125.44
    assert st.images_needed(-1.0, 1.0) == 8  # 7.84, sign ignored
    assert st.images_needed(0.0, 1.0) is None and st.images_needed(1.0, None) is None


def cell(effect: float, p: float, higher: bool = True) -> st.Comparison:
    return st.Comparison("d", "m", "o", p, effect, 1.0, 50, higher)


@pytest.mark.parametrize(("cells", "expected"), [
    ([cell(1, 0.01), cell(1, 0.01), cell(1, 0.5)], st.REPRODUCED),
    ([cell(1, 0.01), cell(1, 0.01), cell(-1, 0.01)], st.INCONCLUSIVE),  # worse somewhere
    ([cell(1, 0.01), cell(1, 0.5), cell(1, 0.5)], st.INCONCLUSIVE),  # better in a minority
    ([cell(-1, 0.01), cell(-1, 0.01), cell(1, 0.01)], st.NOT_REPRODUCED),  # worse in the majority
    ([cell(-1, 0.01), cell(1, 0.5), cell(1, 0.5)], st.NOT_REPRODUCED),  # worse somewhere, better nowhere
    ([cell(-1, 0.01, higher=False), cell(-1, 0.01, higher=False)], st.REPRODUCED),  # lower is better
    ([cell(1, 0.01, higher=False), cell(1, 0.01, higher=False)], st.NOT_REPRODUCED),
    ([], st.INCONCLUSIVE),
])
def test_verdict_rule(cells, expected):
    assert st.verdict(cells) == expected


def test_compare_on_constructed_data_with_a_lower_is_better_metric():
    rng = np.random.default_rng(0)
    base = {f"i{k}": float(v) for k, v in enumerate(rng.normal(10, 1, 60))}
    lower = {k: v - 1.0 + 0.1 * rng.normal() for k, v in base.items()}
    c = st.compare(lower, base, dataset="d", metric="m", other_name="o", higher_is_better=False)
    assert c.n == 60 and c.p is not None and c.p < 0.001 and c.better and not c.worse
    assert c.effect == pytest.approx(-1.0, abs=0.05) and c.sd == pytest.approx(0.1, abs=0.05)
    flipped = st.compare(lower, base, dataset="d", metric="m", other_name="o", higher_is_better=True)
    assert flipped.worse and not flipped.better


def test_signed_metrics_compare_by_magnitude():
    a = {f"i{k}": 0.1 * (-1) ** k for k in range(40)}  # |mean| = 0
    b = {f"i{k}": 2.0 + 0.1 * (-1) ** k for k in range(40)}
    c = st.compare(a, b, dataset="d", metric="m", other_name="o", higher_is_better=True, absolute=True)
    assert c.effect == pytest.approx(-2.0) and c.better


def test_summary_is_the_mean_and_t_half_width_of_finite_values():
    s = st.summarize({"a": 1.0, "b": 3.0, "c": float("nan")})
    assert s.mean == 2.0 and s.n == 2 and s.half_width == pytest.approx(12.706 * 1.0, rel=1e-3)


# ------------------------------------------------------------------ page
def test_page_shows_arms_p_values_verdict_and_power(tmp_path):
    c = cl.load(write(tmp_path, TWO_ARMS.replace("metrics: [cpsnr]", "metrics: [cpsnr, mse]", 1)))
    rng = np.random.default_rng(1)
    ids = {f"i{k}": float(v) for k, v in enumerate(rng.normal(20, 1, 30))}
    rows = (rows_of("with", {k: v + 1 for k, v in ids.items()}, "cpsnr") + rows_of("without", ids, "cpsnr")
            + rows_of("with", dict.fromkeys(ids, 1.0), "mse") + rows_of("without", dict.fromkeys(ids, 1.0), "mse"))
    meta = {"cpsnr": {"display_name": "CPSNR", "higher_is_better": True},
            "mse": {"display_name": "MSE", "higher_is_better": False}}
    text = page.render(c, {"a": rows}, {"a": {"with": {"train": {"command": "colorbench train ccc", "wall_s": 75,
                                                                "steps": 2}, "commit": "abcdef1234567"}}}, meta)
    assert "| [a](#a) | P | inconclusive at this scale | 1 / 0 / 2 |" in text  # mse: no difference
    assert "| **with** | 20.93 ± 0.31 | mechanism | 1.00 ± 0.00 | mechanism | 30 |" in text
    assert "| without | 19.93 ± 0.31 | <0.001 | 1.00 ± 0.00 | 1.000 | 30 |" in text
    assert "| d | MSE ↓ | without | 0.0000 | 0.0000 | 30 | no difference observed |" in text
    assert "`colorbench train ccc` | 2 | `abcdef1234` |" in text and "| 1:15 |" in text
    assert "## b" in text and "Not run yet" in text.split("## b", 1)[1]
    assert "| without | (no record yet) |" in text
    assert "**Verdict rule.** Each comparison cell is one (dataset, metric, other arm); oracle arms" in text
    text_b = page.render(c, {"b": rows_of("base", {"i": 1.0}, "cpsnr") + rows_of("shipped", {"i": 2.0}, "cpsnr")},
                         {}, meta)
    assert "| shipped | (not trained: scores @a/with) |" in text_b


def test_gpu_needs_sum_up_the_comparisons_left_open(tmp_path):
    c = cl.load(write(tmp_path, TWO_ARMS)).claims["a"]
    cells = [st.Comparison("d", "cpsnr", "without", 0.3, 0.5, 2.0, 40, True),  # open: n 126
             st.Comparison("e", "cpsnr", "without", 0.2, 1.0, 1.0, 40, True),  # open: n 8
             st.Comparison("f", "cpsnr", "without", 0.01, 1.0, 9.0, 40, True)]  # significant: not counted
    text = "\n".join(page.needs(c, cells, {"cpsnr": {"display_name": "CPSNR"}}))
    assert "The 2 comparison(s) not significant here would need up to 126 held-out images (median 126)" in text
    assert "| d | CPSNR ↑ | without | 0.5000 | 2.0000 | 40 | 126 |" in text
    assert text.index("would need up to") < text.index("| dataset |")
