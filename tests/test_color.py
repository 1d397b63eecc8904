"""colorbench.color: sRGB <-> CIE Lab against scikit-image, on every 8-bit colour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import color as skcolor

from colorbench.color import join_lab, lab_to_rgb, lab_to_rgb8, quantize, rgb_to_lab

CHUNK = 1 << 20  # 1M colours per chunk: 16 chunks cover the cube


def all_colours(start: int, stop: int) -> np.ndarray:
    """uint8 [N, 3]: colours with codes start..stop-1 (code = r<<16 | g<<8 | b)."""
    code = np.arange(start, stop, dtype=np.uint32)
    return np.stack([(code >> 16) & 255, (code >> 8) & 255, code & 255], -1).astype(np.uint8)


def as_image(rgb: np.ndarray) -> torch.Tensor:
    """[N, 3] -> [1, 3, N, 1] channels-first tensor."""
    return torch.from_numpy(rgb).T.reshape(1, 3, -1, 1)


def from_image(t: torch.Tensor) -> np.ndarray:
    return t.reshape(3, -1).T.numpy()


def test_rgb_to_lab_matches_skimage_on_every_8bit_colour() -> None:
    worst = 0.0
    for start in range(0, 1 << 24, CHUNK):
        rgb = all_colours(start, start + CHUNK)
        ours = from_image(rgb_to_lab(as_image(rgb))).astype(np.float64)  # uint8 in: float32 maths
        ref = skcolor.rgb2lab(rgb.reshape(-1, 1, 3)).reshape(-1, 3)
        worst = max(worst, float(np.sqrt(((ours - ref) ** 2).sum(-1)).max()))
    assert worst < 1e-3, f"max ΔE76 vs skimage = {worst}"


def test_rgb_to_lab_float64_is_exact_to_skimage() -> None:
    rgb = all_colours(0, 1 << 24)[:: 97]
    ours = from_image(rgb_to_lab(as_image(rgb).double() / 255.0))
    ref = skcolor.rgb2lab(rgb.reshape(-1, 1, 3)).reshape(-1, 3)
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_lab_to_rgb_round_trip_is_identity_on_every_8bit_colour() -> None:
    for start in range(0, 1 << 24, CHUNK):
        rgb = all_colours(start, start + CHUNK)
        lab = rgb_to_lab(as_image(rgb))
        back = from_image(quantize(lab_to_rgb(lab)))
        bad = np.flatnonzero((back != rgb).any(-1))
        assert bad.size == 0, f"{bad.size} colours do not round-trip, e.g. {rgb[bad[:3]].tolist()} -> {back[bad[:3]].tolist()}"


def test_round_trip_through_the_protocol_split_of_L_and_ab() -> None:
    """run's rebuild: L* from ground truth, a*b* from the 'prediction' (here: the truth)."""
    rgb = all_colours(0, 1 << 24)[::13]
    lab = rgb_to_lab(as_image(rgb))
    out = quantize(lab_to_rgb(join_lab(lab[:, :1], lab[:, 1:])))
    assert np.array_equal(from_image(out), rgb)


def test_lab_to_rgb_matches_skimage_including_out_of_gamut() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    lab = np.stack([rng.uniform(0, 100, n), rng.uniform(-128, 128, n), rng.uniform(-128, 128, n)], -1)
    with pytest.warns(UserWarning):  # skimage warns about negative Z values it clips
        ref = skcolor.lab2rgb(lab.reshape(-1, 1, 3)).reshape(-1, 3)
    ours = from_image(lab_to_rgb(as_image(lab)))
    assert ((ref == 0) | (ref == 1)).any(-1).mean() > 0.3  # really exercises clipping
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    ours32 = from_image(lab_to_rgb(as_image(lab).float())).astype(np.float64)
    np.testing.assert_allclose(ours32, ref, atol=2e-5)


def test_lab_to_rgb8_equals_quantized_lab_to_rgb_bit_for_bit() -> None:
    # the fast uint8 path (protocol.rebuild) against the composed float path, on dark, mid
    # and out-of-gamut colours (both branches of f⁻¹ and of the sRGB curve, clipping)
    g = torch.Generator().manual_seed(3)
    L = torch.rand(4, 1, 64, 64, generator=g) * 100
    L[0] *= 0.05  # near black: the linear branches
    ab = torch.randn(4, 2, 64, 64, generator=g) * torch.tensor([5.0, 30.0, 80.0, 200.0]).view(4, 1, 1, 1)
    fast = lab_to_rgb8(L, ab)
    assert fast.dtype == torch.uint8 and fast.shape == (4, 3, 64, 64)
    assert torch.equal(fast, quantize(lab_to_rgb(join_lab(L, ab))))
    assert torch.equal(lab_to_rgb8(L[2:3], ab[2:3])[0], fast[2])  # independent of the batch
    assert {0, 255} <= set(fast.unique().tolist())  # clipping was exercised


def test_whole_batch_passes_as_on_a_gpu_give_the_per_image_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from colorbench.color import lab as lab_module
    from colorbench.color import rgb8_to_lab

    g = torch.Generator().manual_seed(4)
    rgb = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=g)
    L, ab = torch.rand(3, 1, 32, 32, generator=g) * 100, torch.randn(3, 2, 32, 32, generator=g) * 40
    per_image = rgb8_to_lab(rgb), lab_to_rgb8(L, ab)
    monkeypatch.setattr(lab_module, "_per_call", lambda n, device: n)  # what a CUDA device gets
    whole = rgb8_to_lab(rgb), lab_to_rgb8(L, ab)
    assert torch.equal(whole[0], per_image[0]) and torch.equal(whole[1], per_image[1])


