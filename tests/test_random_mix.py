"""RandomMix, ResizeMix and FMix as Composer algorithms: the pick against ``probs``, unmixed batches,
``last_params.op``, one generator for every draw, refused stacking and refused arguments, in real ``Trainer.fit`` runs
where it applies. The contract every mixer keeps (resumption, microbatches, eval, metrics, stop_at) is in
tests/test_mixers.py, parametrised over these three too."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from composer.algorithms import CutMix as ComposerCutMix
from composer.algorithms import MixUp as ComposerMixUp
from composer.models import ComposerClassifier

from composer_cutmix import CutMix, FMix, MixingError, MixUp, MixUpCutMix, RandomMix, ResizeMix, apply
from tests.helpers import N_CLASSES, expected_mix, expected_targets, make_trainer, run, tiny_data, tiny_net


def four_ops():
    """The RandomMix paper's four ops."""
    return [MixUp(alpha=0.8), CutMix(alpha=1.0), ResizeMix(), FMix()]


def test_ops_are_picked_as_often_as_probs_say():
    from scipy import stats

    # CutMix keeps its own prob: picked 20% of the time, it mixes half of those batches.
    algo = RandomMix([MixUp(), CutMix(prob=0.5), ResizeMix(), FMix()], probs=[0.3, 0.2, 0.25, 0.1])
    algo.generator = torch.Generator().manual_seed(0)
    n = 1000
    counts = Counter(getattr(algo.mixer.draw(2, 4, 4), 'op', None) for _ in range(n))
    expected = {'mixup': 0.3, 'cutmix': 0.1, 'resizemix': 0.25, 'fmix': 0.1, None: 0.25}
    assert set(counts) == set(expected)
    observed = [counts[op] for op in expected]
    assert stats.chisquare(observed, [p * n for p in expected.values()]).pvalue > 0.01, counts
    equal = RandomMix(four_ops())  # probs=None: equal chances summing to 1, never unmixed
    equal.generator = torch.Generator().manual_seed(1)
    assert equal.probs == (0.25,) * 4 and equal.prob == 1.0
    assert all(equal.mixer.draw(2, 4, 4) is not None for _ in range(100))


def test_one_generator_draws_the_pick_and_the_op_and_restores_both():
    ops = four_ops()
    algo = RandomMix(ops)
    algo.generator = torch.Generator().manual_seed(3)
    assert all(op.mixer.generator is algo.generator for op in ops)
    saved = algo.state_dict()
    first = [algo.mixer.draw(4, 8, 8) for _ in range(12)]
    algo.load_state_dict(saved)
    again = [algo.mixer.draw(4, 8, 8) for _ in range(12)]
    assert len({p.op for p in first}) == 4
    for a, b in zip(first, again):
        assert a.op == b.op and a.lam == b.lam and a.bbox == b.bbox and torch.equal(a.indices, b.indices)
        assert a.mask is None or torch.equal(a.mask, b.mask)


def test_each_batch_names_its_op_and_unmixed_batches_get_smoothed_one_hot_targets():
    X, y = tiny_data(n=64)
    algo = RandomMix(four_ops(), probs=[0.15] * 4, label_smoothing=0.1)  # 40% of the batches are not mixed
    trainer, rec = run(X, y, algo, batch_size=4, max_duration='16ba')
    ops = [None if p is None else p.op for p in rec.params]
    assert set(ops) == {None, 'mixup', 'cutmix', 'resizemix', 'fmix'}, ops
    for b, ((Xm, ym), p) in enumerate(zip(rec.batches, rec.params)):
        Xb, yb = X[4 * b:4 * b + 4], y[4 * b:4 * b + 4]
        torch.testing.assert_close(Xm, expected_mix(Xb, p), rtol=0, atol=1e-6)
        torch.testing.assert_close(ym, expected_targets(yb, p, smoothing=0.1))
        if p is None:
            assert torch.equal(Xm, Xb)
            torch.testing.assert_close(ym, F.one_hot(yb, N_CLASSES) * 0.9 + 0.1 / N_CLASSES)
    assert trainer.state.algorithms[0].num_classes == N_CLASSES, 'num_classes is taken from the model at INIT'


