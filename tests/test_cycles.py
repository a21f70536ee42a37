"""In-place mixing on the CPU along the permutation's cycles: the same pixels, bit for bit, as the gather path."""

from __future__ import annotations

import pytest
import torch

from composer_cutmix import mixing
from composer_cutmix.mixing import MixParams, apply

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8, torch.int16]

PERMS = {  # name -> (n, permutation)
    'one': (1, [0]),
    'swap': (2, [1, 0]),
    'fixed2': (2, [0, 1]),
    'cycles_and_fixed': (7, [2, 1, 4, 5, 0, 3, 6]),  # (0 2 4) (3 5), fixed 1 and 6
    'one_cycle': (5, [1, 2, 3, 4, 0]),
}


@pytest.fixture
def walks(monkeypatch):
    """Every in-place CPU call walks the cycles (threshold 0); the list records each walk, so a test sees it ran."""
    calls = []
    real = mixing._walk_cycles

    def spy(*args, **kwargs):
        calls.append(args[1].tolist())
        return real(*args, **kwargs)

    monkeypatch.setattr(mixing, 'CYCLE_MIN_BYTES', 0)
    monkeypatch.setattr(mixing, '_walk_cycles', spy)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 1)  # ResizeMix on floats walks with one torch thread
    return calls


def batch(n: int, dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    if dtype.is_floating_point:
        X = torch.randn(n, 3, 5, 7, generator=g, dtype=torch.float64).mul_(100).to(dtype)
        X.view(-1)[::11] = -0.0  # signed zeros must survive where a sample is kept
    else:
        info = torch.iinfo(dtype)
        X = torch.randint(info.min, info.max + 1, (n, 3, 5, 7), generator=g, dtype=dtype)
    return X.contiguous(memory_format=torch.channels_last) if channels_last else X


@pytest.mark.parametrize('channels_last', [False, True], ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('perm', list(PERMS))
def test_inplace_by_cycles_is_bit_exact(walks, perm, dtype, channels_last):
    n, order = PERMS[perm]
    indices = torch.tensor(order)
    X = batch(n, dtype, channels_last)
    draws = [MixParams('mixup', indices, lam, blend=lam) for lam in (0.0, 0.3, 0.5, 0.77, 1.0)]
    draws += [MixParams('cutmix', indices, 0.5, box) for box in [(1, 2, 4, 6), (0, 0, 5, 7), (2, 3, 2, 6)]]
    blob = torch.zeros(5, 7, dtype=torch.bool)
    blob[1:4, 2:6] = True
    draws += [MixParams('fmix', indices, float(m.float().mean()), mask=m) for m in (blob, ~blob)]
    draws += [MixParams('resizemix', indices, 0.5, box, interpolation=mode) for box, mode in
              [((1, 2, 4, 6), 'bilinear'), ((0, 0, 5, 7), 'bicubic'), ((2, 1, 5, 4), 'area'), ((1, 1, 4, 3), 'nearest'),
               ((0, 3, 2, 7), 'nearest-exact')]]
    for p in draws:
        # Out of place: the gather path, untouched by the cycle walk; ResizeMix goes sample by sample out of place
        # too, so its reference is the whole batch resized at once.
        expected = resized_as_a_batch(X, p) if p.op == 'resizemix' else apply(X, p)
        assert torch.equal(apply(X, p), expected), (p.op, p.bbox)
        got = X.clone(memory_format=torch.preserve_format)
        assert apply(got, p, inplace=True) is got
        assert torch.equal(got, expected), (p.op, p.lam, p.bbox)
        assert got.is_contiguous(memory_format=torch.channels_last) == channels_last
    boxed = sum(1 for p in draws if p.op == 'cutmix' and p.bbox[2] > p.bbox[0] and p.bbox[3] > p.bbox[1])
    others = sum(1 for p in draws if p.op in ('fmix', 'resizemix'))
    assert len(walks) == 5 + boxed + others  # the empty box touches nothing; every other draw walked the cycles


def resized_as_a_batch(X: torch.Tensor, p: MixParams) -> torch.Tensor:
    """ResizeMix as the batch path does it: every image resized at once, the shrunk partners gathered into the box."""
    y0, x0, y1, x1 = p.bbox
    out = X.clone(memory_format=torch.preserve_format)
    out[..., y0:y1, x0:x1] = mixing.resize_images(X, (y1 - y0, x1 - x0), p.interpolation)[p.indices]
    return out


def test_default_threshold_walks_large_samples_only(monkeypatch):
    calls = []
    real = mixing._walk_cycles
    monkeypatch.setattr(mixing, '_walk_cycles', lambda *a, **k: (calls.append(1), real(*a, **k)))
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 1)  # ResizeMix on floats walks with one thread only
    idx = torch.tensor([1, 0])
    big = torch.rand(2, 3, 224, 224)  # 588 KiB a sample, a 147 KiB box: both walk
    small = torch.rand(2, 3, 32, 32)  # 12 KiB a sample: gathered as before
    for X in (big, small):
        h, w = X.shape[-2:]
        apply(X, MixParams('mixup', idx, 0.6, blend=0.6), inplace=True)
        apply(X, MixParams('cutmix', idx, 0.75, (0, 0, h // 2, w // 2)), inplace=True)
        apply(X.to(torch.uint8), MixParams('mixup', idx, 0.6, blend=0.6), inplace=True)
        apply(X, MixParams('resizemix', idx, 0.75, (0, 0, h // 2, w // 2), interpolation='bilinear'), inplace=True)
        apply(X, MixParams('fmix', idx, 0.5, mask=torch.arange(h * w).view(h, w) % 2 == 0), inplace=True)
    assert len(calls) == 5  # big float32 MixUp, CutMix, ResizeMix and FMix, big uint8 MixUp; nothing small
    # With more torch threads a float batch is resized whole (F.interpolate spreads over them); uint8 still walks.
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    for X in (big, big.mul(255).to(torch.uint8)):
        apply(X, MixParams('resizemix', idx, 0.75, (0, 0, 112, 112), interpolation='bilinear'), inplace=True)
    assert len(calls) == 6


def test_cutmix_walks_mid_sized_boxes_in_a_large_batch(monkeypatch):
    calls = []
    real = mixing._walk_cycles
    monkeypatch.setattr(mixing, '_walk_cycles', lambda *a, **k: (calls.append(1), real(*a, **k)))
    X = torch.randint(0, 256, (4, 3, 224, 224), dtype=torch.uint8)
    p = MixParams('cutmix', torch.tensor([3, 2, 0, 1]), 0.75, (0, 0, 112, 112))  # 37 KiB boxes, 147 KiB in all
    expected = apply(X, p)
    assert torch.equal(apply(X.clone(), p, inplace=True), expected)
    assert not calls  # below the 4 MiB of boxes: gathered
    monkeypatch.setattr(mixing, 'CYCLE_MIN_BOX_BATCH_BYTES', 100 * 1024)
    assert torch.equal(apply(X.clone(), p, inplace=True), expected)
    assert len(calls) == 1


@pytest.mark.parametrize('dtype', [torch.float32, torch.uint8], ids=str)
def test_resizemix_one_sample_at_a_time_equals_the_batch_at_imagenet_size(dtype, monkeypatch):
    """At the default threshold a (32, 3, 224, 224) batch is resized one partner at a time on the CPU (where
    ``F.interpolate`` resizes a batch through a channels_last copy): the same pixels as the whole batch at once."""
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 1)  # floats walk with one torch thread
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (32, 3, 224, 224), generator=g, dtype=torch.uint8).to(dtype)
    idx = torch.randperm(32, generator=g)
    for box, mode in [((50, 31, 162, 143), 'bilinear'), ((7, 60, 181, 220), 'bicubic'), ((0, 0, 67, 91), 'area')]:
        p = MixParams('resizemix', idx, 0.5, box, interpolation=mode)
        expected = resized_as_a_batch(X, p)
        assert torch.equal(apply(X, p), expected), mode
        assert torch.equal(apply(X.clone(), p, inplace=True), expected), mode
