"""CCC++ class-weighted cross entropy (eq. 15-16), checked on a hand-computed batch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from colorbench_ccc.loss import cbce_loss, ce_loss, class_counts, class_weights, compute_loss


def test_weights_on_a_hand_computed_batch() -> None:
    # B=1, H=W=2: classes [0, 0, 0, 1] among n_C = 4; P = 50 % -> Ψ = 4/4 · 0.5 = 0.5
    target = torch.tensor([[[0, 0], [0, 1]]])
    w = class_weights(target, 4, p_percent=50.0)
    # N = [3, 1, 0, 0] -> N_adj = [3, 1, 0.5, 0.5]; max(N)/Ψ = 6; W = 4 / (N_adj + 6)
    torch.testing.assert_close(w, torch.tensor([4 / 9, 4 / 7, 4 / 6.5, 4 / 6.5]))


def test_weights_paper_psi_and_threshold() -> None:
    # B=2, 4x4: 32 pixels, n_C = 8, P = 10 % -> Ψ = 0.4; classes counted 20, 10, 2, 0...
    target = torch.tensor([0] * 20 + [1] * 10 + [2] * 2).view(2, 4, 4)
    w = class_weights(target, 8, p_percent=10.0)
    psi = 32 / 8 * 0.1
    expected = [32 / (n + 20 / psi) for n in (20, 10, 2)] + [32 / (psi + 20 / psi)] * 5
    torch.testing.assert_close(w, torch.tensor(expected))
    assert w[0] < w[1] < w[2] < w[3]  # rarer classes weigh more
    # a fixed Ψ (Table V prints Ψ = 30) replaces the formula
    w30 = class_weights(target, 8, psi=30.0)
    torch.testing.assert_close(w30, torch.tensor([32 / (30 + 20 / 30)] * 8))  # all N_c < 30


def test_cbce_is_weighted_ce_over_pixels() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 3, 3, generator=g)
    target = torch.randint(0, 5, (2, 3, 3), generator=g)
    w = class_weights(target, 5)
    ce = F.cross_entropy(logits, target, reduction="none")
    manual = (w[target] * ce).sum() / target.numel()
    torch.testing.assert_close(cbce_loss(logits, target), manual)
    torch.testing.assert_close(ce_loss(logits, target), ce.mean())
    assert not torch.allclose(cbce_loss(logits, target), ce.mean())
    torch.testing.assert_close(compute_loss("ce", logits, target), ce.mean())
    with pytest.raises(ValueError, match="cbce"):
        compute_loss("mse", logits, target)


def test_counts_summed_over_halves_give_the_weights_of_the_whole_batch() -> None:
    """Why the trainer all-reduces eq. 15's counts: each rank's own counts give other weights."""
    g = torch.Generator().manual_seed(1)
    target = torch.cat([torch.randint(0, 3, (2, 4, 4), generator=g), torch.randint(2, 6, (2, 4, 4), generator=g)])
    halves = target[:2], target[2:]
    total = class_counts(halves[0], 6) + class_counts(halves[1], 6)
    torch.testing.assert_close(total, class_counts(target, 6))
    assert total[-1] == 64 and total[:-1].sum() == 64
    whole = class_weights(target, 6)
    for half in halves:
        torch.testing.assert_close(class_weights(half, 6, counts=total), whole)
        assert not torch.allclose(class_weights(half, 6), whole)  # without the sum over ranks
    logits = torch.randn(4, 6, 4, 4, generator=g)
    other = {0: class_counts(halves[1], 6), 2: class_counts(halves[0], 6)}  # the other rank's counts
    shares = [compute_loss("cbce", logits[i:i + 2], target[i:i + 2], reduce=lambda c, i=i: c + other[i])
              for i in (0, 2)]  # reduce: what Trainer.all_reduce_sum does on 2 ranks
    torch.testing.assert_close(sum(shares) / 2, cbce_loss(logits, target))  # the ranks' mean
    local = [compute_loss("cbce", logits[i:i + 2], target[i:i + 2]) for i in (0, 2)]
    assert not torch.allclose(sum(local) / 2, cbce_loss(logits, target))
