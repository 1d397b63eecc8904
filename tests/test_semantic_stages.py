"""semantic's schedule arithmetic (where the segmenter stage ends, how long the run is) and
its class list (the shared state that sizes both networks), without training."""

from __future__ import annotations

from typing import Any

import pytest
from colorbench_datasets.shapes import Shapes
from colorbench_semantic.data import class_list
from colorbench_semantic.stages import schedule

from colorbench.errors import ColorbenchError


def _plan(start: int = 0, boundary: int | None = None, **cfg: Any) -> tuple[int, int]:
    return schedule({"stage": "both", **cfg}, 10, start, boundary)  # 10 steps per epoch


def test_both_stages_from_steps_or_epochs() -> None:
    assert _plan(steps=10) == (5, 10)  # seg_share 0.5
    assert _plan(steps=7) == (4, 7)  # round(3.5)
    assert _plan(steps=10, seg_share=0.3) == (3, 10)
    assert _plan(steps=10, seg_steps=4, seg_share=0.9) == (4, 10)  # seg_steps wins
    assert _plan(steps=10, seg_steps=20) == (10, 10)  # capped at --steps
    assert _plan(seg_epochs=1.5, epochs=2) == (15, 35)


def test_both_resumed_keeps_a_passed_boundary() -> None:
    assert _plan(start=6, boundary=4, steps=12, seg_steps=7) == (4, 12)  # inside the colorizer stage
    assert _plan(start=4, boundary=4, steps=12, seg_steps=7) == (4, 12)  # at the boundary
    assert _plan(start=2, boundary=4, steps=12, seg_steps=7) == (7, 12)  # inside the segmenter stage
    assert _plan(start=6, boundary=4, seg_epochs=9, epochs=1) == (4, 14)


def test_one_stage_runs() -> None:
    assert _plan(stage="segmenter", steps=6, seg_steps=2) == (6, 6)
    assert _plan(stage="segmenter", seg_epochs=2, epochs=9) == (20, 20)
    assert _plan(stage="colorizer", steps=5) == (0, 5)  # from scratch
    assert _plan(stage="colorizer", epochs=2, seg_epochs=9) == (0, 20)
    assert _plan(stage="colorizer", start=3, boundary=3, steps=5) == (3, 8)  # after a segmenter run
    assert _plan(stage="colorizer", start=2, boundary=3, steps=5) == (2, 7)  # after a stopped one
    assert _plan(stage="colorizer", start=6, boundary=3, steps=5) == (3, 8)  # resumed inside the colorizer
    with pytest.raises(ColorbenchError, match="stage=gan: choose segmenter, colorizer, both"):
        _plan(stage="gan", steps=4)


def test_class_list_from_the_dataset_pseudo_labels_or_n_classes() -> None:
    shapes = Shapes("train", size=16, n_images=2)
    assert class_list({}, shapes, None) == ["background", "disc", "square", "triangle", "ring"]
    assert class_list({"n_classes": 7}, shapes, None)[4:] == ["ring", "class 5", "class 6"]
    assert class_list({"n_classes": 2}, shapes, None) == ["background", "disc"]
    pseudo = {"centres": [[0.0] * 6] * 3}
    assert class_list({}, shapes, pseudo) == ["pseudo 0", "pseudo 1", "pseudo 2"]

    class Unnamed:  # maps, but no class list
        ids = shapes.ids

        def load(self, i: int) -> Any:
            return shapes.load(i)

    assert class_list({"n_classes": 2}, Unnamed(), None) == ["class 0", "class 1"]
    with pytest.raises(ColorbenchError, match=r"no class list.*--set n_classes=N"):
        class_list({}, Unnamed(), None)
