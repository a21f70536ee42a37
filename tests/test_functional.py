"""The functional form: pixel-exact mixing, exact targets, sampling law, Composer parity and every bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from composer_cutmix import cutmix_batch, mix_targets, sample_params, sample_params_elem
from composer_cutmix.functional import box_masks


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
    assert torch.equal(Xm, X)
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


def test_sampling_follows_the_paper():
    # Paper sampling, alpha=1: side fraction r = sqrt(1 - lam) with 1 - lam ~ U(0, 1), centre uniform, box clipped.
    # Per axis the expected clipped length is r - r^2/4, so E[area] = E[(r - r^2/4)^2] = 1/2 - 1/5 + 1/48.
    g = torch.Generator().manual_seed(5)
    h = w = 224
    draws = [sample_params(2, h, w, 1.0, generator=g) for _ in range(4000)]
    areas = np.array([(p.bbox[2] - p.bbox[0]) * (p.bbox[3] - p.bbox[1]) / (h * w) for p in draws])
    assert areas.mean() == pytest.approx(0.5 - 0.2 + 1 / 48, abs=0.015)
    assert all(1 - p.lam == pytest.approx(a) for p, a in zip(draws, areas))
    for p in draws:
        y0, x0, y1, x1 = p.bbox
        assert 0 <= y0 <= y1 <= h and 0 <= x0 <= x1 <= w


def test_keep_box_inside_keeps_the_whole_box_inside_with_the_image_aspect_ratio():
    g = torch.Generator().manual_seed(6)
    h, w = 100, 200
    lams, touches = [], 0
    for _ in range(3000):
        p = sample_params(2, h, w, 1.0, keep_box_inside=True, generator=g)
        y0, x0, y1, x1 = p.bbox
        assert 0 <= y0 <= y1 <= h and 0 <= x0 <= x1 <= w
        # never clipped: both sides are the drawn fraction of the image sides
        r = math.sqrt((y1 - y0) * (x1 - x0) / (h * w))
        assert (y1 - y0) == pytest.approx(h * r, abs=1.5) and (x1 - x0) == pytest.approx(w * r, abs=1.5)
        touches += y0 == 0 or x0 == 0
        lams.append(p.lam)
    lams = np.array(lams)
    # lam ~ Beta(1, 1) = U(0, 1) up to flooring the sides (which makes the box slightly smaller)
    assert lams.mean() == pytest.approx(0.5, abs=0.03)
    assert (lams < 0.25).mean() == pytest.approx(0.25, abs=0.03)
    assert touches < 3000 * 0.5


@pytest.mark.parametrize('alpha,expected_var', [(0.2, 1 / (4 * 1.4)), (2.0, 1 / (4 * 5.0))])
def test_alpha_controls_the_beta_law(alpha, expected_var):
    # Var[Beta(a, a)] = 1 / (4 (2a + 1)); measured on large images where flooring is negligible.
    g = torch.Generator().manual_seed(7)
    lams = np.array([sample_params(2, 512, 512, alpha, keep_box_inside=True, generator=g).lam for _ in range(3000)])
    assert lams.mean() == pytest.approx(0.5, abs=0.03)
    assert lams.var() == pytest.approx(expected_var, rel=0.12)


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


def test_indices_accept_a_list_and_pin_the_partner():
    X = torch.arange(3, dtype=torch.float32).reshape(3, 1, 1, 1).expand(3, 1, 2, 2).contiguous()
    Xm, _ = cutmix_batch(X, torch.tensor([0, 1, 2]), 3, bbox=(0, 0, 1, 1), indices=[2, 0, 1])
    assert Xm[:, 0, 0, 0].tolist() == [2.0, 0.0, 1.0]


# ------------------------------------------------------------------------------------------------ elem mode


def test_elem_mode_pixel_exact_with_pinned_boxes():
    g = torch.Generator().manual_seed(8)
    X = torch.randn(3, 2, 6, 7, generator=g)
    y = torch.tensor([0, 1, 2])
    boxes = torch.tensor([[0, 0, 3, 3], [1, 2, 6, 7], [2, 2, 2, 5]])
    idx = torch.tensor([1, 2, 0])
    Xm, ym = cutmix_batch(X, y, 3, bbox=boxes, indices=idx, mode='elem')
    for i in range(3):
        exp, _, _ = reference(X, y, 3, tuple(boxes[i].tolist()), idx)
        assert torch.equal(Xm[i], exp[i])
    lam = torch.tensor([1 - 9 / 42, 1 - 25 / 42, 1.0])
    expected = lam[:, None] * F.one_hot(y, 3) + (1 - lam[:, None]) * F.one_hot(y[idx], 3)
    torch.testing.assert_close(ym, expected.float())


def test_elem_mode_draws_independent_boxes():
    p = sample_params_elem(64, 32, 32, 1.0, generator=torch.Generator().manual_seed(9))
    assert p.bboxes.shape == (64, 4) and p.lam.shape == (64,)
    assert len({tuple(b) for b in p.bboxes.tolist()}) > 50
    area = (p.bboxes[:, 2] - p.bboxes[:, 0]) * (p.bboxes[:, 3] - p.bboxes[:, 1])
    torch.testing.assert_close(p.lam, 1 - area.float() / 1024)
    masks = box_masks(p.bboxes, 32, 32)
    torch.testing.assert_close(masks.flatten(1).sum(1), area)


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


def test_mix_targets_per_sample_lam():
    y = torch.tensor([0, 1])
    out = mix_targets(y, torch.tensor([0.25, 1.0]), torch.tensor([1, 0]), 2)
    torch.testing.assert_close(out, torch.tensor([[0.25, 0.75], [0.0, 1.0]]))


# ------------------------------------------------------------------------------------------------ bad input

GOOD_X = torch.randn(4, 3, 8, 8)
GOOD_Y = torch.tensor([0, 1, 2, 3])

BAD = [
    (dict(X=torch.randn(4, 8)), ValueError, 'at least 3 dims'),
    (dict(X=[[1.0]]), TypeError, 'torch.Tensor'),
    (dict(X=torch.zeros(0, 3, 8, 8), y=torch.zeros(0, dtype=torch.long)), ValueError, 'empty'),
    (dict(y=torch.tensor([0.0, 1.0, 2.0, 3.0])), TypeError, 'integer class labels'),
    (dict(y=torch.tensor([0, 1, 2])), ValueError, '3 labels but the input batch has 4'),
    (dict(y=torch.zeros(4, 1, 1, dtype=torch.long)), ValueError, 'shape (N,)'),
    (dict(y=torch.zeros(4, 7)), ValueError, '(N, n_classes) = (4, 5)'),
    (dict(y=torch.tensor([0, 1, 5, 2])), ValueError, 'found label 5'),
    (dict(y=torch.tensor([0, -1, 2, 3])), ValueError, 'found label -1'),
    (dict(alpha=0.0), ValueError, 'alpha must be a finite number > 0'),
    (dict(alpha=-1.0), ValueError, 'alpha must be'),
    (dict(alpha=float('nan')), ValueError, 'alpha must be'),
    (dict(n_classes=0), ValueError, 'n_classes must be >= 1'),
    (dict(n_classes=5.0), TypeError, 'n_classes must be an integer'),
    (dict(bbox=(0, 0, 9, 4)), ValueError, 'not inside the 8x8 image'),
    (dict(bbox=(5, 0, 2, 4)), ValueError, 'not inside'),
    (dict(bbox=(-1, 0, 2, 4)), ValueError, 'not inside'),
    (dict(bbox=(0, 0, 2)), TypeError, 'sequence (y0, x0, y1, x1)'),
    (dict(bbox=(0.0, 0, 2, 2)), TypeError, 'integer'),
    (dict(indices=torch.tensor([0, 1, 2])), ValueError, 'shape (4,)'),
    (dict(indices=torch.tensor([0, 1, 1, 2])), ValueError, 'permutation of range(4)'),
    (dict(indices=torch.tensor([0.0, 1.0, 2.0, 3.0])), TypeError, 'integers'),
    (dict(mode='pixel'), ValueError, "mode must be 'batch'"),
    (dict(target_type='boxes'), ValueError, "target_type must be 'labels'"),
]


@pytest.mark.parametrize('inplace', [False, True])
@pytest.mark.parametrize('bad,exc,message', BAD, ids=[b[2][:30] for b in BAD])
def test_bad_input_is_refused_before_anything_changes(bad, exc, message, inplace):
    kwargs = dict(X=GOOD_X.clone(), y=GOOD_Y.clone(), n_classes=5, alpha=1.0)
    kwargs.update({k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in bad.items()})
    before = kwargs['X'].clone() if isinstance(kwargs['X'], torch.Tensor) else None
    with pytest.raises(exc, match=None) as info:
        cutmix_batch(**kwargs, inplace=inplace)
    assert message in str(info.value)
    if before is not None:
        assert torch.equal(kwargs['X'], before), 'a refused batch must be left as it was'


def test_cpu_generator_required():
    class FakeCudaGenerator:
        device = torch.device('cuda')

    with pytest.raises(TypeError, match='CPU torch.Generator'):
        sample_params(2, 4, 4, generator=FakeCudaGenerator())