@pytest.mark.filterwarnings('ignore:Cannot split tensor of length 1')  # Composer, on the batch of one
@pytest.mark.parametrize('make', [ResizeMix, FMix, lambda: RandomMix(four_ops())],
                         ids=['resizemix', 'fmix', 'random_mix'])
def test_uint8_channels_last_batches_and_a_batch_of_one(make):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (17, 3, 8, 8), generator=g, dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, N_CLASSES, (17,), generator=g)

    class FloatNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_net(3 * 64)

        def forward(self, x):
            return self.net(x.float() / 255)

    algo = make()
    loader = [[X[0:8], y[0:8]], [X[8:16], y[8:16]], [X[16:], y[16:]]]  # slices keep the channels_last strides
    _, rec = run(X, y, algo, model=ComposerClassifier(FloatNet(), num_classes=N_CLASSES), loader=loader,
                 max_duration='3ba', device_train_microbatch_size=8)
    for b, ((Xm, _), p) in enumerate(zip(rec.batches[:2], rec.params)):
        Xb = X[8 * b:8 * b + 8]
        assert Xm.dtype == torch.uint8 and Xm.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(Xm, apply(Xb, p)) and torch.equal(Xm, expected_mix(Xb, p))
    X1, y1 = rec.batches[2]  # the batch of one: nothing to mix with, one-hot targets
    assert torch.equal(X1, X[16:]) and torch.equal(y1, F.one_hot(y[16:], N_CLASSES).float())

def test_the_algorithms_draw_with_their_own_arguments():
    from scipy import stats

    resize = ResizeMix(scale=(0.5, 0.5), interpolation='nearest')
    resize.generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        p = resize.mixer.draw(4, 16, 12)
        y0, x0, y1, x1 = p.bbox
        assert (y1 - y0, x1 - x0) == (8, 6) and p.interpolation == 'nearest' and p.lam == 0.75
    fmix = FMix(alpha=0.5, decay_power=4.0)
    fmix.generator = torch.Generator().manual_seed(0)
    lams = [fmix.mixer.draw(2, 16, 16).lam for _ in range(150)]  # mask means: Beta(0.5, 0.5), to 1/256
    assert stats.kstest(lams, stats.beta(0.5, 0.5).cdf).pvalue > 0.01


def test_an_op_also_given_to_the_trainer_is_refused_at_init(data):
    X, y = data
    cutmix = CutMix()
    for algorithms in ([RandomMix([MixUp(), cutmix]), cutmix], [cutmix, RandomMix([MixUp(), cutmix])]):
        with pytest.raises(MixingError) as info:
            make_trainer(X, y, algorithms)
        text = str(info.value)
        assert 'is one of the ops of RandomMix and is also in Trainer(algorithms=...)' in text, text
        assert 'Remove CutMix from Trainer(algorithms=...)' in text
    for other in (ComposerMixUp(alpha=1.0), FMix()):
        with pytest.raises(MixingError, match='are both in Trainer.*mixed twice.*RandomMix'):
            make_trainer(X, y, [RandomMix([CutMix()]), other])


