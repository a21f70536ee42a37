"""cutmix_batch and the CutMix draws: pixel-exact mixing, exact targets, sampling laws, Composer parity, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from composer_cutmix import MixingError, MixParams, cutmix_batch, mix_targets
from composer_cutmix.mixing import box_masks, draw_cutmix


def reference(X, y, n_classes, bbox, indices):
    """The definition, one sample at a time."""
    y0, x0, y1, x1 = bbox
    out = X.clone()
    for i, j in enumerate(indices.tolist()):
        out[i, ..., y0:y1, x0:x1] = X[j, ..., y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / (X.shape[-2] * X.shape[-1])
    if y.ndim == 1:
        dense = lam * F.one_hot(y, n_classes).double() + (1 - lam) * F.one_hot(y[indices], n_classes).double()
    else:
        dense = lam * y.double() + (1 - lam) * y[indices].double()
    return out, dense.float(), lam


def as_uniform(k, m, seed):
    """``k`` uniform on the integers ``0..m`` -> exactly U(0, 1) after adding U(0, 1) noise and dividing by m + 1."""
    return (k + np.random.default_rng(seed).random(len(k))) / (m + 1)


SHAPES = [(6, 3, 8, 8), (5, 2, 7, 11), (4, 9, 5), (3, 2, 2, 6, 10)]


@pytest.mark.parametrize('shape', SHAPES, ids=str)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.uint8])
def test_pixel_exact_against_the_definition(shape, dtype):
    g = torch.Generator().manual_seed(1)
    X = (torch.rand(shape, generator=g) * 255).to(dtype)
    y = torch.randint(0, 7, (shape[0],), generator=g)
    h, w = shape[-2], shape[-1]
    bbox = (1, 2, h - 1, w)
    indices = torch.randperm(shape[0], generator=g)
    X_keep, y_keep = X.clone(), y.clone()

    Xm, ym = cutmix_batch(X, y, 7, bbox=bbox, indices=indices)

    exp_X, exp_y, lam = reference(X, y, 7, bbox, indices)
    assert Xm.dtype == dtype and torch.equal(Xm, exp_X)
    torch.testing.assert_close(ym, exp_y, rtol=0, atol=1e-6)
    assert ym.shape == (shape[0], 7) and ym.dtype == torch.float32
    assert torch.equal(X, X_keep) and torch.equal(y, y_keep), 'arguments must not be modified by default'
    # Outside the box every pixel is the sample's own; inside, the partner's.
    inside = torch.zeros(h, w, dtype=torch.bool)
    inside[1:h - 1, 2:w] = True
    assert torch.equal(Xm[..., ~inside], X[..., ~inside])
    assert torch.equal(Xm[..., inside], X[indices][..., inside])
    assert lam == pytest.approx(1 - (h - 2) * (w - 2) / (h * w))


def test_label_weights_are_the_area_of_the_actual_box():
    X = torch.zeros(4, 1, 10, 20)
    y = torch.tensor([0, 1, 2, 3])
    _, ym = cutmix_batch(X, y, 4, bbox=(0, 0, 5, 4), indices=torch.tensor([1, 2, 3, 0]))
    lam = 1 - 5 * 4 / 200
    expected = torch.tensor([
        [lam, 1 - lam, 0, 0],
        [0, lam, 1 - lam, 0],
        [0, 0, lam, 1 - lam],
        [1 - lam, 0, 0, lam],
    ])
    torch.testing.assert_close(ym, expected)
    torch.testing.assert_close(ym.sum(1), torch.ones(4))


def test_channels_last_keeps_layout_and_values():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(5, 3, 9, 7, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 3, (5,), generator=g)
    idx = torch.randperm(5, generator=g)
    Xm, _ = cutmix_batch(X, y, 3, bbox=(2, 1, 8, 6), indices=idx)
    assert Xm.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(Xm, reference(X.contiguous(), y, 3, (2, 1, 8, 6), idx)[0])
    Xi, _ = cutmix_batch(X.clone(memory_format=torch.preserve_format), y, 3, bbox=(2, 1, 8, 6), indices=idx,
                         inplace=True)
    assert Xi.is_contiguous(memory_format=torch.channels_last) and torch.equal(Xi, Xm)
    # per-sample boxes keep the layout too
    boxes = torch.tensor([[2, 1, 8, 6]] * 5)
    Xe, _ = cutmix_batch(X, y, 3, bbox=boxes, indices=idx, mode='elem')
    assert Xe.is_contiguous(memory_format=torch.channels_last) and torch.equal(Xe, Xm)


def test_dense_input_targets_are_mixed_alike():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(6, 2, 8, 8, generator=g)
    soft = torch.softmax(torch.randn(6, 4, generator=g), 1)  # e.g. label-smoothed targets
    idx = torch.randperm(6, generator=g)
    _, ym = cutmix_batch(X, soft, 4, bbox=(0, 0, 4, 4), indices=idx)
    torch.testing.assert_close(ym, 0.75 * soft + 0.25 * soft[idx])
    torch.testing.assert_close(ym.sum(1), torch.ones(6))


def test_multilabel_01_targets_are_mixed_as_floats():
    y = torch.tensor([[1, 0, 1], [0, 1, 0]])
    _, ym = cutmix_batch(torch.zeros(2, 1, 4, 4), y, 3, bbox=(0, 0, 2, 4), indices=torch.tensor([1, 0]))
    assert ym.dtype == torch.float32
    torch.testing.assert_close(ym, torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]))


def test_inplace_writes_only_the_box_and_returns_the_same_tensor():
    X = torch.arange(3 * 1 * 6 * 6, dtype=torch.float32).reshape(3, 1, 6, 6)
    y = torch.tensor([0, 1, 2])
    expected, _, _ = reference(X, y, 3, (1, 1, 4, 5), torch.tensor([2, 0, 1]))
    ptr = X.data_ptr()
    Xm, _ = cutmix_batch(X, y, 3, bbox=(1, 1, 4, 5), indices=torch.tensor([2, 0, 1]), inplace=True)
    assert Xm is X and X.data_ptr() == ptr
    assert torch.equal(X, expected)


def test_empty_box_is_a_no_op_with_one_hot_targets():
    X = torch.randn(3, 1, 5, 5)
    y = torch.tensor([0, 2, 1])
    Xm, ym = cutmix_batch(X, y, 3, bbox=(2, 2, 2, 5), indices=torch.tensor([1, 2, 0]))
    assert torch.equal(Xm, X) and Xm is not X
    torch.testing.assert_close(ym, F.one_hot(y, 3).float())


def test_composer_method_card_call_works_verbatim():
    X = torch.randn(4, 3, 16, 16)
    y = torch.randint(0, 1000, (4,))
    X_cutmix, y_cutmix = cutmix_batch(X=X, y=y, n_classes=1000, alpha=1.0)
    assert X_cutmix.shape == X.shape and y_cutmix.shape == (4, 1000)
    torch.testing.assert_close(y_cutmix.sum(1), torch.ones(4))


@pytest.mark.parametrize('shape,bbox', [((8, 3, 16, 16), (3, 5, 11, 12)), ((5, 1, 9, 13), (0, 4, 9, 13)),
                                        ((4, 2, 6, 6), (2, 2, 2, 2))])
def test_parity_with_composer(shape, bbox):
    from composer.functional import cutmix_batch as composer_cutmix_batch
    from composer.loss.utils import ensure_targets_one_hot

    g = torch.Generator().manual_seed(4)
    X = torch.randn(shape, generator=g)
    y = torch.randint(0, 10, (shape[0],), generator=g)
    idx = torch.randperm(shape[0], generator=g)

    Xc, y_perm, lam_c, _ = composer_cutmix_batch(X, y, alpha=1.0, bbox=bbox, indices=idx)
    logits = torch.zeros(shape[0], 10)
    yc = lam_c * ensure_targets_one_hot(logits, y) + (1 - lam_c) * ensure_targets_one_hot(logits, y_perm)

    Xm, ym = cutmix_batch(X, y, 10, bbox=bbox, indices=idx)
    assert torch.equal(Xm, Xc)
    torch.testing.assert_close(ym, yc.float())


# ---------------------------------------------------------------------------------------------- the draws


def test_sampling_follows_the_paper():
    # Paper sampling, alpha=1: side fraction r = sqrt(1 - lam) with 1 - lam ~ U(0, 1), centre uniform, box clipped.
    # Per axis the expected clipped length is r - r^2/4, so E[area] = E[(r - r^2/4)^2] = 1/2 - 1/5 + 1/48.
    h = w = 224
    p = draw_cutmix(4000, h, w, 1.0, per_sample=True, generator=torch.Generator().manual_seed(5))
    assert p.op == 'cutmix' and p.per_sample and p.blend is None
    y0, x0, y1, x1 = p.bbox.numpy().T
    assert ((0 <= y0) & (y0 <= y1) & (y1 <= h) & (0 <= x0) & (x0 <= x1) & (x1 <= w)).all()
    areas = (y1 - y0) * (x1 - x0) / (h * w)
    assert areas.mean() == pytest.approx(0.5 - 0.2 + 1 / 48, abs=0.013)  # about 3.5 standard errors
    np.testing.assert_allclose(p.lam.numpy(), 1 - areas, rtol=0, atol=1e-6)  # correct_lam: the box's weight
    # centre uniform: a box touches the top border about as often as the bottom one, and both happen
    assert stats.binomtest(int((y0 == 0).sum()), int((y0 == 0).sum() + (y1 == h).sum()), 0.5).pvalue > 0.01
    assert 200 < (y0 == 0).sum() < 4000 - 200
    # the shared draw (the paper's: one box for the batch) follows the same law
    g = torch.Generator().manual_seed(6)
    shared = [draw_cutmix(2, h, w, 1.0, generator=g) for _ in range(400)]
    assert all(not s.per_sample and isinstance(s.bbox, tuple) and isinstance(s.lam, float) for s in shared)
    shared_areas = np.array([(b[2] - b[0]) * (b[3] - b[1]) / (h * w) for b in (s.bbox for s in shared)])
    np.testing.assert_allclose([s.lam for s in shared], 1 - shared_areas, rtol=0, atol=1e-6)
    assert stats.ks_2samp(shared_areas, areas).pvalue > 0.01


def test_correct_lam_false_keeps_the_drawn_beta_lambda_and_the_same_box():
    # The same generator state gives the same box and permutation either way; only the label weight differs.
    kept = draw_cutmix(2000, 16, 16, 1.0, per_sample=True, correct_lam=False, generator=torch.Generator().manual_seed(4))
    area = draw_cutmix(2000, 16, 16, 1.0, per_sample=True, generator=torch.Generator().manual_seed(4))
    assert torch.equal(kept.bbox, area.bbox) and torch.equal(kept.indices, area.indices)
    b = area.bbox
    torch.testing.assert_close(area.lam, 1 - ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).float() / 256)
    assert stats.kstest(kept.lam.numpy(), 'uniform').pvalue > 0.01  # Beta(1, 1)
    assert float((kept.lam - area.lam).abs().gt(1e-6).float().mean()) > 0.5  # clipping and flooring differ


def test_box_sides_are_the_drawn_fraction_of_the_image_sides():
    # cut = floor(size * sqrt(1 - lam)) (lam drawn, before any correction); the box is 2 * (cut // 2) long after
    # the centre rule unless clipped, and never longer.
    p = draw_cutmix(3000, 50, 80, 1.0, per_sample=True, correct_lam=False, generator=torch.Generator().manual_seed(6))
    r = torch.sqrt(1 - p.lam.double())
    cut_h, cut_w = (50 * r).long(), (80 * r).long()
    hs, ws = p.bbox[:, 2] - p.bbox[:, 0], p.bbox[:, 3] - p.bbox[:, 1]
    assert bool((hs <= cut_h + 1).all() and (ws <= cut_w + 1).all())  # +1: float32 rounding of the stored lam
    unclipped = (p.bbox[:, 0] > 0) & (p.bbox[:, 2] < 50) & (p.bbox[:, 1] > 0) & (p.bbox[:, 3] < 80)
    assert int(unclipped.sum()) > 300
    assert bool(((hs - 2 * (cut_h // 2))[unclipped].abs() <= 1).all())
    assert bool(((ws - 2 * (cut_w // 2))[unclipped].abs() <= 1).all())


def test_inside_placement_keeps_the_whole_box_inside_with_the_image_aspect_ratio():
    h, w = 100, 200
    p = draw_cutmix(3000, h, w, 1.0, placement='inside', per_sample=True, correct_lam=False,
                    generator=torch.Generator().manual_seed(6))
    y0, x0, y1, x1 = p.bbox.unbind(1)
    assert bool(((0 <= y0) & (y0 <= y1) & (y1 <= h) & (0 <= x0) & (x0 <= x1) & (x1 <= w)).all())
    # never clipped: both sides are the drawn fraction of the image sides, floored
    r = torch.sqrt(1 - p.lam.double())
    assert bool(((y1 - y0) - (h * r).floor()).abs().le(1).all() and ((x1 - x0) - (w * r).floor()).abs().le(1).all())
    # placed uniformly among the positions where it fits: y0 uniform on 0..h - cut_h
    room = (h - (y1 - y0)).numpy()
    wide = room >= 20
    assert stats.kstest(as_uniform(y0.numpy()[wide], room[wide], 0), 'uniform').pvalue > 0.01
    assert stats.kstest(p.lam.numpy(), 'uniform').pvalue > 0.01  # Beta(1, 1)


@pytest.mark.parametrize('alpha', [0.2, 2.0])
def test_alpha_controls_the_beta_law(alpha):
    p = draw_cutmix(3000, 64, 64, alpha, per_sample=True, correct_lam=False,
                    generator=torch.Generator().manual_seed(7))
    assert stats.kstest(p.lam.numpy(), stats.beta(alpha, alpha).cdf).pvalue > 0.01
    # and the shared draw (one lam for the batch) follows the same law
    g = torch.Generator().manual_seed(8)
    shared = [draw_cutmix(2, 64, 64, alpha, correct_lam=False, generator=g).lam for _ in range(300)]
    assert stats.kstest(shared, stats.beta(alpha, alpha).cdf).pvalue > 0.01


def test_generator_pins_the_draw():
    X = torch.randn(8, 3, 12, 12)
    y = torch.randint(0, 4, (8,))
    a = cutmix_batch(X, y, 4, generator=torch.Generator().manual_seed(11))
    b = cutmix_batch(X, y, 4, generator=torch.Generator().manual_seed(11))
    c = cutmix_batch(X, y, 4, generator=torch.Generator().manual_seed(12))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not (torch.equal(a[0], c[0]) and torch.equal(a[1], c[1]))
    torch.manual_seed(3)
    d = cutmix_batch(X, y, 4)
    torch.manual_seed(3)
    e = cutmix_batch(X, y, 4)
    assert torch.equal(d[0], e[0]) and torch.equal(d[1], e[1])
    # the generated batch is the generator's draw applied
    p = draw_cutmix(8, 12, 12, 1.0, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a[0], reference(X, y, 4, p.bbox, p.indices)[0])
    torch.testing.assert_close(a[1], mix_targets(y, p, 4))


def test_indices_accept_a_list_and_pin_the_partner():
    X = torch.arange(3, dtype=torch.float32).reshape(3, 1, 1, 1).expand(3, 1, 2, 2).contiguous()
    Xm, _ = cutmix_batch(X, torch.tensor([0, 1, 2]), 3, bbox=(0, 0, 1, 1), indices=[2, 0, 1])
    assert Xm[:, 0, 0, 0].tolist() == [2.0, 0.0, 1.0]
    assert Xm[:, 0, 1, 1].tolist() == [0.0, 1.0, 2.0]


def test_a_pinned_box_with_drawn_indices_and_the_reverse():
    g = torch.Generator().manual_seed(12)
    X = torch.randn(6, 2, 8, 8, generator=g)
    y = torch.arange(6)
    # what is not pinned is the generator's draw
    drawn = draw_cutmix(6, 8, 8, 1.0, generator=torch.Generator().manual_seed(1))
    Xm, ym = cutmix_batch(X, y, 6, bbox=(0, 0, 4, 8), generator=torch.Generator().manual_seed(1))
    exp_X, exp_y, _ = reference(X, y, 6, (0, 0, 4, 8), drawn.indices)
    assert torch.equal(Xm, exp_X)
    torch.testing.assert_close(ym, exp_y)
    idx = torch.tensor([5, 4, 3, 2, 1, 0])
    Xm, ym = cutmix_batch(X, y, 6, indices=idx, generator=torch.Generator().manual_seed(1))
    exp_X, exp_y, _ = reference(X, y, 6, drawn.bbox, idx)
    assert torch.equal(Xm, exp_X)
    torch.testing.assert_close(ym, exp_y)


# ------------------------------------------------------------------------------------------------ elem mode


def test_elem_mode_pixel_exact_with_pinned_boxes():
    g = torch.Generator().manual_seed(8)
    X = torch.randn(3, 2, 6, 7, generator=g)
    y = torch.tensor([0, 1, 2])
    boxes = torch.tensor([[0, 0, 3, 3], [1, 2, 6, 7], [2, 2, 2, 5]])
    idx = torch.tensor([1, 2, 0])
    for dtype in (torch.float32, torch.uint8):
        Xd = X.to(dtype) if dtype.is_floating_point else (X.abs() * 60).to(dtype)
        Xm, ym = cutmix_batch(Xd, y, 3, bbox=boxes, indices=idx, mode='elem')
        for i in range(3):
            exp, _, _ = reference(Xd, y, 3, tuple(boxes[i].tolist()), idx)
            assert torch.equal(Xm[i], exp[i])
        lam = torch.tensor([1 - 9 / 42, 1 - 25 / 42, 1.0])
        expected = lam[:, None] * F.one_hot(y, 3) + (1 - lam[:, None]) * F.one_hot(y[idx], 3)
        torch.testing.assert_close(ym, expected.float())


def test_elem_mode_draws_independent_boxes():
    p = draw_cutmix(64, 32, 32, 1.0, per_sample=True, generator=torch.Generator().manual_seed(9))
    assert p.per_sample and p.bbox.shape == (64, 4) and p.lam.shape == (64,) and p.indices.shape == (64,)
    assert torch.equal(p.indices.sort().values, torch.arange(64))
    assert len({tuple(b) for b in p.bbox.tolist()}) > 50
    area = (p.bbox[:, 2] - p.bbox[:, 0]) * (p.bbox[:, 3] - p.bbox[:, 1])
    torch.testing.assert_close(p.lam, 1 - area.float() / 1024)
    torch.testing.assert_close(box_masks(p.bbox, 32, 32).flatten(1).sum(1), area)
    # each sample's box in cutmix_batch(mode='elem') is its own draw
    X = torch.randn(64, 1, 32, 32)
    Xm, _ = cutmix_batch(X, torch.zeros(64, dtype=torch.long), 1, mode='elem',
                         generator=torch.Generator().manual_seed(9))
    for i in range(0, 64, 7):
        assert torch.equal(Xm[i], reference(X, torch.zeros(64, dtype=torch.long), 1, p.bbox[i].tolist(),
                                            p.indices)[0][i])


def test_mask_targets_get_the_same_box():
    g = torch.Generator().manual_seed(10)
    X = torch.randn(4, 3, 8, 8, generator=g)
    m = torch.randint(0, 5, (4, 8, 8), generator=g)
    idx = torch.tensor([3, 2, 1, 0])
    Xm, mm = cutmix_batch(X, m, 5, bbox=(2, 3, 6, 8), indices=idx, target_type='mask')
    expected_m = m.clone()
    expected_m[:, 2:6, 3:8] = m[idx][:, 2:6, 3:8]
    assert torch.equal(mm, expected_m) and mm.dtype == m.dtype
    assert torch.equal(Xm, reference(X, torch.zeros(4, dtype=torch.long), 5, (2, 3, 6, 8), idx)[0])


def test_mix_targets_per_sample_lam_and_unmixed():
    y = torch.tensor([0, 1])
    lam = torch.tensor([0.25, 1.0])
    out = mix_targets(y, MixParams('mixup', torch.tensor([1, 0]), lam, blend=lam), 2)
    torch.testing.assert_close(out, torch.tensor([[0.25, 0.75], [0.0, 1.0]]))
    # no draw: one-hot (smoothed) targets, float32 unless asked otherwise
    out = mix_targets(y, None, 3, smoothing=0.3)
    torch.testing.assert_close(out, torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]]))
    assert mix_targets(y, None, 3, dtype=torch.float64).dtype == torch.float64


# ------------------------------------------------------------------------------------------------ bad input

GOOD_X = torch.randn(4, 3, 8, 8)
GOOD_Y = torch.tensor([0, 1, 2, 3])

# (bad arguments, a word the message must name: the argument or the offending value)
BAD = [
    (dict(X=torch.randn(4, 8)), '(4, 8)'),
    (dict(X=[[1.0]]), 'list'),
    (dict(X=torch.zeros(4, 3, 8, 8, dtype=torch.bool)), 'torch.bool'),
    (dict(X=torch.zeros(0, 3, 8, 8), y=torch.zeros(0, dtype=torch.long)), '(0, 3, 8, 8)'),
    (dict(y=torch.tensor([0.0, 1.0, 2.0, 3.0])), 'torch.float32'),
    (dict(y=torch.tensor([0, 1, 2])), 'targets'),
    (dict(y=torch.zeros(4, 1, 1, dtype=torch.long)), '(4, 1, 1)'),
    (dict(y=torch.zeros(4, 7)), '(4, 7)'),
    (dict(y=torch.tensor([0, 1, 5, 2])), 'label 5'),
    (dict(y=torch.tensor([0, -1, 2, 3])), 'label -1'),
    (dict(y=torch.zeros(4, 8, 7, dtype=torch.long), target_type='mask'), '(4, 8, 7)'),
    (dict(alpha=0.0), 'alpha'),
    (dict(alpha=-1.0), 'alpha'),
    (dict(alpha=float('nan')), 'alpha'),
    (dict(alpha='1'), 'alpha'),
    (dict(n_classes=0), 'n_classes'),
    (dict(n_classes=5.0), 'n_classes'),
    (dict(bbox=(0, 0, 9, 4)), '(0, 0, 9, 4)'),
    (dict(bbox=(5, 0, 2, 4)), '(5, 0, 2, 4)'),
    (dict(bbox=(-1, 0, 2, 4)), '(-1, 0, 2, 4)'),
    (dict(bbox=(0, 0, 2)), 'bbox'),
    (dict(bbox=(0.0, 0, 2, 2)), 'bbox'),
    (dict(bbox=(0, 0, 2, 2), mode='elem'), 'bbox'),
    (dict(bbox=torch.tensor([[0, 0, 2, 2]] * 3 + [[0, 0, 9, 2]]), mode='elem'), 'row 3'),
    (dict(indices=torch.tensor([0, 1, 2])), 'indices'),
    (dict(indices=torch.tensor([0, 1, 1, 2])), 'indices'),
    (dict(indices=torch.tensor([0.0, 1.0, 2.0, 3.0])), 'indices'),
    (dict(mode='pixel'), 'pixel'),
    (dict(mode='pair'), 'pair'),
    (dict(target_type='boxes'), 'boxes'),
    (dict(uniform_sampling=True, keep_box_inside=True), 'keep_box_inside'),
    (dict(uniform_sampling=1), 'uniform_sampling'),
    (dict(generator=np.random.default_rng(0)), 'generator'),
]


@pytest.mark.parametrize('inplace', [False, True])
@pytest.mark.parametrize('bad,names', BAD, ids=[str(sorted(b[0])) + b[1] for b in BAD])
def test_bad_input_is_refused_before_anything_changes(bad, names, inplace):
    kwargs = dict(X=GOOD_X.clone(), y=GOOD_Y.clone(), n_classes=5, alpha=1.0)
    kwargs.update(bad)
    before = kwargs['X'].clone() if isinstance(kwargs['X'], torch.Tensor) else None
    y_before = kwargs['y'].clone()
    with pytest.raises(MixingError) as info:
        cutmix_batch(**kwargs, inplace=inplace)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert names in str(info.value)
    if before is not None:
        assert torch.equal(kwargs['X'], before), 'a refused batch must be left as it was'
    assert torch.equal(kwargs['y'], y_before)
