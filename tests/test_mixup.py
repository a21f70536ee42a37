"""MixUp as a function, and the draws of the MixUp/CutMix switch: blends, targets, the laws of the draws, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from composer_cutmix import Mixer, MixingError, MixParams, apply, mix_targets, mixup_batch
from composer_cutmix.mixing import draw_minmax_cutmix, draw_mixup


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
    drawn = draw_mixup(64, 0.4, per_sample=True, generator=torch.Generator().manual_seed(0))
    assert drawn.per_sample and drawn.lam.shape == (64,) and len(set(drawn.lam.tolist())) == 64
    assert drawn.blend is drawn.lam and drawn.bbox is None and drawn.ops() == ('mixup',) * 64
    # a drawn per-sample lam is applied as given
    Xm, ym = mixup_batch(X, y, 4, alpha=0.4, mode='elem', generator=torch.Generator().manual_seed(0))
    drawn = draw_mixup(8, 0.4, per_sample=True, generator=torch.Generator().manual_seed(0))
    l4, idx = drawn.lam.view(8, 1, 1, 1), drawn.indices
    torch.testing.assert_close(Xm, l4 * X + (1 - l4) * X[idx], rtol=0, atol=1e-6)
    torch.testing.assert_close(ym, mix_targets(y, drawn, 4))


# ---------------------------------------------------------------------------------------------- the draws


@pytest.mark.parametrize('alpha', [0.2, 1.0, 2.0])
def test_lam_follows_beta_alpha_alpha(alpha):
    g = torch.Generator().manual_seed(3)
    draws = [draw_mixup(2, alpha, generator=g) for _ in range(1000)]
    assert all(p.op == 'mixup' and isinstance(p.lam, float) and p.blend == p.lam and p.bbox is None for p in draws)
    assert stats.kstest([p.lam for p in draws], stats.beta(alpha, alpha).cdf).pvalue > 0.01
    per_sample = draw_mixup(3000, alpha, per_sample=True, generator=g).lam
    assert stats.kstest(per_sample.numpy(), stats.beta(alpha, alpha).cdf).pvalue > 0.01
    # the permutation is uniform: each sample is its own partner about 1/n of the time
    fixed = sum(int((p.indices == torch.arange(2)).all()) for p in draws)
    assert stats.binomtest(fixed, 1000, 0.5).pvalue > 0.01


def test_generator_pins_the_draw_and_the_global_rng_is_used_without_one():
    X, y, _ = batch()
    a = mixup_batch(X, y, 4, generator=torch.Generator().manual_seed(5))
    b = mixup_batch(X, y, 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    p = draw_mixup(8, 0.2, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a[0], p.lam * X + (1 - p.lam) * X[p.indices], rtol=0, atol=1e-6)
    torch.testing.assert_close(a[1], mix_targets(y, p, 4))
    torch.manual_seed(9)
    c = mixup_batch(X, y, 4)
    torch.manual_seed(9)
    d = mixup_batch(X, y, 4)
    assert torch.equal(c[0], d[0]) and torch.equal(c[1], d[1])
    e = mixup_batch(X, y, 4)
    assert not torch.equal(c[0], e[0])


# ------------------------------------------------------------------------------ the switch's draws (Mixer)


@pytest.mark.parametrize('mode', ['batch', 'elem'])
@pytest.mark.parametrize('mixup_alpha,cutmix_alpha,op', [(0.0, 1.0, 'cutmix'), (0.8, 0.0, 'mixup')])
def test_an_alpha_of_zero_turns_that_op_off(mixup_alpha, cutmix_alpha, op, mode):
    mixer = Mixer(mixup_alpha, cutmix_alpha, mode=mode, num_classes=4, generator=torch.Generator().manual_seed(1))
    draws = [mixer.draw(8, 8, 8) for _ in range(30)]
    assert all(p.op == op for p in draws)
    if mode == 'elem':  # every sample is mixed (prob=1) with that op, up to empty boxes
        ops = [o for p in draws for o in p.ops()]
        assert set(ops) <= {op, 'none'} and ops.count(op) > 0.9 * len(ops)


def test_both_alphas_zero_is_an_error():
    with pytest.raises(MixingError, match='cutmix_alpha'):
        Mixer(mixup_alpha=0.0, cutmix_alpha=0.0)
    Mixer(mixup_alpha=0.0, cutmix_alpha=0.0, cutmix_minmax=(0.2, 0.8))  # minmax turns CutMix on, as in timm


def test_minmax_boxes_are_inside_with_sides_in_range_and_lam_from_area():
    p = draw_minmax_cutmix(5000, 40, 30, (0.2, 0.6), per_sample=True, generator=torch.Generator().manual_seed(2))
    boxes = p.bbox
    hs, ws = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert int(hs.min()) == 8 and int(hs.max()) == 23  # [int(0.2*40), int(0.6*40)) = [8, 24)
    assert int(ws.min()) == 6 and int(ws.max()) == 17  # [6, 18)
    assert bool((boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 40).all() and (boxes[:, 3] <= 30).all())
    torch.testing.assert_close(p.lam, 1 - (hs * ws).float() / 1200)
    # heights and widths are drawn independently and uniformly
    assert stats.chi2_contingency(np.histogram2d(hs.numpy(), ws.numpy(), bins=(16, 12))[0]).pvalue > 0.01
    assert stats.chisquare(np.bincount(hs.numpy() - 8)).pvalue > 0.01
    assert stats.chisquare(np.bincount(ws.numpy() - 6)).pvalue > 0.01
    # placed uniformly where the box fits, the borders included: y0 uniform on 0..40 - h
    assert int(boxes[:, 0].min()) == 0 and bool((boxes[:, 2] == 40).any())
    assert stats.kstest(((boxes[:, 0] + torch.rand(5000, generator=torch.Generator().manual_seed(3)))
                         / (41 - hs)).numpy(), 'uniform').pvalue > 0.01
    # through the Mixer: the label weight is the box's area, even with correct_lam=False (as in timm)
    mixer = Mixer(mixup_alpha=0.0, cutmix_minmax=(0.2, 0.6), correct_lam=False, num_classes=4,
                  generator=torch.Generator().manual_seed(4))
    for _ in range(50):
        q = mixer.draw(4, 40, 30)
        y0, x0, y1, x1 = q.bbox
        assert 8 <= y1 - y0 < 24 and 6 <= x1 - x0 < 18
        assert q.op == 'cutmix' and q.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 1200)


def test_correct_lam_false_keeps_the_drawn_lambda():
    draws = {}
    for correct in (True, False):
        mixer = Mixer(mixup_alpha=0.0, cutmix_alpha=1.0, correct_lam=correct, num_classes=4,
                      generator=torch.Generator().manual_seed(4))
        draws[correct] = [mixer.draw(4, 16, 16) for _ in range(300)]
    differ = 0
    for a, b in zip(draws[True], draws[False]):
        assert a.bbox == b.bbox and torch.equal(a.indices, b.indices)  # the same draw...
        y0, x0, y1, x1 = a.bbox
        assert a.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 256)  # ...weighed by the box's area
        differ += abs(a.lam - b.lam) > 1e-6  # ...or by the drawn lambda, which clipping makes differ
    assert differ > 150
    assert stats.kstest([b.lam for b in draws[False]], 'uniform').pvalue > 0.01  # Beta(1, 1)


def test_elem_switch_apply_is_pixel_exact():
    X, y, idx = batch(n=6, c=2, h=6, w=6)
    lam = torch.tensor([0.75, 0.4, 1.0, 1.0, 0.9, 0.5])
    params = MixParams(
        'mixup_cutmix', idx, lam,
        bbox=torch.tensor([[0, 0, 3, 3], [0, 0, 0, 0], [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 6, 3]]),
        blend=torch.tensor([1.0, 0.4, 1.0, 1.0, 0.9, 1.0]),
    )
    assert params.ops() == ('cutmix', 'mixup', 'none', 'none', 'mixup', 'cutmix')
    for dtype in (torch.float32, torch.float64, torch.float16, torch.uint8):
        Xd = X.to(dtype) if dtype.is_floating_point else (X.abs() * 60).to(dtype)
        for inplace in (False, True):
            src = Xd.clone()
            out = apply(src, params, inplace=inplace)
            assert out.dtype == dtype and (out is src) == inplace
            for i in range(6):
                j = int(idx[i])
                if params.ops()[i] == 'cutmix':
                    y0, x0, y1, x1 = params.bbox[i].tolist()
                    expected = Xd[i].clone()
                    expected[:, y0:y1, x0:x1] = Xd[j][:, y0:y1, x0:x1]
                    assert torch.equal(out[i], expected), 'a CutMix-ed sample copies the box exactly'
                elif params.ops()[i] == 'none':
                    assert torch.equal(out[i], Xd[i])
                elif dtype in (torch.float32, torch.float64):
                    li = float(lam[i])
                    torch.testing.assert_close(out[i], li * Xd[i] + (1 - li) * Xd[j], rtol=0, atol=1e-6)
                else:  # blended in float32 with the formula as written, then cast (integers rounded)
                    mixed = lam[i] * Xd[i].float() + (1 - lam[i]) * Xd[j].float()
                    assert torch.equal(out[i], (mixed if dtype.is_floating_point else mixed.round()).to(dtype))
    expected = lam[:, None] * F.one_hot(y[:6], 4) + (1 - lam[:, None]) * F.one_hot(y[idx], 4)
    torch.testing.assert_close(mix_targets(y, params, 4), expected.float())


def test_label_smoothing_of_dense_targets():
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.25, 0.75, 0.0, 0.0]])
    torch.testing.assert_close(mix_targets(y, None, 4, smoothing=0.1), y * 0.9 + 0.025)
    assert torch.equal(mix_targets(y, None, 4), y)
    half = y.half()
    assert mix_targets(half, None, 4, smoothing=0.1).dtype == torch.float16  # dense targets keep their dtype
    # smoothing applies after mixing: (1 - s) * mixed + s / C, rows still summing to 1
    p = MixParams('mixup', torch.tensor([1, 0]), 0.6, blend=0.6)
    mixed = 0.6 * y + 0.4 * y.flip(0)
    torch.testing.assert_close(mix_targets(y, p, 4, smoothing=0.2), mixed * 0.8 + 0.05)
    torch.testing.assert_close(mix_targets(y, p, 4, smoothing=0.2).sum(1), torch.ones(2))


# ----------------------------------------------------------------------------------------------- bad input

GOOD_X = torch.randn(4, 3, 8, 8)
GOOD_Y = torch.tensor([0, 1, 2, 3])

# (bad arguments, a word the message must name: the argument or the offending value)
BAD = [
    (dict(X=torch.randn(4, 8)), '(4, 8)'),
    (dict(X=[[1.0]]), 'list'),
    (dict(X=torch.zeros(4, 3, 8, 8, dtype=torch.complex64)), 'complex64'),
    (dict(y=torch.tensor([0.0, 1.0, 2.0, 3.0])), 'torch.float32'),
    (dict(y=torch.tensor([0, 1, 2])), 'targets'),
    (dict(y=torch.tensor([0, 1, 5, 2])), 'label 5'),
    (dict(y=torch.zeros(4, 7)), '(4, 7)'),
    (dict(alpha=0.0), 'alpha'),
    (dict(alpha=-1.0), 'alpha'),
    (dict(alpha=True), 'alpha'),
    (dict(lam=1.5), '1.5'),
    (dict(lam=-0.1), '-0.1'),
    (dict(lam='half'), 'half'),
    (dict(lam=float('nan')), 'nan'),
    (dict(lam=torch.tensor([0.5, 0.5, 0.5, 0.5])), "mode='elem'"),
    (dict(lam=torch.tensor([0.5, 0.5, 1.5, 0.5]), mode='elem'), '1.5'),
    (dict(lam=torch.tensor([0.5, 0.5]), mode='elem'), '(2,)'),
    (dict(indices=torch.tensor([0, 1, 1, 2])), 'indices'),
    (dict(indices=torch.tensor([0, 1, 2])), 'indices'),
    (dict(indices='0123'), 'indices'),
    (dict(n_classes=0), 'n_classes'),
    (dict(mode='pixel'), 'pixel'),
    (dict(mode='pair'), 'pair'),
    (dict(generator=np.random.default_rng(0)), 'generator'),
]


@pytest.mark.parametrize('inplace', [False, True])
@pytest.mark.parametrize('bad,names', BAD, ids=[str(sorted(b[0])) + b[1] for b in BAD])
def test_bad_input_is_refused_before_anything_changes(bad, names, inplace):
    kwargs = dict(X=GOOD_X.clone(), y=GOOD_Y.clone(), n_classes=5, alpha=0.2)
    kwargs.update(bad)
    before = kwargs['X'].clone() if isinstance(kwargs['X'], torch.Tensor) else None
    y_before = kwargs['y'].clone()
    with pytest.raises(MixingError) as info:
        mixup_batch(**kwargs, inplace=inplace)
    assert names in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    if before is not None:
        assert torch.equal(kwargs['X'], before), 'a refused batch must be left as it was'
    assert torch.equal(kwargs['y'], y_before)
