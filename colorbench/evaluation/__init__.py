"""Evaluation: the protocol, image loading, metric sets, benchmark suites and the runner that
takes every (dataset, model) pair through them."""
