"""resizemix_batch, fmix_batch and their draws: pixel-exact mixing, exact targets, the papers' laws, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from composer_cutmix import MixingError, fmix_batch, resizemix_batch
from composer_cutmix.mixing import INTERPOLATIONS, apply, beta, draw_fmix, draw_resizemix, low_freq_image

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8]


def images(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g, dtype=torch.float64).mul_(10).to(dtype)
    return torch.randint(0, 256, shape, generator=g, dtype=dtype)


def shrunk(X, size, mode):
    """The definition: each image resized in float32 (float64 in its own precision), integers rounded, cast back."""
    kwargs = {'align_corners': False} if mode in ('bilinear', 'bicubic') else {}
    x = X if X.dtype == torch.float64 else X.float()
    out = F.interpolate(x.reshape(X.shape[0], -1, *X.shape[-2:]), size=size, mode=mode, **kwargs)
    if not X.dtype.is_floating_point:
        out = out.round().clamp(0, 255)
    return out.to(X.dtype).reshape(*X.shape[:-2], *size)


def same_bits(a, b):
    """Equal values and, for floats, equal signs of zero."""
    return torch.equal(a, b) and (not a.dtype.is_floating_point or torch.equal(a.signbit(), b.signbit()))


def edges(mask):
    """Neighbouring pixels (horizontal and vertical) where a binary mask changes."""
    return int((mask[1:] != mask[:-1]).sum() + (mask[:, 1:] != mask[:, :-1]).sum())


# ------------------------------------------------------------------------------------------------- ResizeMix


@pytest.mark.parametrize('shape', [(5, 3, 12, 10), (4, 9, 7), (3, 2, 2, 8, 9)], ids=str)
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
def test_resizemix_box_holds_the_shrunk_partner_and_nothing_else_changes(shape, dtype):
    X = images(shape, dtype)
    idx = torch.roll(torch.arange(shape[0]), 1)
    y = torch.arange(shape[0])
    bbox = (2, 1, 8, 6)  # 6 x 5
    for mode in INTERPOLATIONS:
        before = X.clone()
        Xm, _ = resizemix_batch(X, y, shape[0], bbox=bbox, indices=idx, interpolation=mode)
        assert torch.equal(X, before), 'out of place must leave the input alone'
        inside = torch.zeros(shape[-2:], dtype=torch.bool)
        inside[2:8, 1:6] = True
        assert torch.equal(Xm[..., ~inside], X[..., ~inside]), mode
        assert torch.equal(Xm[..., 2:8, 1:6], shrunk(X[idx], (6, 5), mode)), mode
        Xi = X.clone()
        out, _ = resizemix_batch(Xi, y, shape[0], bbox=bbox, indices=idx, interpolation=mode, inplace=True)
        assert out is Xi and torch.equal(Xi, Xm), mode


@pytest.mark.parametrize('dtype', [torch.float32, torch.uint8], ids=str)
def test_resizemix_equals_interpolate_of_the_permuted_batch_and_keeps_channels_last(dtype):
    X = images((6, 3, 16, 20), dtype).contiguous(memory_format=torch.channels_last)
    idx = torch.tensor([3, 0, 5, 1, 2, 4])
    Xm, _ = resizemix_batch(X, torch.zeros(6, dtype=torch.long), 2, bbox=(3, 4, 13, 16), indices=idx)
    assert Xm.is_contiguous(memory_format=torch.channels_last)
    expected = F.interpolate(X[idx].float(), size=(10, 12), mode='bilinear', align_corners=False)
    if dtype == torch.uint8:
        expected = expected.round().clamp(0, 255)
    assert torch.equal(Xm[..., 3:13, 4:16], expected.to(dtype))
    Xi = X.clone()
    resizemix_batch(Xi, torch.zeros(6, dtype=torch.long), 2, bbox=(3, 4, 13, 16), indices=idx, inplace=True)
    assert Xi.is_contiguous(memory_format=torch.channels_last) and torch.equal(Xi, Xm)


def test_resizemix_targets_weigh_the_box_area():
    y = torch.tensor([0, 1, 2, 3])
    idx = torch.tensor([1, 2, 3, 0])
    _, ym = resizemix_batch(torch.rand(4, 1, 8, 10), y, 4, bbox=(0, 2, 4, 7), indices=idx)
    lam = 1 - 4 * 5 / 80
    expected = lam * F.one_hot(y, 4).double() + (1 - lam) * F.one_hot(y[idx], 4).double()
    assert torch.equal(ym, expected.float())
    p = draw_resizemix(4, 8, 10, generator=torch.Generator().manual_seed(3))
    _, ym = resizemix_batch(torch.rand(4, 1, 8, 10), y, 4, generator=torch.Generator().manual_seed(3))
    y0, x0, y1, x1 = p.bbox
    assert p.lam == 1 - (y1 - y0) * (x1 - x0) / 80
    moved = p.indices != torch.arange(4)  # a self-paired image keeps its one-hot target
    assert bool(moved.any()) and torch.equal(ym[moved, y[moved]], torch.full((int(moved.sum()),), p.lam))
    assert torch.equal(ym[~moved], F.one_hot(y[~moved], 4).float())


def test_resizemix_side_ratio_is_uniform_over_scale():
    g = torch.Generator().manual_seed(0)
    hs, ws = [], []
    for _ in range(1500):
        y0, x0, y1, x1 = draw_resizemix(2, 100, 50, (0.1, 0.8), generator=g).bbox
        assert 0 <= y0 < y1 <= 100 and 0 <= x0 < x1 <= 50  # the whole box fits
        hs.append(y1 - y0)
        ws.append(x1 - x0)
    hs, ws = np.array(hs), np.array(ws)
    # h = floor(100 tau) is uniform on 10..79, so h + U(0, 1) over 100 is exactly U(0.1, 0.8)
    assert stats.kstest((hs + np.random.default_rng(0).random(len(hs))) / 100, stats.uniform(0.1, 0.7).cdf).pvalue > 1e-3
    assert hs.min() == 10 and hs.max() == 79
    assert np.all(np.abs(hs / 100 - ws / 50) < 1 / 50)  # one tau for both sides


def test_resizemix_positions_are_uniform_over_every_place_the_box_fits():
    g = torch.Generator().manual_seed(1)
    rows, cols = [], []
    for _ in range(1800):
        y0, x0, y1, x1 = draw_resizemix(2, 10, 8, (0.5, 0.5), generator=g).bbox
        assert (y1 - y0, x1 - x0) == (5, 4)
        rows.append(y0)
        cols.append(x0)
    for pos, places in ((rows, 6), (cols, 5)):  # y0 in [0, 10 - 5], x0 in [0, 8 - 4], both ends included
        counts = np.bincount(pos, minlength=places)
        assert len(counts) == places and counts.min() > 0
        assert stats.chisquare(counts).pvalue > 1e-3, counts


def test_resizemix_self_paired_image_gets_a_shrunk_copy_of_itself_and_keeps_its_label():
    X = images((3, 2, 8, 8), torch.float32)
    y = torch.tensor([2, 0, 1])
    idx = torch.tensor([0, 2, 1])  # sample 0 is paired with itself
    Xm, ym = resizemix_batch(X, y, 3, bbox=(4, 4, 8, 8), indices=idx)
    assert torch.equal(Xm[0, :, 4:, 4:], shrunk(X[:1], (4, 4), 'bilinear')[0])
    assert not torch.equal(Xm[0], X[0])
    assert torch.equal(ym[0], F.one_hot(y[0], 3).float())


def test_resizemix_batch_of_one_passes_through_with_one_hot_targets():
    X = images((1, 3, 8, 8), torch.float32)
    Xm, ym = resizemix_batch(X, torch.tensor([2]), 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(Xm, X)
    assert torch.equal(ym, F.one_hot(torch.tensor([2]), 4).float())


def test_draws_are_reproducible_from_the_generator():
    def draws(seed):
        g = torch.Generator().manual_seed(seed)
        return [draw_resizemix(6, 16, 16, generator=g), draw_fmix(6, 16, 16, generator=g)]

    a, b, c = draws(5), draws(5), draws(6)
    assert a[0].bbox == b[0].bbox and a[0].lam == b[0].lam and torch.equal(a[0].indices, b[0].indices)
    assert a[1].lam == b[1].lam and torch.equal(a[1].mask, b[1].mask) and torch.equal(a[1].indices, b[1].indices)
    assert a[0].bbox != c[0].bbox or not torch.equal(a[1].mask, c[1].mask)
    X, y = torch.rand(6, 3, 16, 16), torch.arange(6)
    for fn in (resizemix_batch, fmix_batch):
        one = fn(X, y, 6, generator=torch.Generator().manual_seed(5))
        two = fn(X, y, 6, generator=torch.Generator().manual_seed(5))
        assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])


RESIZEMIX_BAD = [
    (dict(scale=(0.0, 0.5)), 'scale'),
    (dict(scale=(0.6, 0.5)), '(0.6, 0.5)'),
    (dict(scale=(0.1, 1.5)), '(0.1, 1.5)'),
    (dict(scale=0.5), 'scale'),
    (dict(scale=(0.1,)), 'scale'),
    (dict(scale=('0.1', '0.8')), 'scale'),
    (dict(interpolation='linear'), 'linear'),
    (dict(interpolation=None), 'interpolation'),
    (dict(bbox=(0, 0, 9, 4)), '(0, 0, 9, 4)'),
    (dict(bbox=(0, 0, 2)), 'bbox'),
    (dict(indices=torch.tensor([0, 1, 1, 2])), 'indices'),
    (dict(n_classes=0), 'n_classes'),
    (dict(y=torch.tensor([0, 1, 5, 2])), 'label 5'),
    (dict(generator=np.random.default_rng(0)), 'generator'),
]

FMIX_BAD = [
    (dict(alpha=0.0), 'alpha'),
    (dict(alpha=float('nan')), 'alpha'),
    (dict(decay_power=0.0), 'decay_power'),
    (dict(decay_power=-3), 'decay_power'),
    (dict(decay_power=float('inf')), 'decay_power'),
    (dict(decay_power='3'), 'decay_power'),
    (dict(mask=torch.ones(8, 7, dtype=torch.bool)), '(8, 7)'),
    (dict(mask=torch.ones(4, 8, 8, dtype=torch.bool)), '(4, 8, 8)'),
    (dict(mask=torch.full((8, 8), 0.5)), '0.5'),
    (dict(mask=torch.full((8, 8), 2)), '2'),
    (dict(mask=[[True] * 8] * 8), 'list'),
    (dict(indices=torch.tensor([0, 1, 2])), 'indices'),
    (dict(y=torch.zeros(4, 7)), '(4, 7)'),
]


@pytest.mark.parametrize('inplace', [False, True])
@pytest.mark.parametrize('fn,bad,names', [(resizemix_batch, *b) for b in RESIZEMIX_BAD]
                         + [(fmix_batch, *b) for b in FMIX_BAD],
                         ids=[f'resizemix-{sorted(b[0])}-{b[1]}' for b in RESIZEMIX_BAD]
                         + [f'fmix-{sorted(b[0])}-{b[1]}' for b in FMIX_BAD])
def test_bad_arguments_are_refused_before_anything_changes(fn, bad, names, inplace):
    kwargs = dict(X=torch.randn(4, 3, 8, 8), y=torch.tensor([0, 1, 2, 3]), n_classes=5)
    kwargs.update(bad)
    before, y_before = kwargs['X'].clone(), kwargs['y'].clone()
    with pytest.raises(MixingError) as info:
        fn(**kwargs, inplace=inplace)
    assert names in str(info.value)
    assert torch.equal(kwargs['X'], before) and torch.equal(kwargs['y'], y_before)


def test_compile_path_refuses_the_new_ops_by_name():
    g = torch.Generator().manual_seed(0)
    for p in (draw_resizemix(4, 8, 8, generator=g), draw_fmix(4, 8, 8, generator=g)):
        with pytest.raises(MixingError, match=f"covers CutMix and MixUp draws, not '{p.op}'"):
            p.as_tensors()


# ------------------------------------------------------------------------------------------------------- FMix


def test_fmix_mask_is_binary_and_shared_by_every_image_and_channel():
    n = 5
    X = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, 16, 12).contiguous()  # image i is i
    y = torch.arange(n)
    g = torch.Generator().manual_seed(2)
    p = draw_fmix(n, 16, 12, generator=torch.Generator().manual_seed(2))
    Xm, ym = fmix_batch(X, y, n, generator=g)
    assert p.mask.dtype == torch.bool and tuple(p.mask.shape) == (16, 12)
    assert 0 < int(p.mask.sum()) < 16 * 12
    expected = torch.where(p.mask, y.view(n, 1, 1, 1).float(), p.indices.view(n, 1, 1, 1).float()).expand(n, 3, 16, 12)
    assert torch.equal(Xm, expected)
    # the own label weight is the mask's mean, exactly: the share of pixels each image keeps
    assert p.lam == float(p.mask.float().mean())
    moved = p.indices != torch.arange(n)
    own = ym[torch.arange(n), y]
    assert torch.equal(own[moved], torch.full((int(moved.sum()),), int(p.mask.sum()) / (16 * 12)))


def test_fmix_mask_is_the_top_pixels_of_the_low_frequency_image():
    g, replay = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    p = draw_fmix(4, 24, 17, 1.0, decay_power=3.0, generator=g)
    lam = float(beta(1.0, None, replay))
    grey = low_freq_image(24, 17, 3.0, replay)
    assert int(p.mask.sum()) == round(lam * 24 * 17)
    assert grey[p.mask].min() > grey[~p.mask].max()
    assert torch.equal(p.indices, torch.randperm(4, generator=replay))


def test_low_freq_image_follows_the_power_law_spectrum():
    h, w, d = 12, 9, 2.5
    image = low_freq_image(h, w, d, torch.Generator().manual_seed(3))
    parts = torch.randn(2, h, w // 2 + 1, generator=torch.Generator().manual_seed(3)).double().numpy()
    f = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    scale = 1 / np.maximum(f, 1 / max(h, w)) ** d
    expected = np.fft.irfft2((parts[0] + 1j * parts[1]) * scale, s=(h, w))
    assert image.dtype == torch.float32  # single precision: only the order of the pixels makes the mask
    np.testing.assert_allclose(image.numpy(), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_fmix_masks_are_low_frequency():
    g, shuffle = torch.Generator().manual_seed(4), torch.Generator().manual_seed(40)
    checked = 0
    for _ in range(30):
        mask = draw_fmix(2, 32, 32, generator=g).mask
        if not 0.1 < float(mask.float().mean()) < 0.9:
            continue
        shuffled = mask.flatten()[torch.randperm(32 * 32, generator=shuffle)].view(32, 32)
        assert edges(mask) < edges(shuffled) / 3, (edges(mask), edges(shuffled))
        checked += 1
    assert checked >= 15
    # a faster decay gives smoother masks: fewer edges on the same draws
    smooth = [edges(draw_fmix(2, 32, 32, decay_power=5.0, generator=torch.Generator().manual_seed(s)).mask)
              for s in range(10)]
    rough = [edges(draw_fmix(2, 32, 32, decay_power=1.0, generator=torch.Generator().manual_seed(s)).mask)
             for s in range(10)]
    assert sum(smooth) < sum(rough) / 2


@pytest.mark.parametrize('alpha,other', [(0.5, 3.0), (3.0, 0.5)])
def test_fmix_mask_means_follow_the_beta_law(alpha, other):
    g = torch.Generator().manual_seed(int(alpha * 10))
    means = np.array([draw_fmix(2, 32, 32, alpha, generator=g).lam for _ in range(200)])
    # means are quantised to 1/1024: spread each over its quantum before the KS test
    spread = means + (np.random.default_rng(0).random(len(means)) - 0.5) / 1024
    assert stats.kstest(spread, stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    assert stats.kstest(spread, stats.beta(other, other).cdf).pvalue < 1e-3  # the test tells the laws apart


@pytest.mark.parametrize('channels_last', [False, True], ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
def test_fmix_pinned_mask_pixels_are_exact_in_and_out_of_place(dtype, channels_last):
    X = images((5, 3, 6, 7), dtype)
    if dtype.is_floating_point:
        X.view(-1)[::13] = -0.0  # kept pixels keep their signed zeros
    X = X.contiguous(memory_format=torch.channels_last) if channels_last else X
    idx = torch.tensor([2, 0, 1, 4, 3])
    mask = torch.rand(6, 7, generator=torch.Generator().manual_seed(0)) < 0.6
    before = X.clone()
    Xm, ym = fmix_batch(X, torch.arange(5), 5, mask=mask.int(), indices=idx)
    assert same_bits(X, before)
    for i in range(5):
        assert same_bits(Xm[i][:, mask], X[i][:, mask]) and same_bits(Xm[i][:, ~mask], X[idx[i]][:, ~mask])
    assert Xm.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert torch.equal(ym.diagonal(), torch.full((5,), float(mask.float().mean())))
    Xi = X.clone()
    out, _ = fmix_batch(Xi, torch.arange(5), 5, mask=mask, indices=idx, inplace=True)
    assert out is Xi and same_bits(Xi, Xm)
    assert Xi.is_contiguous(memory_format=torch.channels_last) == channels_last


def test_fmix_accepts_a_numpy_mask_and_a_mask_with_drawn_indices():
    X, y = torch.rand(4, 3, 5, 5), torch.arange(4)
    mask = np.zeros((5, 5), dtype=bool)
    mask[:3] = True
    Xm, ym = fmix_batch(X, y, 4, mask=mask, generator=torch.Generator().manual_seed(0))
    idx = draw_fmix(4, 5, 5, generator=torch.Generator().manual_seed(0)).indices  # the pin skips only the mask
    assert torch.equal(Xm[:, :, :3], X[:, :, :3]) and torch.equal(Xm[:, :, 3:], X[idx][:, :, 3:])
    moved = idx != torch.arange(4)
    assert bool(moved.any()) and torch.equal(ym[moved, y[moved]], torch.full((int(moved.sum()),), 0.6))


def test_fmix_batch_of_one_passes_through_with_one_hot_targets():
    X = images((1, 3, 8, 8), torch.uint8)
    Xm, ym = fmix_batch(X, torch.tensor([1]), 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(Xm, X)
    torch.testing.assert_close(ym, F.one_hot(torch.tensor([1]), 3).float())


def test_params_of_the_new_ops_describe_themselves():
    g = torch.Generator().manual_seed(0)
    r, f = draw_resizemix(4, 8, 8, interpolation='area', generator=g), draw_fmix(4, 8, 8, generator=g)
    assert r.interpolation == 'area' and r.mask is None and f.bbox is None and f.interpolation is None
    assert r.ops() == ('resizemix',) * 4 and f.ops() == ('fmix',) * 4
    assert torch.equal(r.boxes(), torch.tensor([r.bbox] * 4)) and torch.equal(f.boxes(), torch.zeros(4, 4).long())
    assert torch.equal(r.weights(), torch.full((4,), r.lam)) and torch.equal(f.weights(), torch.full((4,), f.lam))
    assert r.as_dict() == pytest.approx({'lam': r.lam, **dict(zip(('y0', 'x0', 'y1', 'x1'), map(float, r.bbox)))})
    assert f.as_dict() == {'lam': f.lam} and math.isclose(f.lam, float(f.mask.float().mean()))
    assert torch.equal(apply(torch.ones(4, 1, 8, 8), f), torch.ones(4, 1, 8, 8))