def test_lab_to_rgb_without_clip_leaves_out_of_gamut_values() -> None:
    lab = torch.tensor([50.0, 100.0, -100.0], dtype=torch.float64).view(1, 3, 1, 1)
    raw = lab_to_rgb(lab, clip=False)
    assert raw.min() < 0 or raw.max() > 1
    assert torch.equal(lab_to_rgb(lab), raw.clamp(0, 1))


def test_channel_dim_argument() -> None:
    rgb = torch.rand(2, 5, 7, 3, dtype=torch.float64)
    last = rgb_to_lab(rgb, dim=-1)
    first = rgb_to_lab(rgb.permute(0, 3, 1, 2))
    torch.testing.assert_close(last, first.permute(0, 2, 3, 1))
    torch.testing.assert_close(lab_to_rgb(last, dim=-1), rgb, atol=1e-9, rtol=0)


def test_quantize_rounds_half_up_and_clips() -> None:
    x = torch.tensor([-0.5, 0.0, 0.5 / 255, 0.49 / 255, 1.0, 1.5, 254.5 / 255])
    assert quantize(x).tolist() == [0, 0, 1, 0, 255, 255, 255]


def test_gradients_flow_through_both_directions() -> None:
    torch.manual_seed(0)
    rgb = torch.rand(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    lab = rgb_to_lab(rgb)
    lab.sum().backward()
    assert rgb.grad is not None and torch.isfinite(rgb.grad).all() and rgb.grad.abs().sum() > 0

    ab = torch.randn(2, 2, 8, 8, requires_grad=True) * 20
    ab.retain_grad()
    L = torch.full((2, 1, 8, 8), 60.0)
    out = lab_to_rgb(join_lab(L, ab))
    out.mean().backward()
    assert torch.isfinite(ab.grad).all() and ab.grad.abs().sum() > 0


def test_gradcheck_rgb_to_lab() -> None:
    rgb = torch.tensor([[0.2, 0.5, 0.9], [0.01, 0.03, 0.6]], dtype=torch.float64).T.reshape(1, 3, 2, 1)
    rgb.requires_grad_(True)
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = rgb_to_lab(rgb).detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: lab_to_rgb(x, clip=False), (lab,))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
                min_size=1, max_size=32))
def test_rgb_lab_rgb_property(colours: list[tuple[int, int, int]]) -> None:
    rgb = np.array(colours, dtype=np.uint8)
    lab = rgb_to_lab(as_image(rgb))
    L = from_image(lab)[:, 0]
    assert (L >= -1e-4).all() and (L <= 100 + 1e-4).all()
    assert np.array_equal(from_image(quantize(lab_to_rgb(lab))), rgb)


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 100), st.floats(-150, 150), st.floats(-150, 150))
def test_lab_to_rgb_always_in_unit_range_and_matches_skimage(L: float, a: float, b: float) -> None:
    import warnings

    lab = np.array([[L, a, b]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = skcolor.lab2rgb(lab.reshape(1, 1, 3)).reshape(3)
    ours = from_image(lab_to_rgb(as_image(lab)))[0]
    assert ((ours >= 0) & (ours <= 1)).all()
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_rgb8_to_lab_on_8bit_colours() -> None:
    """The fast uint8 path (used by MetricBatch): float64 equals rgb_to_lab, float32 within 1e-4
    (worst over all 2^24 colours: 6.6e-5). Every other level per channel keeps the test quick."""
    from colorbench.color import rgb8_to_lab

    v = torch.arange(0, 256, 2, dtype=torch.uint8)
    rgb = torch.stack(torch.meshgrid(v, v, v, indexing="ij")).reshape(3, 128, 128 * 128)
    ref = rgb_to_lab(rgb.double() / 255.0)
    assert (rgb8_to_lab(rgb, torch.float64) - ref).abs().max() < 1e-11
    lab32 = rgb8_to_lab(rgb)
    assert lab32.dtype == torch.float32 and (lab32.double() - ref).abs().max() < 1e-4
    batch = rgb.reshape(3, 128, 128, 128).permute(1, 0, 2, 3)[:5]  # [5, 3, 128, 128]
    assert torch.equal(rgb8_to_lab(batch)[3], rgb8_to_lab(batch[3:4])[0])  # batch-independent


def test_network_scaling_covers_every_srgb_colour() -> None:
    """normalize_L / normalize_ab map every 8-bit sRGB colour into [-1, 1]; to_ab inverts."""
    from colorbench.color import normalize_ab, normalize_L, to_ab

    levels = torch.arange(0, 256, 5, dtype=torch.uint8)
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij")).reshape(3, -1, 1)
    lab = rgb_to_lab(rgb)
    L, ab = normalize_L(lab[:1]), normalize_ab(lab[1:])
    assert L.min() >= -1 and L.max() <= 1 and ab.abs().max() < 1
    assert torch.allclose(to_ab(ab), lab[1:], atol=1e-4)
