"""Object-selective colour harmonization (Algorithm 1) and the segmenters it uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from colorbench_ccc.harmonize import Harmonizer, gray_rgb, harmonize, segment_modes


def test_segment_modes_of_rounded_values() -> None:
    values = torch.tensor([3.2, 2.9, 3.0, 10.0, -5.0, -5.4, -4.6, 7.0])
    segments = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    assert segment_modes(values, segments).tolist() == [3.0, -5.0]
    # ties go to the smallest value
    assert segment_modes(torch.tensor([1.0, 9.0]), torch.tensor([0, 0])).tolist() == [1.0]


def test_algorithm_1_on_constructed_segments() -> None:
    # two segments (left/right halves); a* mode 20 on the left, b* mode -30 on the right
    segments = torch.zeros(4, 6, dtype=torch.int64)
    segments[:, 3:] = 1
    ab = torch.zeros(2, 4, 6)
    ab[0, :, :3] = 20.0
    ab[0, 0, 0] = 29.0    # |29 - 20| = 9 > 8: replaced
    ab[0, 1, 1] = 27.5    # 7.5 <= 8: kept
    ab[0, 2, 2] = -40.0   # replaced
    ab[1, :, 3:] = -30.0
    ab[1, 3, 5] = 50.0    # replaced by -30
    ab[1, 0, 4] = -22.5   # kept
    out = harmonize(ab, segments, 8.0, 8.0)
    assert out[0, 0, 0] == 20.0 and out[0, 2, 2] == 20.0 and out[0, 1, 1] == 27.5
    assert out[1, 3, 5] == -30.0 and out[1, 0, 4] == -22.5
    changed = (out != ab).sum().item()
    assert changed == 3
    # a larger δ keeps everything; pixels outside every segment (-1) are never touched
    assert torch.equal(harmonize(ab, segments, 100.0, 100.0), ab)
    segments[0, 0] = -1
    assert harmonize(ab, segments)[0, 0, 0] == 29.0


class _Halves:
    def segment(self, rgb: np.ndarray) -> np.ndarray:
        labels = np.zeros(rgb.shape[:2], np.int64)
        labels[:, rgb.shape[1] // 2:] = 1
        return labels


def test_harmonizer_segments_the_gray_image_and_works_per_image() -> None:
    L = torch.full((2, 1, 4, 4), 50.0)
    ab = torch.zeros(2, 2, 4, 4)
    ab[1, 0, 0, 0] = 40.0
    out = Harmonizer(_Halves())(L, ab)
    assert out[1, 0, 0, 0] == 0.0 and torch.equal(out[0], ab[0])
    rgb = gray_rgb(L[0])
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 4, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_slic_segmenter_separates_regions() -> None:
    from colorbench_segmenters.slic import Slic

    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, 16:] = 200
    labels = Slic(n_segments=4, compactness=10.0).segment(rgb)
    assert labels.shape == (32, 32) and labels.dtype == np.int64
    assert not set(np.unique(labels[:, :14]).tolist()) & set(np.unique(labels[:, 18:]).tolist())


def test_sam_missing_checkpoint_is_one_clear_line(tmp_path, monkeypatch) -> None:
    from colorbench_segmenters.sam import checkpoint_path

    from colorbench.errors import WeightsUnavailableError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match=r"sam_vit_b_01ec64\.pth") as exc:
        checkpoint_path("vit_b")
    assert "\n" not in str(exc.value) and "sam_checkpoint" in str(exc.value)


def test_sam_masks_flatten_small_on_top() -> None:
    from colorbench_segmenters.sam import labels_from_masks

    big = np.ones((4, 4), bool)
    small = np.zeros((4, 4), bool)
    small[0, 0] = True
    labels = labels_from_masks([{"segmentation": small, "area": 1}, {"segmentation": big, "area": 16}], (4, 4))
    assert labels[0, 0] == 1 and (labels.reshape(-1)[1:] == 0).all()
    assert (labels_from_masks([], (2, 2)) == -1).all()


def _tiny_sam():
    from segment_anything.build_sam import _build_sam

    torch.manual_seed(0)
    return _build_sam(encoder_embed_dim=32, encoder_depth=1, encoder_num_heads=2,
                      encoder_global_attn_indexes=[0], checkpoint=None).eval()


def test_sam_path_with_a_random_small_model() -> None:
    pytest.importorskip("segment_anything")
    from colorbench_segmenters.sam import Sam

    seg = Sam(_tiny_sam(), points_per_side=2, pred_iou_thresh=0.0, stability_score_thresh=0.0,
              box_nms_thresh=1.0, crop_nms_thresh=1.0)
    L = torch.linspace(10, 90, 24).view(1, 1, 1, 24).expand(1, 1, 24, 24).contiguous()
    labels = seg.segment(gray_rgb(L[0]))
    assert labels.shape == (24, 24) and labels.dtype == np.int64
    assert labels.max() >= 0  # the random model's masks were turned into labels
    ab = torch.randn(1, 2, 24, 24) * 20
    out = Harmonizer(seg)(L, ab)
    assert out.shape == ab.shape
    inside = torch.from_numpy(labels >= 0)
    assert torch.equal(out[0][:, ~inside], ab[0][:, ~inside])  # untouched outside masks
