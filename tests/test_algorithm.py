"""The Algorithm inside real ``Trainer.fit`` runs: what the batch looks like after AFTER_DATALOADER and after."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from composer import Trainer
from composer.algorithms import LabelSmoothing
from composer.core import DataSpec, Event
from composer.loggers import InMemoryLogger
from composer.models import ComposerClassifier, ComposerModel
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

from composer_cutmix import CutMix, DenseCrossEntropyLoss, apply, cutmix_batch, dense_cross_entropy
from tests.helpers import (
    N_CLASSES,
    DictDataset,
    DictModel,
    Recorder,
    make_trainer,
    tiny_data,
    tiny_loader,
    tiny_net,
)
from tests.helpers import run as run_with


def run(X, y, cutmix=None, **kwargs):
    return run_with(X, y, cutmix or CutMix(N_CLASSES, 1.0), **kwargs)


def test_one_box_one_lam_one_permutation_per_minibatch(data):
    X, y = data
    trainer, rec = run(X, y, max_duration='3ba')
    assert len(rec.batches) == 3
    for b, (batch, params) in enumerate(zip(rec.batches, rec.params)):
        Xb, yb = X[8 * b:8 * b + 8], y[8 * b:8 * b + 8]
        Xm, ym = batch
        assert params.op == 'cutmix' and not params.per_sample and len(params.bbox) == 4
        # pixel-exact: one shared rectangle pasted from the shared permutation
        assert torch.equal(Xm, apply(Xb, params))
        changed = (Xm != Xb).any(dim=1)  # (N, H, W)
        y0, x0, y1, x1 = params.bbox
        outside = torch.ones_like(changed)
        outside[:, y0:y1, x0:x1] = False
        assert not changed[outside].any()
        # dense rows: lam on the own label, 1 - lam on the partner's, rows summing to 1
        assert ym.shape == (8, N_CLASSES) and ym.dtype == torch.float32
        torch.testing.assert_close(ym.sum(1), torch.ones(8))
        expected = params.lam * F.one_hot(yb, N_CLASSES) + (1 - params.lam) * F.one_hot(yb[params.indices], N_CLASSES)
        torch.testing.assert_close(ym, expected.float())
        assert params.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / (8 * 6))
    assert torch.equal(trainer.state.algorithms[0].last_labels, y[16:24]), 'the labels before mixing are kept'
    assert len({p.bbox for p in rec.params}) > 1, 'each minibatch draws anew'


def test_dict_batches_keep_their_structure(data):
    X, y = data
    cutmix = CutMix(N_CLASSES, input_key='image', target_key='label')
    rec = Recorder(cutmix)
    trainer = Trainer(model=DictModel(X[0].numel()), train_dataloader=DataLoader(DictDataset(X, y), batch_size=8),
                      max_duration='2ba', algorithms=[cutmix], callbacks=[rec], progress_bar=False, seed=3)
    trainer.fit()
    batch = rec.batches[0]
    assert isinstance(batch, dict) and set(batch) == {'image', 'label', 'id'}
    assert torch.equal(batch['id'], torch.arange(8))
    p = rec.params[0]
    assert torch.equal(batch['image'], apply(X[:8], p))
    assert batch['label'].shape == (8, N_CLASSES)


def test_tuple_batches_stay_tuples(data):
    X, y = data
    loader = tiny_loader(X, y, 8, collate_fn=lambda items: tuple(torch.stack(t) for t in zip(*items)))
    _, rec = run(X, y, loader=loader)
    assert isinstance(rec.batches[0], tuple)


def test_loader_memory_is_never_mutated_on_cpu():
    X, y = tiny_data()
    X_keep = X.clone()

    class SameTensorEveryTime:
        """A loader that yields the very same tensors every epoch, as an in-memory loader might."""

        def __iter__(self):
            yield X, y

        def __len__(self):
            return 1

    _, rec = run(X, y, loader=SameTensorEveryTime(), max_duration='3ba', device_train_microbatch_size=32)
    assert torch.equal(X, X_keep), 'CutMix mixed memory the loader owns'
    assert not torch.equal(rec.batches[0][0], X_keep)


@pytest.mark.parametrize('loss_fn,smoothing', [
    (None, 0.0),
    (torch.nn.CrossEntropyLoss(), 0.0),
    (torch.nn.CrossEntropyLoss(label_smoothing=0.1), 0.1),
])
def test_loss_is_registered_and_trains_on_dense_targets(data, loss_fn, smoothing):
    X, y = data
    kwargs = {} if loss_fn is None else {'loss_fn': loss_fn}
    model = ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES, **kwargs)
    cutmix = CutMix(N_CLASSES)
    rec = Recorder(cutmix)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no "Some targets have less than 1 total probability"
        trainer = make_trainer(X, y, [cutmix], model=model, callbacks=[rec], max_duration='3ba')
        trainer.fit()
    assert isinstance(model._loss_fn, DenseCrossEntropyLoss) and model._loss_fn.label_smoothing == smoothing
    for out, batch, loss in zip(rec.outputs, rec.batches, rec.losses):
        expected = F.cross_entropy(out, batch[1], label_smoothing=smoothing)
        torch.testing.assert_close(loss, expected)


def test_incompatible_loss_is_refused_at_init(data):
    X, y = data
    model = ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES, loss_fn=torch.nn.NLLLoss())
    with pytest.raises(ValueError, match='dense_cross_entropy') as info:
        make_trainer(X, y, [CutMix(N_CLASSES)], model=model)
    assert 'NLLLoss' in str(info.value) and 'interpolate_loss=True' in str(info.value)


def test_custom_loss_that_takes_probabilities_is_kept(data):
    X, y = data

    def my_soft_ce(logits, target):
        return -(target * logits.log_softmax(1)).sum(1).mean()

    model = ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES, loss_fn=my_soft_ce)
    make_trainer(X, y, [CutMix(N_CLASSES)], model=model).fit()
    assert model._loss_fn is my_soft_ce


@pytest.mark.parametrize('average', ['micro', 'macro'])
def test_training_accuracy_is_scored_against_the_dominant_label(data, average):
    X, y = data
    metric = MulticlassAccuracy(num_classes=N_CLASSES, average=average)
    model = ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES, train_metrics=metric)
    cutmix = CutMix(N_CLASSES)
    rec = Recorder(cutmix)
    trainer = make_trainer(X, y, [cutmix], model=model, callbacks=[rec], batch_size=32, max_duration='1ba')
    trainer.fit()
    dense = rec.batches[0][1]
    expected = MulticlassAccuracy(num_classes=N_CLASSES, average=average)(rec.outputs[0], dense.argmax(1))
    got = trainer.state.train_metric_values['MulticlassAccuracy']
    torch.testing.assert_close(got, expected)
    # The dominant label is the one whose image covers more of the picture.
    lam, idx = rec.params[0].lam, rec.params[0].indices
    assert torch.equal(dense.argmax(1)[idx != torch.arange(32)], (y if lam > 0.5 else y[idx])[idx != torch.arange(32)])


def test_same_seed_same_boxes_other_seed_other_boxes(data):
    X, y = data
    boxes = []
    for seed in (5, 5, 6):
        _, rec = run(X, y, seed=seed, max_duration='4ba')
        boxes.append([(p.bbox, p.indices.tolist()) for p in rec.params])
    assert boxes[0] == boxes[1]
    assert boxes[0] != boxes[2]


class BadLabelsOnce:
    def __init__(self, X, y, bad_at):
        self.X, self.y, self.bad_at = X, y, bad_at

    def __len__(self):
        return 4

    def __iter__(self):
        for b in range(4):
            yb = self.y[8 * b:8 * b + 8].clone()
            if b == self.bad_at:
                yb[3] = N_CLASSES + 2
            yield [self.X[8 * b:8 * b + 8], yb]


def test_bad_batch_raises_clearly_and_leaves_the_batch_as_it_was(data):
    X, y = data
    trainer = make_trainer(X, y, [CutMix(N_CLASSES)], loader=BadLabelsOnce(X, y, bad_at=1), max_duration='4ba',
                           device_train_microbatch_size=8)
    with pytest.raises(ValueError, match=r'labels must lie in \[0, n_classes\) = \[0, 5\); found label 7'):
        trainer.fit()
    batch = trainer.state.batch
    assert torch.equal(batch[0], X[8:16]), 'no half-mixed batch'
    assert batch[1].ndim == 1 and batch[1][3] == N_CLASSES + 2


def test_non_tensor_input_is_a_clear_error(data):
    X, y = data

    class Listy:
        def __len__(self):
            return 1

        def __iter__(self):
            yield [[1, 2, 3], y[:8]]

    loader = DataSpec(Listy(), get_num_samples_in_batch=lambda batch: 8)
    trainer = make_trainer(X, y, [CutMix(N_CLASSES)], loader=loader, max_duration='1ba', device_train_microbatch_size=8)
    with pytest.raises(TypeError, match='input_key=0 to be a tensor'):
        trainer.fit()


def test_uint8_and_channels_last_batches(data):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (16, 3, 8, 8), generator=g, dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, N_CLASSES, (16,), generator=g)

    class FloatNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_net(3 * 64)

        def forward(self, x):
            return self.net(x.float() / 255)

    model = ComposerClassifier(FloatNet(), num_classes=N_CLASSES)
    cutmix = CutMix(N_CLASSES)
    rec = Recorder(cutmix)
    make_trainer(X, y, [cutmix], model=model, callbacks=[rec]).fit()
    Xm = rec.batches[0][0]
    assert Xm.dtype == torch.uint8
    assert torch.equal(Xm, apply(X[:8], rec.params[0]))


def test_batch_of_one_passes_through(data):
    X, y = data
    _, rec = run(X[:2], y[:2], batch_size=1)
    Xm, ym = rec.batches[0]
    assert torch.equal(Xm, X[:1])
    torch.testing.assert_close(ym, F.one_hot(y[:1], N_CLASSES).float())


# ----------------------------------------------------------------------------------------- options (issue 6)


def test_prob_mixes_about_that_share_of_batches():
    X, y = tiny_data(n=400, h=4, w=4)
    _, rec = run(X, y, CutMix(N_CLASSES, prob=0.5), batch_size=2, max_duration='200ba')
    mixed = sum(p is not None for p in rec.params)
    assert 70 <= mixed <= 130


@pytest.mark.parametrize('stop_at,mixed', [('2ba', 2), ('0.5dur', 2), (1, 4), ('16sp', 2)])
def test_stop_at_switches_mixing_off_and_logs_it(data, stop_at, mixed):
    X, y = data
    logger = InMemoryLogger()
    cutmix = CutMix(N_CLASSES, stop_at=stop_at)
    rec = Recorder(cutmix)
    make_trainer(X, y, [cutmix], callbacks=[rec], max_duration='4ba', loggers=[logger]).fit()
    assert [p is not None for p in rec.params] == [True] * mixed + [False] * (4 - mixed)
    if mixed < 4:
        assert logger.data['cutmix/active'][0][1] == 0.0
        last = rec.batches[-1]
        torch.testing.assert_close(last[1], F.one_hot(y[24:32], N_CLASSES).float())


def test_elem_mode_in_the_trainer(data):
    X, y = data
    _, rec = run(X, y, CutMix(N_CLASSES, mode='elem'))
    p = rec.params[0]
    Xm, ym = rec.batches[0]
    assert p.lam.shape == (8,)
    torch.testing.assert_close(ym.sum(1), torch.ones(8))
    for i in range(8):
        y0, x0, y1, x1 = p.bbox[i].tolist()
        expected = X[i].clone()
        expected[..., y0:y1, x0:x1] = X[p.indices[i], ..., y0:y1, x0:x1]
        assert torch.equal(Xm[i], expected)


def test_interpolate_loss_equals_the_dense_loss(data):
    X, y = data
    _, dense = run(X, y, CutMix(N_CLASSES), max_duration='3ba', device_train_microbatch_size=4)
    cutmix = CutMix(N_CLASSES, interpolate_loss=True)
    _, interp = run(X, y, cutmix, max_duration='3ba', device_train_microbatch_size=4)
    assert [p.bbox for p in dense.params] == [p.bbox for p in interp.params]
    for b, batch in enumerate(interp.batches):
        assert batch[1].ndim == 1, 'targets stay indices'
        p = interp.params[b]
        yb = y[8 * b:8 * b + 8]
        assert torch.equal(batch[1], yb if p.lam >= 0.5 else yb[p.indices]), 'the batch carries the dominant label'
    torch.testing.assert_close(torch.stack(interp.losses), torch.stack(dense.losses))


def test_interpolate_loss_refuses_label_smoothing_algorithm(data):
    X, y = data
    with pytest.raises(ValueError, match='label_smoothing'):
        make_trainer(X, y, [CutMix(N_CLASSES, interpolate_loss=True), LabelSmoothing(0.1)])


@pytest.mark.parametrize('order', ['cutmix_first', 'smoothing_first'])
def test_composes_with_label_smoothing_in_either_order(data, order):
    X, y = data
    cutmix = CutMix(N_CLASSES)
    algos = [cutmix, LabelSmoothing(0.1)] if order == 'cutmix_first' else [LabelSmoothing(0.1), cutmix]
    rec = Recorder(cutmix)
    make_trainer(X, y, algos, callbacks=[rec]).fit()
    for out, batch, loss in zip(rec.outputs, rec.batches, rec.losses):
        smoothed = batch[1] * 0.9 + 0.1 / N_CLASSES
        torch.testing.assert_close(loss, F.cross_entropy(out, smoothed))


def test_segmentation_masks_get_the_box(data):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(16, 3, 6, 6, generator=g)
    m = torch.randint(0, 3, (16, 6, 6), generator=g)

    class Seg(ComposerModel):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 1)

        def forward(self, batch):
            return self.conv(batch[0])

        def loss(self, outputs, batch):
            return F.cross_entropy(outputs, batch[1])

    cutmix = CutMix(3, target_type='mask')
    rec = Recorder(cutmix)
    Trainer(model=Seg(), train_dataloader=tiny_loader(X, m, 8), max_duration='2ba', algorithms=[cutmix],
            callbacks=[rec], progress_bar=False).fit()
    p = rec.params[0]
    Xm, mm = rec.batches[0]
    assert torch.equal(mm, apply(m[:8], p)) and mm.dtype == m.dtype
    assert torch.equal(Xm, apply(X[:8], p))


def test_log_params_sends_lam_and_box_to_the_logger(data):
    X, y = data
    logger = InMemoryLogger()
    cutmix = CutMix(N_CLASSES, log_params=True)
    rec = Recorder(cutmix)
    make_trainer(X, y, [cutmix], callbacks=[rec], loggers=[logger]).fit()
    lams = [v for _, v in logger.data['cutmix/lam']]
    assert lams == pytest.approx([p.lam for p in rec.params])
    assert [v for _, v in logger.data['cutmix/y0']] == [p.bbox[0] for p in rec.params]


def test_compiled_model_trains_without_graph_breaks(data):
    X, y = data
    # fullgraph=True makes any graph break an error; the eager backend keeps the test fast on CPU.
    _, rec = run(X, y, compile_config={'backend': 'eager', 'fullgraph': True})
    assert len(rec.losses) == 2 and all(torch.isfinite(loss) for loss in rec.losses)


# -------------------------------------------------------------------------------------------- constructor


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_classes=0), 'num_classes must be >= 1'),
    (dict(num_classes=10, alpha=0), 'alpha must be'),
    (dict(num_classes=10, prob=1.5), 'prob must be a probability'),
    (dict(num_classes=10, mode='pixels'), "mode must be 'batch'"),
    (dict(num_classes=10, keep_box_inside=True, uniform_sampling=True), 'two different placements; pick one'),
    (dict(num_classes=10, target_type='box'), "target_type must be 'labels'"),
    (dict(num_classes=10, stop_at='soon'), 'stop_at must be a Composer time'),
    (dict(num_classes=10, stop_at='2tok'), "stop_at must be in 'dur'"),
    (dict(num_classes=10, stop_at='1.5dur'), '<= 1dur'),
    (dict(num_classes=10, uniform_sampling='yes'), 'uniform_sampling must be True or False'),
    (dict(num_classes=10, mode='elem', interpolate_loss=True), "needs one lam per batch"),
])
def test_constructor_validates(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=None) as info:
        CutMix(**kwargs)
    assert message in str(info.value)


def test_repr_is_evaluable():
    for algo in (CutMix(10), CutMix(100, 0.2, uniform_sampling=True, prob=0.5, stop_at='0.9dur', mode='elem',
                                    input_key='image', target_key='label')):
        again = eval(repr(algo), {'CutMix': CutMix})
        assert repr(again) == repr(algo)
    assert repr(CutMix(10)) == 'CutMix(num_classes=10, alpha=1.0)'


def test_runs_only_on_its_events():
    cutmix = CutMix(10)
    assert cutmix.match(Event.AFTER_DATALOADER, None) and cutmix.match(Event.INIT, None)
    assert not cutmix.match(Event.BEFORE_FORWARD, None) and not cutmix.match(Event.EVAL_BEFORE_FORWARD, None)
    assert not cutmix.match(Event.BEFORE_BACKWARD, None)
    assert CutMix(10, interpolate_loss=True).match(Event.BEFORE_BACKWARD, None)


def test_multilabel_targets_with_bce_and_multilabel_metrics():
    from torchmetrics.classification import MultilabelAccuracy

    g = torch.Generator().manual_seed(2)
    X = torch.randn(16, 1, 8, 6, generator=g)
    y = (torch.rand(16, N_CLASSES, generator=g) < 0.4).long()
    model = ComposerClassifier(tiny_net(48), num_classes=N_CLASSES, loss_fn=torch.nn.BCEWithLogitsLoss(),
                               train_metrics=MultilabelAccuracy(num_labels=N_CLASSES))
    cutmix = CutMix(N_CLASSES)
    rec = Recorder(cutmix)
    trainer = make_trainer(X, y, [cutmix], model=model, callbacks=[rec], batch_size=16, max_duration='1ba')
    trainer.fit()
    p = rec.params[0]
    dense = rec.batches[0][1]
    torch.testing.assert_close(dense, p.lam * y.float() + (1 - p.lam) * y[p.indices].float())
    torch.testing.assert_close(rec.losses[0], F.binary_cross_entropy_with_logits(rec.outputs[0], dense))
    expected = MultilabelAccuracy(num_labels=N_CLASSES)(rec.outputs[0], (dense >= 0.5).long())
    torch.testing.assert_close(trainer.state.train_metric_values['MultilabelAccuracy'], expected)


def test_bf16_batches_under_cpu_autocast(data):
    # Composer offers amp_bf16 on GPUs only (tests/test_gpu.py runs it there); on the CPU, torch.autocast
    # exercises the same dtypes: bf16 inputs are mixed as bf16, the loss is accumulated in fp32.
    X, y = data
    Xb = X[:8].bfloat16()
    net = tiny_net(48)
    Xm, ym = cutmix_batch(Xb, y[:8], N_CLASSES, bbox=(0, 0, 4, 3), indices=torch.arange(8).flip(0))
    assert Xm.dtype == torch.bfloat16 and ym.dtype == torch.float32
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = net(Xm)
        loss = dense_cross_entropy(logits, ym)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    torch.testing.assert_close(loss, F.cross_entropy(logits.float(), ym))
