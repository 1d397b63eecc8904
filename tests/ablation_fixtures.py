"""Shared by the ablation tests (conftest.py puts benchmarks/ablations on sys.path)."""


def claims_header(seed: int) -> str:
    """``version``, ``defaults`` (shapes train split, ``seed``, suite.yaml) and ``claims:``."""
    return (f"version: 1\ndefaults:\n  train: {{dataset: shapes, split: train, seed: {seed}}}\n"
            "  eval: {suite: suite.yaml}\nclaims:\n")
