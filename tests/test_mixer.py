"""Mixer against timm's ``Mixup`` (its laws, its targets, its switches), and what the core imports."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from composer_cutmix import Mixer, MixingError, MixParams, apply, mix_targets

ROOT = Path(__file__).resolve().parents[1]
C = 10


def _load_timm_mixup():
    """timm's ``timm/data/mixup.py`` (numpy and torch only), loaded from its file without timm's heavy package
    import (which builds every model registry)."""
    spec = importlib.util.find_spec('timm')
    if spec is None or not spec.submodule_search_locations:
        pytest.skip('timm is not installed')
    path = Path(next(iter(spec.submodule_search_locations))) / 'data' / 'mixup.py'
    module_spec = importlib.util.spec_from_file_location('_timm_data_mixup', path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def timm():
    return _load_timm_mixup()


def two_images(h=32, w=32):
    """Sample 0 all zeros, sample 1 all ones, labels 0 and 1: any mix of them can be read off the pixels."""
    return torch.stack([torch.zeros(1, h, w), torch.ones(1, h, w)]), torch.tensor([0, 1])


def timm_op(x_before, x_after):
    """Which op timm's call applied to ``two_images``: 'none', 'cutmix' (0/1 pixels) or 'mixup' (a blend)."""
    if torch.equal(x_after, x_before):
        return 'none'
    return 'cutmix' if bool(((x_after == 0) | (x_after == 1)).all()) else 'mixup'


def timm_lams(timm, n_calls, seed, **kwargs):
    """The own-label weight of sample 0 over ``n_calls`` of timm's ``Mixup`` on ``two_images``, and the ops."""
    np.random.seed(seed)
    mixup = timm.Mixup(label_smoothing=0.0, num_classes=2, **kwargs)
    lams, ops = [], []
    for _ in range(n_calls):
        x, y = two_images()
        before = x.clone()
        x, target = mixup(x, y)
        lams.append(float(target[0, 0]))
        ops.append(timm_op(before, x))
    return np.array(lams), ops


def our_draws(n_calls, seed, n=2, h=32, w=32, **kwargs):
    mixer = Mixer(label_smoothing=0.0, num_classes=C, generator=torch.Generator().manual_seed(seed), **kwargs)
    return [mixer.draw(n, h, w) for _ in range(n_calls)]


# ------------------------------------------------------------------------------------------------ the laws


def test_mixup_lam_follows_timms_law(timm):
    ours = [p.lam for p in our_draws(1500, 0, mixup_alpha=0.8, cutmix_alpha=0.0)]
    theirs, ops = timm_lams(timm, 1500, 0, mixup_alpha=0.8, cutmix_alpha=0.0)
    assert set(ops) == {'mixup'}
    assert stats.ks_2samp(ours, theirs).pvalue > 0.01
    assert stats.kstest(ours, stats.beta(0.8, 0.8).cdf).pvalue > 0.01


def test_switch_frequency_and_each_ops_law_match_timm(timm):
    kwargs = dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.7, switch_prob=0.3)
    draws = our_draws(2000, 1, **kwargs)
    ours = ['none' if p is None else p.op for p in draws]
    theirs_lam, theirs = timm_lams(timm, 2000, 1, **kwargs)
    counts = np.array([[ops.count(op) for op in ('none', 'cutmix', 'mixup')] for ops in (ours, theirs)])
    # the law: not mixed 1 - prob, CutMix prob * switch_prob, MixUp the rest
    expected = 2000 * np.array([0.3, 0.7 * 0.3, 0.7 * 0.7])
    assert stats.chisquare(counts[0], expected).pvalue > 0.01
    assert stats.chi2_contingency(counts).pvalue > 0.01  # and the same as timm's
    # a mixed batch's share of CutMix is switch_prob
    assert stats.binomtest(int(counts[0, 1]), int(counts[0, 1:].sum()), 0.3).pvalue > 0.01
    mix_lams = [p.lam for p in draws if p is not None and p.op == 'mixup']
    timm_mix = theirs_lam[[op == 'mixup' for op in theirs]]
    assert stats.ks_2samp(mix_lams, timm_mix).pvalue > 0.01
    assert stats.kstest(mix_lams, stats.beta(0.8, 0.8).cdf).pvalue > 0.01
    # CutMix lams are the box's area (timm's correct_lam); Beta(1, 1) before clipping
    for p in draws:
        if p is not None and p.op == 'cutmix':
            y0, x0, y1, x1 = p.bbox
            assert p.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 1024)