@pytest.mark.parametrize('factory,message', [
    (lambda: RandomMix([]), 'at least one op'),
    (lambda: RandomMix(CutMix()), 'takes ops as a list of mixers'),
    (lambda: RandomMix(['cutmix']), 'ops[0] must be one of CutMix, MixUp, ResizeMix, FMix'),
    (lambda: RandomMix([MixUp(), ComposerCutMix(alpha=1.0)]), "ops[1] must be one of CutMix, MixUp, ResizeMix, FMix, "
                                                              "got Composer's CutMix. Use composer_cutmix.CutMix"),
    (lambda: RandomMix([MixUpCutMix()]), 'picks among ops itself'),
    (lambda: RandomMix([RandomMix([CutMix()])]), 'picks among ops itself'),
    (lambda: RandomMix([CutMix(), MixUp()], probs=[1.0]), 'probs must be a list of 2 numbers'),
    (lambda: RandomMix([CutMix(), MixUp()], probs='even'), 'probs must be a list of 2 numbers'),
    (lambda: RandomMix([CutMix(), MixUp()], probs=[0.5, -0.1]), 'probs must be numbers >= 0'),
    (lambda: RandomMix([CutMix(), MixUp()], probs=[0.5, float('nan')]), 'probs must be numbers >= 0'),
    (lambda: RandomMix([CutMix(), MixUp()], probs=[0.6, 0.5]), 'sum to at most 1'),
    (lambda: RandomMix([CutMix(stop_at='2ba')]), "sets stop_at='2ba': set stop_at='2ba' on RandomMix"),
    (lambda: RandomMix([CutMix(input_key='image')]), "set input_key='image' on RandomMix"),
    (lambda: RandomMix([FMix(log_params=True)]), 'set log_params=True on RandomMix'),
    (lambda: RandomMix([CutMix(mode='elem')]), "sets mode='elem': RandomMix draws one op and one draw per batch"),
    (lambda: RandomMix([MixUp(interpolate_loss=True)]), 'sets interpolate_loss=True'),
    (lambda: RandomMix([CutMix(target_type='mask')]), "sets target_type='mask'"),
    (lambda: RandomMix([CutMix(3), MixUp(4)]), 'disagree on the class count ([3, 4])'),
    (lambda: RandomMix([CutMix(3)], num_classes=4), 'disagree on the class count ([3, 4])'),
    (lambda: RandomMix([CutMix()], label_smoothing=1.5), 'label_smoothing must be a probability'),
    (lambda: RandomMix([CutMix()], stop_at='soon'), 'stop_at must be a Composer time'),
    (lambda: ResizeMix(scale=(0.8, 0.1)), '0 < lo <= hi <= 1'),
    (lambda: ResizeMix(scale=0.5), 'scale must be a pair (lo, hi)'),
    (lambda: ResizeMix(interpolation='cubic'), 'interpolation must be one of'),
    (lambda: ResizeMix(prob=2), 'prob must be a probability'),
    (lambda: FMix(alpha=0), 'alpha must be'),
    (lambda: FMix(decay_power=-1), 'decay_power must be a finite number > 0'),
    (lambda: FMix(num_classes=2.0), 'alpha first'),
])
def test_bad_arguments_are_refused_at_construction(factory, message):
    with pytest.raises(MixingError) as info:
        factory()
    assert message in str(info.value)


def test_probs_that_sum_to_one_up_to_rounding_are_accepted_and_leave_no_gap():
    algo = RandomMix([MixUp()] * 10, probs=[0.1] * 10)  # sums to 0.9999999999999999
    assert algo.mixer._edges[-1] == float('inf')
    RandomMix([CutMix(), MixUp()], probs=[0.7, 0.3 + 1e-9])


def test_reprs_are_evaluable():
    names = {'RandomMix': RandomMix, 'ResizeMix': ResizeMix, 'FMix': FMix, 'MixUp': MixUp, 'CutMix': CutMix}
    for algo in (ResizeMix(), ResizeMix(10, scale=(0.2, 0.5), interpolation='nearest', prob=0.5), FMix(),
                 FMix(alpha=0.5, decay_power=4.0, stop_at='0.9dur'), RandomMix(four_ops()),
                 RandomMix([MixUp(alpha=0.8), CutMix(10)], probs=[0.4, 0.4], label_smoothing=0.1, stop_at='2ba')):
        again = eval(repr(algo), names)
        assert repr(again) == repr(algo)
    assert repr(RandomMix([CutMix(10), FMix()], [0.5, 0.5])) == (
        'RandomMix([CutMix(num_classes=10, alpha=1.0), FMix(num_classes=None, alpha=1.0)], probs=[0.5, 0.5], '
        'num_classes=10)')
