"""MixUp and the MixUp/CutMix switch as functions: blends, targets, the laws of the draws, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from composer_cutmix import (
    CutMixParams,
    MixingError,
    MixUpCutMixElemParams,
    MixUpParams,
    apply_params,
    mixup_batch,
    sample_mixup_params,
    sample_mixup_params_elem,
    sample_switch_params,
    sample_switch_params_elem,
)
from composer_cutmix.functional import draw_minmax_boxes, smooth_targets


def batch(n=8, c=3, h=6, w=5, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        X = torch.randint(0, 256, (n, c, h, w), generator=g, dtype=torch.uint8)
    else:
        X = torch.randn(n, c, h, w, generator=g).to(dtype)
    y = torch.randint(0, 4, (n,), generator=g)
    return X, y, torch.randperm(n, generator=g)


# ------------------------------------------------------------------------------------------------- blends


@pytest.mark.parametrize('lam', [0.0, 0.3, 0.5, 0.8125, 1.0])
def test_blend_is_lam_x_plus_one_minus_lam_partner(lam):
    X, y, idx = batch()
    Xm, ym = mixup_batch(X, y, 4, lam=lam, indices=idx)
    torch.testing.assert_close(Xm, lam * X + (1 - lam) * X[idx], rtol=0, atol=1e-6)
    expected = lam * F.one_hot(y, 4) + (1 - lam) * F.one_hot(y[idx], 4)
    torch.testing.assert_close(ym, expected.float())
    if lam in (0.0, 1.0):  # the lerp is exact at its ends: the partner's or the own pixels, bit for bit
        assert torch.equal(Xm, X if lam == 1.0 else X[idx])


def test_float64_blends_in_float64():
    X, y, idx = batch(dtype=torch.float64)
    Xm, _ = mixup_batch(X, y, 4, lam=1 / 3, indices=idx)
    assert Xm.dtype == torch.float64
    torch.testing.assert_close(Xm, X / 3 + 2 * X[idx] / 3, rtol=0, atol=1e-14)


@pytest.mark.parametrize('lam', [0.3, 0.25, 0.123456, 0.5])
def test_uint8_is_rounded_to_the_nearest_value_of_the_formula(lam):
    X, y, idx = batch(n=32, h=16, w=16, dtype=torch.uint8)
    Xm, _ = mixup_batch(X, y, 4, lam=lam, indices=idx)
    assert Xm.dtype == torch.uint8
    assert torch.equal(Xm, (lam * X.float() + (1 - lam) * X[idx].float()).round().to(torch.uint8))
    # and never more than half a grey level from the exact blend
    exact = lam * X.double() + (1 - lam) * X[idx].double()
    assert float((Xm.double() - exact).abs().max()) <= 0.5 + 1e-4


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_is_blended_in_float32_and_cast_back(dtype):
    X, y, idx = batch(dtype=dtype)
    Xm, _ = mixup_batch(X, y, 4, lam=0.3, indices=idx)
    assert Xm.dtype == dtype
    assert torch.equal(Xm, (0.3 * X.float() + 0.7 * X[idx].float()).to(dtype))


@pytest.mark.parametrize('dtype', [torch.float32, torch.uint8, torch.float16])
def test_inplace_writes_into_x_and_returns_it(dtype):
    X, y, idx = batch(dtype=dtype)
    expected, _ = mixup_batch(X, y, 4, lam=0.6, indices=idx)
    ptr = X.data_ptr()
    out, _ = mixup_batch(X, y, 4, lam=0.6, indices=idx, inplace=True)
    assert out is X and X.data_ptr() == ptr and torch.equal(X, expected)


def test_out_of_place_leaves_the_arguments_alone():
    X, y, idx = batch()
    X0, y0 = X.clone(), y.clone()
    mixup_batch(X, y, 4, alpha=0.4)
    assert torch.equal(X, X0) and torch.equal(y, y0)


def test_channels_last_and_5d_inputs():
    X, y, idx = batch(c=4, h=7, w=7)
    cl = X.contiguous(memory_format=torch.channels_last)
    Xm, _ = mixup_batch(cl, y, 4, lam=0.25, indices=idx)
    assert Xm.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(Xm, 0.25 * X + 0.75 * X[idx], rtol=0, atol=1e-6)
    V = torch.randn(8, 2, 3, 4, 4)  # video: (N, C, T, H, W)
    Vm, _ = mixup_batch(V, y, 4, lam=0.5, indices=idx)
    torch.testing.assert_close(Vm, 0.5 * V + 0.5 * V[idx], rtol=0, atol=1e-6)


def test_dense_soft_and_multilabel_targets_are_mixed_alike():
    X, _, idx = batch()
    soft = torch.softmax(torch.randn(8, 4, generator=torch.Generator().manual_seed(1)), 1)
    _, ym = mixup_batch(X, soft, 4, lam=0.7, indices=idx)
    torch.testing.assert_close(ym, 0.7 * soft + 0.3 * soft[idx])
    multi = (torch.rand(8, 4, generator=torch.Generator().manual_seed(2)) < 0.5).long()
    _, ym = mixup_batch(X, multi, 4, lam=0.5, indices=idx)
    torch.testing.assert_close(ym, 0.5 * multi.float() + 0.5 * multi[idx].float())


def test_method_card_keyword_call():
    X = torch.randn(4, 3, 16, 16)
    y = torch.randint(0, 10, (4,))
    X_mixed, y_mixed = mixup_batch(X=X, y=y, n_classes=10, alpha=0.2)
    assert X_mixed.shape == X.shape and y_mixed.shape == (4, 10)
    torch.testing.assert_close(y_mixed.sum(1), torch.ones(4))


def test_parity_with_composer_mixup_batch():
    from composer.functional import mixup_batch as composer_mixup_batch

    X, y, idx = batch(n=16, h=12, w=12)
    # Composer's 'mixing' is the partner's weight: X_c = (1 - mixing) * X + mixing * X[perm].
    Xc, y_perm, mixing = composer_mixup_batch(X, y, mixing=0.35, indices=idx)
    Xm, ym = mixup_batch(X, y, 4, lam=1 - 0.35, indices=idx)
    torch.testing.assert_close(Xm, Xc, rtol=0, atol=1e-6)
    torch.testing.assert_close(ym, (0.65 * F.one_hot(y, 4) + 0.35 * F.one_hot(y_perm, 4)).float())


def test_elem_mode_blends_each_sample_with_its_own_lam():
    X, y, idx = batch()
    lam = torch.linspace(0, 1, 8)
    Xm, ym = mixup_batch(X, y, 4, lam=lam, indices=idx, mode='elem')
    l4 = lam.view(8, 1, 1, 1)
    torch.testing.assert_close(Xm, l4 * X + (1 - l4) * X[idx], rtol=0, atol=1e-6)
    expected = lam[:, None] * F.one_hot(y, 4) + (1 - lam[:, None]) * F.one_hot(y[idx], 4)
    torch.testing.assert_close(ym, expected.float())
    drawn = sample_mixup_params_elem(64, 0.4, generator=torch.Generator().manual_seed(0))
    assert drawn.lam.shape == (64,) and len(set(drawn.lam.tolist())) == 64


# ---------------------------------------------------------------------------------------------- the draws


@pytest.mark.parametrize('alpha', [0.2, 1.0, 2.0])
def test_lam_follows_beta_alpha_alpha(alpha):
    g = torch.Generator().manual_seed(3)
    lams = [sample_mixup_params(2, alpha, generator=g).lam for _ in range(3000)]
    assert stats.kstest(lams, stats.beta(alpha, alpha).cdf).pvalue > 0.01


def test_generator_pins_the_draw_and_the_global_rng_is_used_without_one():
    X, y, _ = batch()
    a = mixup_batch(X, y, 4, generator=torch.Generator().manual_seed(5))
    b = mixup_batch(X, y, 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    torch.manual_seed(9)
    c = mixup_batch(X, y, 4)
    torch.manual_seed(9)
    d = mixup_batch(X, y, 4)
    assert torch.equal(c[0], d[0])


# ----------------------------------------------------------------------------------------------- the switch


def test_switch_frequency_per_batch():
    g = torch.Generator().manual_seed(0)
    draws = [sample_switch_params(4, 8, 8, switch_prob=0.3, generator=g) for _ in range(2000)]
    cut = sum(isinstance(p, CutMixParams) for p in draws)
    assert all(isinstance(p, (CutMixParams, MixUpParams)) for p in draws)
    assert stats.binomtest(cut, 2000, 0.3).pvalue > 0.01
    mix_lams = [p.lam for p in draws if isinstance(p, MixUpParams)]
    assert stats.kstest(mix_lams, stats.beta(0.8, 0.8).cdf).pvalue > 0.01


@pytest.mark.parametrize('mixup_alpha,cutmix_alpha,expected', [(0.0, 1.0, CutMixParams), (0.8, 0.0, MixUpParams)])
def test_an_alpha_of_zero_turns_that_op_off(mixup_alpha, cutmix_alpha, expected):
    g = torch.Generator().manual_seed(1)
    assert all(isinstance(sample_switch_params(4, 8, 8, mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha,
                                               generator=g), expected) for _ in range(50))


def test_both_alphas_zero_is_an_error():
    with pytest.raises(MixingError, match='both 0'):
        sample_switch_params(4, 8, 8, mixup_alpha=0.0, cutmix_alpha=0.0)


def test_minmax_boxes_are_inside_with_sides_in_range_and_lam_from_area():
    g = torch.Generator().manual_seed(2)
    boxes = draw_minmax_boxes(5000, 40, 30, (0.2, 0.6), g)
    hs, ws = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert int(hs.min()) == 8 and int(hs.max()) == 23  # [int(0.2*40), int(0.6*40)) = [8, 24)
    assert int(ws.min()) == 6 and int(ws.max()) == 17  # [6, 18)
    assert bool((boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 40).all() and (boxes[:, 3] <= 30).all())
    # heights and widths are drawn independently and uniformly
    assert abs(float(np.corrcoef(hs.numpy(), ws.numpy())[0, 1])) < 0.05
    assert stats.chisquare(np.bincount(hs.numpy() - 8)).pvalue > 0.01
    # every placement occurs, the borders included
    assert int(boxes[:, 0].min()) == 0 and bool((boxes[:, 2] == 40).any())
    for _ in range(50):
        p = sample_switch_params(4, 40, 30, mixup_alpha=0.0, cutmix_minmax=(0.2, 0.6), correct_lam=False, generator=g)
        y0, x0, y1, x1 = p.bbox
        assert p.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 1200)  # the area, even with correct_lam=False


def test_correct_lam_false_keeps_the_drawn_lambda():
    draws = {}
    for correct in (True, False):
        g = torch.Generator().manual_seed(4)
        draws[correct] = [sample_switch_params(4, 16, 16, mixup_alpha=0.0, correct_lam=correct, generator=g)
                          for _ in range(300)]
    differ = 0
    for a, b in zip(draws[True], draws[False]):
        assert a.bbox == b.bbox and torch.equal(a.indices, b.indices)  # the same draw...
        y0, x0, y1, x1 = a.bbox
        assert a.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 256)  # ...weighed by the box's area
        differ += abs(a.lam - b.lam) > 1e-6  # ...or by the drawn lambda, which clipping makes differ
    assert differ > 100
    assert stats.kstest([b.lam for b in draws[False]], 'uniform').pvalue > 0.01  # Beta(1, 1)


def test_elem_switch_choices_and_prob_are_per_sample():
    g = torch.Generator().manual_seed(5)
    p = sample_switch_params_elem(4000, 16, 16, switch_prob=0.5, prob=0.6, generator=g)
    assert isinstance(p, MixUpCutMixElemParams)
    mixed = p.lam < 1
    assert stats.binomtest(int(p.use_cutmix.sum()), 4000, 0.3).pvalue > 0.001
    assert 0.55 < float(mixed.float().mean()) < 0.65
    area = ((p.bboxes[:, 2] - p.bboxes[:, 0]) * (p.bboxes[:, 3] - p.bboxes[:, 1])).float()
    torch.testing.assert_close(p.lam[p.use_cutmix], 1 - area[p.use_cutmix] / 256)
    assert bool((area[~p.use_cutmix] == 0).all())


def test_elem_switch_apply_is_pixel_exact():
    X, y, idx = batch(n=6, c=2, h=6, w=6)
    params = MixUpCutMixElemParams(
        use_cutmix=torch.tensor([True, False, True, False, False, True]),
        lam=torch.tensor([0.75, 0.4, 1.0, 1.0, 0.9, 0.5]),
        bboxes=torch.tensor([[0, 0, 3, 3], [0, 0, 0, 0], [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 6, 3]]),
        indices=idx,
    )
    for dtype in (torch.float32, torch.uint8):
        Xd = X if dtype == torch.float32 else (X.abs() * 60).to(torch.uint8)
        out = apply_params(Xd, params)
        for i in range(6):
            j = int(idx[i])
            if params.use_cutmix[i]:
                y0, x0, y1, x1 = params.bboxes[i].tolist()
                expected = Xd[i].clone()
                expected[:, y0:y1, x0:x1] = Xd[j][:, y0:y1, x0:x1]
                assert torch.equal(out[i], expected), 'a CutMix-ed sample copies the box exactly'
            elif dtype == torch.float32:
                lam = float(params.lam[i])
                torch.testing.assert_close(out[i], lam * Xd[i] + (1 - lam) * Xd[j], rtol=0, atol=1e-6)
            else:
                lam = params.lam[i]
                assert torch.equal(out[i], (lam * Xd[i].float() + (1 - lam) * Xd[j].float()).round().to(torch.uint8))


def test_label_smoothing_of_dense_targets():
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.25, 0.75, 0.0, 0.0]])
    torch.testing.assert_close(smooth_targets(y, 0.1), y * 0.9 + 0.025)
    assert smooth_targets(y, 0.0) is y


# ----------------------------------------------------------------------------------------------- bad input

GOOD_X = torch.randn(4, 3, 8, 8)
GOOD_Y = torch.tensor([0, 1, 2, 3])

BAD = [
    (dict(X=torch.randn(4, 8)), 'at least 3 dims'),
    (dict(X=[[1.0]]), 'torch.Tensor'),
    (dict(y=torch.tensor([0.0, 1.0, 2.0, 3.0])), 'integer class labels'),
    (dict(y=torch.tensor([0, 1, 2])), '3 labels but the input batch has 4'),
    (dict(y=torch.tensor([0, 1, 5, 2])), 'found label 5'),
    (dict(y=torch.zeros(4, 7)), '(N, n_classes) = (4, 5)'),
    (dict(alpha=0.0), 'alpha must be'),
    (dict(alpha=-1.0), 'alpha must be'),
    (dict(lam=1.5), 'lam must be a number in [0, 1]'),
    (dict(lam=-0.1), 'lam must be a number in [0, 1]'),
    (dict(lam='half'), 'lam must be a number in [0, 1]'),
    (dict(lam=torch.tensor([0.5, 0.5, 0.5, 0.5])), "with mode='elem'"),
    (dict(lam=torch.tensor([0.5, 0.5, 1.5, 0.5]), mode='elem'), 'lam must lie in [0, 1]'),
    (dict(lam=torch.tensor([0.5, 0.5]), mode='elem'), '(4,) tensor'),
    (dict(indices=torch.tensor([0, 1, 1, 2])), 'permutation of range(4)'),
    (dict(indices=torch.tensor([0, 1, 2])), 'shape (4,)'),
    (dict(n_classes=0), 'n_classes must be >= 1'),
    (dict(mode='pixel'), "mode must be 'batch'"),
]


@pytest.mark.parametrize('inplace', [False, True])
@pytest.mark.parametrize('bad,message', BAD, ids=[b[1][:30] for b in BAD])
def test_bad_input_is_refused_before_anything_changes(bad, message, inplace):
    kwargs = dict(X=GOOD_X.clone(), y=GOOD_Y.clone(), n_classes=5, alpha=0.2)
    kwargs.update(bad)
    before = kwargs['X'].clone() if isinstance(kwargs['X'], torch.Tensor) else None
    y_before = kwargs['y'].clone()
    with pytest.raises(MixingError) as info:
        mixup_batch(**kwargs, inplace=inplace)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    if before is not None:
        assert torch.equal(kwargs['X'], before), 'a refused batch must be left as it was'
    assert torch.equal(kwargs['y'], y_before)