@pytest.mark.parametrize('prob', [0.0, 1.0])
def test_prob_zero_never_mixes_and_one_always_does(prob):
    draws = our_draws(50, 2, mixup_alpha=0.8, cutmix_alpha=1.0, prob=prob)
    assert all((p is None) == (prob == 0.0) for p in draws)


# ------------------------------------------------------------------------------------------ the targets


@pytest.mark.parametrize('smoothing', [0.0, 0.1])
def test_smoothed_targets_equal_timms_mixup_target(timm, smoothing):
    y = torch.tensor([3, 1, 4, 1, 5, 9])
    flip = torch.arange(5, -1, -1)  # timm's pairing: sample i with sample n - 1 - i
    for lam in (0.0, 0.3, 0.875, 1.0):
        ours = mix_targets(y, MixParams('mixup', flip, lam, blend=lam), C, smoothing=smoothing)
        torch.testing.assert_close(ours, timm.mixup_target(y, C, lam, smoothing))
    lam = torch.tensor([0.1, 0.5, 1.0, 0.25, 0.0, 0.7])  # per sample, as timm's mode='elem'
    ours = mix_targets(y, MixParams('cutmix', flip, lam, torch.zeros(6, 4, dtype=torch.long)), C,
                       smoothing=smoothing)
    torch.testing.assert_close(ours, timm.mixup_target(y, C, lam.unsqueeze(1), smoothing))


@pytest.mark.parametrize('mode', ['batch', 'elem'])
def test_mixers_targets_are_timms_for_its_own_pairing(timm, mode):
    # timm pairs by flipping the batch; ours draws a permutation: the targets are timm's smoothed one-hots of
    # each sample and of its partner, weighed by the drawn lam.
    mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=C, mode=mode,
                  generator=torch.Generator().manual_seed(3))
    y = torch.tensor([3, 1, 4, 1, 5, 9, 2])
    for _ in range(10):
        _, target = mixer(torch.rand(7, 3, 8, 8), y)
        p = mixer.last_params
        lam = p.weights().unsqueeze(1)
        own, partner = timm.mixup_target(y, C, 1.0, 0.1), timm.mixup_target(y[p.indices], C, 1.0, 0.1)
        torch.testing.assert_close(target, lam * own + (1 - lam) * partner)
        torch.testing.assert_close(target.sum(1), torch.ones(7))


def test_mixup_enabled_false_is_timms_unmixed_batch(timm):
    x, y = torch.rand(6, 3, 8, 8), torch.tensor([3, 1, 4, 1, 5, 9])
    ours = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=C)
    theirs = timm.Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=C)
    ours.mixup_enabled = theirs.mixup_enabled = False
    xo, yo = ours(x.clone(), y)
    xt, yt = theirs(x.clone(), y)
    assert torch.equal(xo, x) and torch.equal(xt, x) and ours.last_params is None
    torch.testing.assert_close(yo, yt)
    torch.testing.assert_close(yo, torch.full((6, C), 0.01).scatter_(1, y[:, None], 0.91))
    ours.mixup_enabled = True
    ours(x.clone(), y)
    assert ours.last_params is not None


# ------------------------------------------------------------------------------------------- the pixels


def test_pixels_equal_timms_for_timms_own_draw(timm):
    # Pin our pipeline to timm's draw (its lam, its box, its flipped pairing): the same pixels.
    g = torch.Generator().manual_seed(4)
    x = torch.rand(6, 3, 16, 12, generator=g)
    flip = torch.arange(5, -1, -1)
    np.random.seed(4)
    for cutmix in (False, True):
        mixup = timm.Mixup(mixup_alpha=0.0 if cutmix else 1.0, cutmix_alpha=1.0 if cutmix else 0.0,
                           label_smoothing=0.0, num_classes=6)
        xt, target = mixup(x.clone(), torch.arange(6))
        lam = float(target[0, 0])
        if cutmix:
            changed = (xt != x).any(1).any(0)  # the box: rows and columns where any pixel changed
            rows, cols = changed.any(1).nonzero().flatten(), changed.any(0).nonzero().flatten()
            box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
            assert lam == pytest.approx(1 - (box[2] - box[0]) * (box[3] - box[1]) / (16 * 12))
            params = MixParams('cutmix', flip, lam, box)
            assert torch.equal(apply(x, params), xt)
        else:
            params = MixParams('mixup', flip, lam, blend=lam)
            torch.testing.assert_close(apply(x, params), xt, rtol=0, atol=1e-6)
        torch.testing.assert_close(mix_targets(torch.arange(6), params, 6), target)


