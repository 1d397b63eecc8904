"""Committed docs and leaderboards speak to users: no absolute path of a machine, no
issue numbers or internal files, papers cited by authors and year."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("*.md", "*.csv", "*.json", "*.html", "*.tex", "*.txt", "*.yaml")
# An absolute path of some machine: /work/, /tmp/, /root/, /home/, /Users/ or C:\ (not part of a URL or a relative path).
MACHINE_PATH = re.compile(r"(?<![\w.~/-])(/work/|/tmp/|/root/|/home/|/Users/|[A-Za-z]:\\)")
JARGON = re.compile(r"\bseed 00\d\b|\bissue \d+\b|DESIGN\.md|[Oo]ur issue", re.IGNORECASE)
# (file, text of the line) pairs allowed to show such a path: the lines that explain the rule.
EXEMPT: set[tuple[str, str]] = set()


def committed_docs() -> list[Path]:
    """README.md, docs/, leaderboards/ and the markdown of plugins/ and benchmarks/."""
    files = [ROOT / "README.md"]
    for folder in ("docs", "leaderboards"):
        files += [p for pattern in TEXT for p in (ROOT / folder).rglob(pattern)]
    for folder in ("plugins", "benchmarks"):
        files += (ROOT / folder).rglob("*.md")
    return sorted({p for p in files if p.is_file() and ".venv" not in p.parts})


def _hits(pattern: re.Pattern[str]) -> list[str]:
    out = []
    for path in committed_docs():
        rel = path.relative_to(ROOT).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line) and (rel, line.strip()) not in EXEMPT:
                out.append(f"{rel}:{n}: {line.strip()[:120]}")
    return out


def test_the_scan_covers_docs_and_leaderboards():
    names = {p.relative_to(ROOT).as_posix() for p in committed_docs()}
    assert {"README.md", "docs/plugins.md", "leaderboards/index.md"} <= names


def test_no_committed_doc_holds_an_absolute_path_of_a_machine():
    assert _hits(MACHINE_PATH) == []


def test_no_committed_doc_speaks_of_issues_internal_files_or_seed_numbers():
    assert _hits(JARGON) == []


@pytest.mark.parametrize("line", ["see /work/main/runs/x", "cached in /root/.cache/torch",
                                  "C:\\Users\\me\\runs", "from /home/ann/data", "(/tmp/x.png)"])
def test_the_path_pattern_catches_machine_paths(line):
    assert MACHINE_PATH.search(line)


@pytest.mark.parametrize("line", ["runs/demo/leaderboard/index.md", "https://example.org/home/x",
                                  "$TORCH_HOME/hub/checkpoints", "~/data/coco", "docs/run-directory.md"])
def test_the_path_pattern_spares_relative_paths_and_urls(line):
    assert not MACHINE_PATH.search(line)


@pytest.mark.parametrize("spec", ["ColorizerSpec", "DatasetSpec", "MetricSpec", "SegmenterSpec"])
def test_plugins_md_documents_every_field_of_each_spec(spec):
    import dataclasses

    from colorbench.plugin import specs

    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    heading = {"ColorizerSpec": "## register_colorizers", "DatasetSpec": "## register_datasets",
               "MetricSpec": "## register_metrics", "SegmenterSpec": "## register_segmenters"}[spec]
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    fields = [f.name for f in dataclasses.fields(getattr(specs, spec))]
    missing = [name for name in fields if f"`{name}`" not in section and not re.search(rf"\b{name}\b", section)]
    assert missing == []
