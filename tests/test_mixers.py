"""Every mixer inside real ``Trainer.fit`` runs: the contract CutMix keeps, kept by MixUp, the switch, ResizeMix,
FMix and RandomMix."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from composer import Trainer
from composer.algorithms import CutMix as ComposerCutMix
from composer.algorithms import LabelSmoothing
from composer.algorithms import MixUp as ComposerMixUp
from composer.loggers import InMemoryLogger
from composer.models import ComposerClassifier
from torchmetrics.classification import MulticlassAccuracy

from composer_cutmix import CutMix, DenseCrossEntropyLoss, FMix, MixingError, MixUp, MixUpCutMix, RandomMix, ResizeMix
from tests.helpers import (
    N_CLASSES,
    DictDataset,
    DictModel,
    Recorder,
    expected_mix,
    expected_targets,
    make_trainer,
    run,
    tiny_data,
    tiny_loader,
    tiny_net,
)

MIXERS = {
    'cutmix': lambda **kw: CutMix(**kw),
    'mixup': lambda **kw: MixUp(alpha=0.4, **kw),
    'switch': lambda **kw: MixUpCutMix(**kw),
    'switch_elem': lambda **kw: MixUpCutMix(mode='elem', **kw),
    'resizemix': lambda **kw: ResizeMix(**kw),
    'fmix': lambda **kw: FMix(**kw),
    # the four ops of the RandomMix paper, equal chances; prob=p gives each op p/4 (the rest: not mixed)
    'random_mix': lambda prob=1.0, **kw: RandomMix([MixUp(alpha=0.4), CutMix(), ResizeMix(), FMix()],
                                                   probs=[prob / 4] * 4, **kw),
}


@pytest.mark.parametrize('name', list(MIXERS))
def test_each_minibatch_is_mixed_once_as_its_draw_says(name, data):
    X, y = data
    algo = MIXERS[name]()
    _, rec = run(X, y, algo, max_duration='4ba')
    assert algo.num_classes == N_CLASSES, 'num_classes is taken from the model at INIT'
    for b, ((Xm, ym), p) in enumerate(zip(rec.batches, rec.params)):
        Xb, yb = X[8 * b:8 * b + 8], y[8 * b:8 * b + 8]
        torch.testing.assert_close(Xm, expected_mix(Xb, p), rtol=0, atol=1e-6)
        torch.testing.assert_close(ym, expected_targets(yb, p))
        torch.testing.assert_close(ym.sum(1), torch.ones(8))


@pytest.mark.parametrize('name', list(MIXERS))
def test_microbatches_share_the_minibatch_draw(name, data):
    X, y = data
    _, rec = run(X, y, MIXERS[name](), batch_size=16, max_duration='2ba', device_train_microbatch_size=4)
    assert len(rec.microbatches) == 8 and len(rec.params) == 2
    for b in range(2):
        micro = rec.microbatches[4 * b:4 * b + 4]
        assert torch.equal(torch.cat([m[0] for m in micro]), rec.batches[b][0])
        assert torch.equal(torch.cat([m[1] for m in micro]), rec.batches[b][1])


@pytest.mark.parametrize('name', list(MIXERS))
def test_eval_batches_are_untouched(name, data):
    X, y = data
    rec = Recorder()
    make_trainer(X, y, [MIXERS[name]()], callbacks=[rec], eval_dataloader=tiny_loader(X, y, 8),
                 eval_interval='1ba').fit()
    assert len(rec.eval_batches) == 8
    for i, (Xe, ye) in enumerate(rec.eval_batches[:4]):
        assert torch.equal(Xe, X[8 * i:8 * i + 8]) and torch.equal(ye, y[8 * i:8 * i + 8])


@pytest.mark.parametrize('name', list(MIXERS))
def test_resumed_run_mixes_like_the_uninterrupted_one(name, tmp_path):
    X, y = tiny_data(n=48)
    _, full = run(X, y, MIXERS[name](), max_duration='6ba')
    make_trainer(X, y, [MIXERS[name]()], max_duration='6ba', save_folder=str(tmp_path), save_interval='2ba',
                 save_filename='ba{batch}.pt').fit(duration='2ba')
    algo = MIXERS[name]()
    _, resumed = run(X, y, algo, max_duration='6ba', load_path=str(tmp_path / 'ba2.pt'))
    assert len(resumed.batches) == 4
    for mine, theirs in zip(resumed.batches, full.batches[2:]):
        assert torch.equal(mine[0], theirs[0]) and torch.equal(mine[1], theirs[1])
    for mine, theirs in zip(resumed.params, full.params[2:]):  # the same draws, field by field
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert mine.op == theirs.op and torch.equal(mine.indices, theirs.indices)
            torch.testing.assert_close(mine.weights(), theirs.weights(), rtol=0, atol=0)
            assert torch.equal(mine.boxes(), theirs.boxes())
            assert (mine.mask is None) == (theirs.mask is None)
            assert mine.mask is None or torch.equal(mine.mask, theirs.mask)


@pytest.mark.parametrize('name', list(MIXERS))
def test_training_accuracy_is_scored_against_the_dominant_label(name, data):
    X, y = data
    model = ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES,
                               train_metrics=MulticlassAccuracy(num_classes=N_CLASSES, average='macro'))
    rec = Recorder()
    trainer = make_trainer(X, y, [MIXERS[name]()], model=model, callbacks=[rec], batch_size=32, max_duration='1ba')
    trainer.fit()
    expected = MulticlassAccuracy(num_classes=N_CLASSES, average='macro')(rec.outputs[0], rec.batches[0][1].argmax(1))
    torch.testing.assert_close(trainer.state.train_metric_values['MulticlassAccuracy'], expected)
    assert isinstance(model._loss_fn, DenseCrossEntropyLoss)


@pytest.mark.parametrize('name', list(MIXERS))
def test_num_classes_must_match_the_model(name, data):
    X, y = data
    with pytest.raises(MixingError, match=f'num_classes=7\\) does not match the model, which has num_classes={N_CLASSES}'):
        make_trainer(X, y, [MIXERS[name](num_classes=7)])
    bare = ComposerClassifier(tiny_net(48), train_metrics=MulticlassAccuracy(num_classes=N_CLASSES),
                              val_metrics=MulticlassAccuracy(num_classes=N_CLASSES))
    assert bare.num_classes is None  # it declares no class count
    with pytest.raises(MixingError, match='takes the class count from the model'):
        make_trainer(X, y, [MIXERS[name]()], model=bare)


@pytest.mark.parametrize('name', list(MIXERS))
def test_bad_label_mid_run_is_refused_before_the_batch_changes(name, data):
    X, y = data

    class BadSecondBatch:
        def __len__(self):
            return 2

        def __iter__(self):
            yield [X[:8], y[:8]]
            bad = y[8:16].clone()
            bad[2] = 11
            yield [X[8:16], bad]

    trainer = make_trainer(X, y, [MIXERS[name]()], loader=BadSecondBatch(), max_duration='2ba',
                           device_train_microbatch_size=8)
    with pytest.raises(MixingError, match='found label 11'):
        trainer.fit()
    assert torch.equal(trainer.state.batch[0], X[8:16]) and trainer.state.batch[1].ndim == 1


@pytest.mark.parametrize('name', list(MIXERS))
def test_prob_zero_and_stop_at(name, data):
    X, y = data
    algo = MIXERS[name](prob=0.0)
    _, rec = run(X, y, algo, max_duration='2ba')
    assert rec.params == [None, None]
    for b, (Xm, ym) in enumerate(rec.batches):
        assert torch.equal(Xm, X[8 * b:8 * b + 8])
        torch.testing.assert_close(ym, F.one_hot(y[8 * b:8 * b + 8], N_CLASSES).float())
    logger = InMemoryLogger()
    algo = MIXERS[name](stop_at='2ba')
    rec = Recorder(algo)
    make_trainer(X, y, [algo], callbacks=[rec], loggers=[logger], max_duration='4ba').fit()
    assert [p is None for p in rec.params] == [False, False, True, True]
    assert logger.data[f'{algo.log_prefix}/active'][0][1] == 0.0


@pytest.mark.parametrize('name', ['mixup', 'switch'])
def test_dict_batches_and_keys(name, data):
    X, y = data
    algo = MIXERS[name](num_classes=N_CLASSES, input_key='image', target_key='label')
    rec = Recorder(algo)
    Trainer(model=DictModel(X[0].numel()), train_dataloader=torch.utils.data.DataLoader(DictDataset(X, y), batch_size=8),
            max_duration='1ba', algorithms=[algo], callbacks=[rec], progress_bar=False).fit()
    batch = rec.batches[0]
    assert set(batch) == {'image', 'label', 'id'} and batch['label'].shape == (8, N_CLASSES)
    torch.testing.assert_close(batch['image'], expected_mix(X[:8], rec.params[0]), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------------------- MixUp only


def test_mixup_last_params_says_mixup(data):
    X, y = data
    algo = MixUp()
    run(X, y, algo, max_duration='1ba')
    p = algo.last_params
    assert p.op == 'mixup' and not p.per_sample and p.bbox is None and p.blend == p.lam
    assert sorted(p.indices.tolist()) == list(range(8))
    algo = MixUp(mode='elem')
    run(X, y, algo, max_duration='1ba')
    p = algo.last_params
    assert p.op == 'mixup' and p.per_sample and p.lam.shape == (8,) and torch.equal(p.blend, p.lam)


def test_mixup_interpolate_loss_equals_the_dense_loss(data):
    X, y = data
    _, dense = run(X, y, MixUp(alpha=1.0), max_duration='3ba', device_train_microbatch_size=4)
    _, interp = run(X, y, MixUp(alpha=1.0, interpolate_loss=True), max_duration='3ba', device_train_microbatch_size=4)
    for b, batch in enumerate(interp.batches):
        p = interp.params[b]
        yb = y[8 * b:8 * b + 8]
        assert torch.equal(batch[1], yb if p.lam >= 0.5 else yb[p.indices])
    torch.testing.assert_close(torch.stack(interp.losses), torch.stack(dense.losses))


def test_mixup_lam_law_of_the_algorithms_mixer():
    from scipy import stats

    algo = MixUp(alpha=0.5)
    algo.generator = torch.Generator().manual_seed(0)
    lams = [algo.mixer.draw(2, 2, 2).lam for _ in range(300)]  # what AFTER_DATALOADER draws, batch after batch
    assert stats.kstest(lams, stats.beta(0.5, 0.5).cdf).pvalue > 0.01


# ------------------------------------------------------------------------------------------- the switch


def test_switch_picks_cutmix_about_switch_prob_of_the_time():
    from scipy import stats

    algo = MixUpCutMix(switch_prob=0.25)
    algo.generator = torch.Generator().manual_seed(0)
    kinds = [algo.mixer.draw(2, 4, 4).op for _ in range(400)]
    assert set(kinds) == {'cutmix', 'mixup'}
    assert stats.binomtest(kinds.count('cutmix'), 400, 0.25).pvalue > 0.01


def test_switch_label_smoothing_for_mixed_and_unmixed_batches():
    X, y = tiny_data(n=80)
    _, rec = run(X, y, MixUpCutMix(label_smoothing=0.1, prob=0.5), max_duration='10ba')
    assert any(p is None for p in rec.params) and any(p is not None for p in rec.params)
    for b, ((_, ym), p) in enumerate(zip(rec.batches, rec.params)):
        torch.testing.assert_close(ym, expected_targets(y[8 * b:8 * b + 8], p, smoothing=0.1))


def test_switch_cutmix_minmax_boxes_in_the_trainer(data):
    X, y = data  # 8 x 6 images
    algo = MixUpCutMix(mixup_alpha=0.0, cutmix_minmax=(0.25, 0.75))
    _, rec = run(X, y, algo, max_duration='4ba')
    for p in rec.params:
        y0, x0, y1, x1 = p.bbox
        assert 2 <= y1 - y0 < 6 and 1 <= x1 - x0 < 4 and y1 <= 8 and x1 <= 6
        assert p.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 48)


def test_switch_with_composer_label_smoothing_is_refused(data):
    X, y = data
    with pytest.raises(MixingError, match='smooth the targets twice'):
        make_trainer(X, y, [MixUpCutMix(label_smoothing=0.1), LabelSmoothing(0.1)])


# ------------------------------------------------------------------------------------- one mixer per run


@pytest.mark.parametrize('pair', [
    (CutMix, MixUp), (MixUp, MixUpCutMix), (CutMix, CutMix),
    (CutMix, ComposerMixUp), (MixUpCutMix, ComposerCutMix), (ComposerMixUp, MixUp),
], ids=lambda pair: '+'.join(f"{c.__module__.split('.')[0]}.{c.__name__}" for c in pair))
def test_two_mixers_in_one_trainer_are_refused_at_construction(pair, data):
    X, y = data
    algos = [cls() if cls.__module__.startswith('composer_cutmix') else cls(alpha=1.0) for cls in pair]
    with pytest.raises(MixingError) as info:
        make_trainer(X, y, algos)
    text = str(info.value)
    names = [('Composer\'s ' if not cls.__module__.startswith('composer_cutmix') else '') + cls.__name__ for cls in pair]
    assert all(name in text for name in names), text
    assert 'MixUpCutMix' in text and 'twice' in text


# ------------------------------------------------------------------------------------------- constructors


@pytest.mark.parametrize('factory,message', [
    (lambda: MixUp(alpha=0), 'alpha must be'),
    (lambda: MixUp(prob=2), 'prob must be a probability'),
    (lambda: MixUp(mode='pair'), "mode='pair' (timm's pairwise mode) is not supported"),
    (lambda: MixUp(mode='pixels'), "mode must be 'batch'"),
    (lambda: MixUp(mode='elem', interpolate_loss=True), 'needs one lam per batch'),
    (lambda: MixUp(stop_at='soon'), 'stop_at must be a Composer time'),
    (lambda: MixUp(num_classes=2.0), 'alpha first'),
    (lambda: MixUpCutMix(mixup_alpha=-1), 'mixup_alpha must be'),
    (lambda: MixUpCutMix(cutmix_alpha=float('inf')), 'cutmix_alpha must be'),
    (lambda: MixUpCutMix(mixup_alpha=0, cutmix_alpha=0), 'both 0'),
    (lambda: MixUpCutMix(switch_prob=1.5), 'switch_prob must be a probability'),
    (lambda: MixUpCutMix(prob=-0.1), 'prob must be a probability'),
    (lambda: MixUpCutMix(cutmix_minmax=(0.8, 0.2)), '0 <= lo < hi <= 1'),
    (lambda: MixUpCutMix(cutmix_minmax=0.5), 'pair (lo, hi)'),
    (lambda: MixUpCutMix(correct_lam='yes'), 'correct_lam must be True or False'),
    (lambda: MixUpCutMix(label_smoothing=1.2), 'label_smoothing must be a probability'),
    (lambda: MixUpCutMix(mode='pair'), "use mode='elem'"),
    (lambda: MixUpCutMix(num_classes=0), 'num_classes must be >= 1'),
])
def test_constructors_validate_every_argument(factory, message):
    with pytest.raises(MixingError) as info:
        factory()
    assert message in str(info.value)


def test_reprs_are_evaluable():
    for algo in (MixUp(10), MixUp(alpha=1.0, prob=0.5, mode='elem'), MixUpCutMix(),
                 MixUpCutMix(100, mixup_alpha=0.0, cutmix_minmax=(0.2, 0.8), correct_lam=False, label_smoothing=0.1)):
        again = eval(repr(algo), {'MixUp': MixUp, 'MixUpCutMix': MixUpCutMix})
        assert repr(again) == repr(algo)