def test_mixes_in_place_and_returns_x_itself():
    mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=C, generator=torch.Generator().manual_seed(5))
    for _ in range(6):
        x = torch.rand(4, 3, 8, 8)
        before, ptr = x.clone(), x.data_ptr()
        out, target = mixer(x, torch.tensor([0, 1, 2, 3]))
        assert out is x and x.data_ptr() == ptr
        assert torch.equal(x, apply(before, mixer.last_params))
        assert target.shape == (4, C) and target.dtype == torch.float32


@pytest.mark.parametrize('mode', ['batch', 'elem'])
@pytest.mark.parametrize('n', [1, 3, 7])
def test_odd_batch_sizes_work(n, mode, timm):
    mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=C, mode=mode,
                  generator=torch.Generator().manual_seed(n))
    y = torch.arange(n) % C
    for _ in range(4):
        x = torch.rand(n, 3, 8, 8)
        before = x.clone()
        out, target = mixer(x, y)
        p = mixer.last_params
        assert p.indices.shape == (n,) and torch.equal(p.indices.sort().values, torch.arange(n))
        assert torch.equal(out, apply(before, p))
        torch.testing.assert_close(target, mix_targets(y, p, C, smoothing=0.1))
        torch.testing.assert_close(target.sum(1), torch.ones(n))
    with pytest.raises(AssertionError):  # where timm's Mixup refuses them
        timm.Mixup(num_classes=C)(torch.rand(n, 3, 8, 8), y)


def test_same_generator_seed_same_draws_and_another_seed_others():
    def run(seed):
        mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.8, num_classes=C,
                      generator=torch.Generator().manual_seed(seed))
        out = []
        for _ in range(12):
            x, y = mixer(torch.arange(5 * 36, dtype=torch.float32).reshape(5, 1, 6, 6), torch.arange(5))
            out.append((x, y, mixer.last_params))
        return out

    a, b, c = run(7), run(7), run(8)
    for (xa, ya, pa), (xb, yb, pb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert (pa is None) == (pb is None)
        if pa is not None:
            assert (pa.op, pa.lam, pa.bbox) == (pb.op, pb.lam, pb.bbox) and torch.equal(pa.indices, pb.indices)
    assert not all(torch.equal(xa, xc) for (xa, _, _), (xc, _, _) in zip(a, c))


def test_elem_mode_draws_an_op_and_a_lam_per_sample():
    n = 4000
    p = our_draws(1, 6, n=n, h=64, w=64, mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.6, switch_prob=0.5,
                  mode='elem')[0]
    assert p.per_sample and p.op == 'mixup_cutmix' and p.lam.shape == (n,) and p.bbox.shape == (n, 4)
    ops = np.array(p.ops())
    counts = [int((ops == op).sum()) for op in ('none', 'cutmix', 'mixup')]
    # not mixed 1 - prob; CutMix prob * switch_prob; MixUp the rest (a box floored to nothing, 1 - lam < 4 / 64**2,
    # counts as not mixed: about 1 in 1000 CutMix draws)
    assert stats.chisquare(counts, n * np.array([0.4, 0.3, 0.3])).pvalue > 0.01
    area = ((p.bbox[:, 2] - p.bbox[:, 0]) * (p.bbox[:, 3] - p.bbox[:, 1])).float()
    cut, mix, none = (torch.from_numpy(ops == op) for op in ('cutmix', 'mixup', 'none'))
    torch.testing.assert_close(p.lam[cut], 1 - area[cut] / 64**2)  # the box's area
    assert bool((p.blend[cut] == 1).all())  # a CutMix-ed sample keeps its own pixels outside the box
    assert bool((area[mix | none] == 0).all())
    assert torch.equal(p.blend[mix], p.lam[mix])
    assert stats.kstest(p.lam[mix].numpy(), stats.beta(0.8, 0.8).cdf).pvalue > 0.01
    assert bool((p.lam[none] == 1).all() and (p.blend[none] == 1).all())
    # and per-sample lams are different samples of the law, not one lam repeated
    assert len(set(p.lam[mix].tolist())) == int(mix.sum())


def test_elem_mode_mixup_only_lams_follow_timms(timm):
    # timm's mode='elem' on an even batch: each sample's own weight, read off its target
    n = 2000
    np.random.seed(7)
    theirs = timm.Mixup(mixup_alpha=0.8, cutmix_alpha=0.0, prob=0.6, mode='elem', label_smoothing=0.0,
                        num_classes=n)
    _, target = theirs(torch.rand(n, 1, 2, 2), torch.arange(n))
    timm_lam = target.diagonal().numpy()
    ours = our_draws(1, 7, n=n, mixup_alpha=0.8, cutmix_alpha=0.0, prob=0.6, mode='elem')[0].lam.numpy()
    assert stats.chi2_contingency([[(lams == 1).sum(), (lams < 1).sum()] for lams in (ours, timm_lam)]).pvalue > 0.01
    assert stats.ks_2samp(ours[ours < 1], timm_lam[timm_lam < 1]).pvalue > 0.01


def test_elem_mode_pixels_follow_each_samples_op():
    mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.8, mode='elem', num_classes=C,
                  generator=torch.Generator().manual_seed(8))
    x = torch.rand(16, 3, 8, 8)
    before = x.clone()
    mixer(x, torch.arange(16) % C)
    p = mixer.last_params
    for i, op in enumerate(p.ops()):
        j = int(p.indices[i])
        if op == 'cutmix':
            y0, x0, y1, x1 = p.bbox[i].tolist()
            expected = before[i].clone()
            expected[:, y0:y1, x0:x1] = before[j][:, y0:y1, x0:x1]
            assert torch.equal(x[i], expected)
        elif op == 'mixup':
            lam = float(p.lam[i])
            torch.testing.assert_close(x[i], lam * before[i] + (1 - lam) * before[j], rtol=0, atol=1e-6)
        else:
            assert torch.equal(x[i], before[i])


# ------------------------------------------------------------------------------------------- refusals


def test_mode_pair_is_refused_with_the_alternative():
    with pytest.raises(MixingError) as info:
        Mixer(mode='pair')
    assert 'pair' in str(info.value) and 'elem' in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize('kwargs,names', [
    (dict(mixup_alpha=-1.0), 'mixup_alpha'),
    (dict(cutmix_alpha=float('inf')), 'cutmix_alpha'),
    (dict(cutmix_minmax=(0.8, 0.2)), 'cutmix_minmax'),
    (dict(cutmix_minmax=0.5), 'cutmix_minmax'),
    (dict(prob=1.5), 'prob'),
    (dict(switch_prob=-0.1), 'switch_prob'),
    (dict(label_smoothing=2.0), 'label_smoothing'),
    (dict(num_classes=0), 'num_classes'),
    (dict(correct_lam='yes'), 'correct_lam'),
    (dict(placement='corner'), 'placement'),
    (dict(generator=np.random.default_rng(0)), 'generator'),
])
def test_constructor_refuses_bad_arguments(kwargs, names):
    with pytest.raises(MixingError) as info:
        Mixer(**kwargs)
    assert names in str(info.value)


def test_bad_batch_is_refused_before_x_is_touched():
    mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=4, generator=torch.Generator().manual_seed(9))
    x = torch.rand(4, 3, 8, 8)
    before = x.clone()
    state = mixer.generator.get_state()
    for target in (torch.tensor([0, 1, 2, 4]), torch.tensor([0, 1, 2]), torch.zeros(4, 5)):
        with pytest.raises(MixingError):
            mixer(x, target)
    assert torch.equal(x, before) and torch.equal(mixer.generator.get_state(), state)  # nothing drawn either


# -------------------------------------------------------------------------------------------- imports

WITHOUT_COMPOSER = """
import sys
sys.modules['composer'] = None
sys.modules['torchmetrics'] = None
import torch
import composer_cutmix
from composer_cutmix import Mixer, cutmix_batch, mixup_batch, apply, mix_targets, MixParams
x, y = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=4)(x, y)
Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=4, mode='elem')(x, y)
cutmix_batch(x, y, 4)
mixup_batch(x, y, 4)
p = MixParams('mixup', torch.tensor([1, 0, 3, 2]), 0.5, blend=0.5)
apply(x, p)
mix_targets(y, p, 4)
print('loaded', *[m for m, mod in sys.modules.items() if mod is not None and (
    m.startswith(('composer', 'torchmetrics')) and not m.startswith('composer_cutmix'))])
try:
    composer_cutmix.CutMix
except ImportError:
    print('CutMix: ImportError')
"""

@pytest.fixture(scope='session')
def without_composer() -> list[str]:
    """The script in a new interpreter, Composer and torchmetrics blocked."""
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(WITHOUT_COMPOSER)], cwd=ROOT, text=True,
                          capture_output=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_the_core_works_with_composer_and_torchmetrics_blocked(without_composer):
    loaded, cutmix = without_composer
    assert loaded == 'loaded', f'the core imported: {loaded}'
    assert cutmix == 'CutMix: ImportError'
