"""Dense-target cross-entropy, loss registration and dominant-label metrics, as units."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch
import torch.nn.functional as F
from composer.loss import soft_cross_entropy
from composer.models import ComposerClassifier
from torchmetrics.classification import MulticlassAccuracy

from composer_cutmix import (
    DenseCrossEntropyLoss,
    LossIncompatibleError,
    attach_dense_loss,
    dense_cross_entropy,
    mix_targets,
)
from composer_cutmix.metrics import DominantLabel, takes_hard_targets
from composer_cutmix.mixing import MixParams

g = torch.Generator().manual_seed(0)
LOGITS = torch.randn(6, 4, generator=g)
LABELS = torch.tensor([0, 1, 2, 3, 1, 0])
DENSE = torch.softmax(torch.randn(6, 4, generator=g), 1)


def test_index_and_one_hot_targets_agree():
    hard = dense_cross_entropy(LOGITS, LABELS)
    soft = dense_cross_entropy(LOGITS, F.one_hot(LABELS, 4).float())
    torch.testing.assert_close(hard, soft)
    torch.testing.assert_close(hard, F.cross_entropy(LOGITS, LABELS))


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('smoothing', [0.0, 0.2])
def test_dense_targets_match_the_definition(reduction, smoothing):
    target = DENSE * (1 - smoothing) + smoothing / 4
    per_sample = -(target * LOGITS.log_softmax(1)).sum(1)
    expected = {'mean': per_sample.mean(), 'sum': per_sample.sum(), 'none': per_sample}[reduction]
    got = dense_cross_entropy(LOGITS, DENSE, label_smoothing=smoothing, reduction=reduction)
    torch.testing.assert_close(got, expected)


def test_class_weights_and_spatial_logits():
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    torch.testing.assert_close(dense_cross_entropy(LOGITS, DENSE, weight=w),
                               -(DENSE * w * LOGITS.log_softmax(1)).sum(1).mean())
    seg_logits = torch.randn(2, 3, 4, 4, generator=g)
    seg_target = torch.randint(0, 3, (2, 4, 4), generator=g)
    torch.testing.assert_close(dense_cross_entropy(seg_logits, seg_target), F.cross_entropy(seg_logits, seg_target))


def test_half_precision_logits_are_accumulated_in_fp32():
    got = dense_cross_entropy(LOGITS.bfloat16(), DENSE)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, dense_cross_entropy(LOGITS.bfloat16().float(), DENSE))


def test_mixed_rows_summing_to_one_up_to_rounding_raise_no_warning_unlike_composers_soft_ce():
    # A real CutMix batch: 128 samples of 28x28, a box of 776 pixels. In float32 the target mass adds up to a hair
    # under 128, which is enough for Composer's soft_cross_entropy to warn on every such step.
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (128,), generator=gen)
    target = mix_targets(labels, MixParams('cutmix', torch.randperm(128, generator=gen), 1 - 776 / 784), 10)
    logits = torch.randn(128, 10, generator=gen)
    assert target.sum() < 128
    with pytest.warns(UserWarning, match='less than 1 total probability'):
        soft_cross_entropy(logits, target)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        loss = dense_cross_entropy(logits, target)
    torch.testing.assert_close(loss, -(target * logits.log_softmax(1)).sum(1).mean())


@pytest.mark.parametrize('target,message', [
    (torch.zeros(6, 5), 'fits neither form'),
    (torch.zeros(6), 'fits neither form'),  # float labels
    (torch.zeros(5, dtype=torch.long), 'fits neither form'),
])
def test_shape_mismatch_is_a_clear_error(target, message):
    with pytest.raises(ValueError, match=message):
        dense_cross_entropy(LOGITS, target)


def test_bad_arguments():
    with pytest.raises(ValueError, match='reduction'):
        dense_cross_entropy(LOGITS, LABELS, reduction='avg')
    with pytest.raises(ValueError, match='label_smoothing'):
        dense_cross_entropy(LOGITS, LABELS, label_smoothing=2.0)
    with pytest.raises(ValueError, match=r'shape \(N, C, ...\)'):
        dense_cross_entropy(torch.zeros(3), LABELS)


def classifier(**kwargs):
    return ComposerClassifier(torch.nn.Linear(3, 4), num_classes=4, **kwargs)


@pytest.mark.parametrize('loss_fn,smoothing', [
    (None, 0.0),
    (F.cross_entropy, 0.0),
    (functools.partial(F.cross_entropy, label_smoothing=0.3), 0.3),
    (torch.nn.CrossEntropyLoss(label_smoothing=0.1), 0.1),
])
def test_attach_replaces_cross_entropies_keeping_their_settings(loss_fn, smoothing):
    model = classifier(**({} if loss_fn is None else {'loss_fn': loss_fn}))
    attach_dense_loss(model, 4)
    assert isinstance(model._loss_fn, DenseCrossEntropyLoss) and model._loss_fn.label_smoothing == smoothing
    torch.testing.assert_close(model.loss(LOGITS, (None, DENSE)), F.cross_entropy(LOGITS, DENSE, label_smoothing=smoothing))
    assert 'replaced' in attach_dense_loss(classifier(), 4)


def test_attach_keeps_class_weights_as_a_buffer():
    model = classifier(loss_fn=torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 3.0, 4.0])))
    attach_dense_loss(model, 4)
    assert torch.equal(model._loss_fn.weight, torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert any(name.endswith('weight') for name, _ in model.named_buffers())


def test_attach_keeps_losses_that_take_dense_targets():
    bce = torch.nn.BCEWithLogitsLoss()
    model = classifier(loss_fn=bce)
    assert 'kept' in attach_dense_loss(model, 4) and model._loss_fn is bce


@pytest.mark.parametrize('loss_fn', [torch.nn.NLLLoss(), torch.nn.MultiMarginLoss()])
def test_attach_refuses_losses_that_cannot(loss_fn):
    with pytest.raises(LossIncompatibleError, match='interpolate_loss=True'):
        attach_dense_loss(classifier(loss_fn=loss_fn), 4)


def test_dominant_label_metrics():
    preds = torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    dense = torch.tensor([[0.7, 0.3, 0, 0], [0.6, 0.4, 0, 0], [0, 0, 0.2, 0.8]])
    plain = MulticlassAccuracy(num_classes=4, average='micro')
    plain.update(preds, dense)
    assert plain.compute() != pytest.approx(1 / 3), 'the problem this module exists for: dense rows are misread'
    metric = DominantLabel(MulticlassAccuracy(num_classes=4, average='micro'))
    assert takes_hard_targets(metric.metric) and not takes_hard_targets(metric)
    metric.update(preds, dense)
    assert metric.compute() == pytest.approx(1 / 3)
    metric.update(preds, torch.tensor([0, 1, 2]))  # index targets pass through
    assert metric.compute() == pytest.approx(4 / 6)
    metric.reset()
    assert metric.metric.tp.sum() == 0, 'reset reaches the wrapped metric'
    macro = DominantLabel(MulticlassAccuracy(num_classes=4, average='macro'))
    expected = MulticlassAccuracy(num_classes=4, average='macro')(preds, dense.argmax(1))
    assert macro(preds, dense) == expected  # forward too; torchmetrics' bincount would crash on dense rows
    with pytest.raises(TypeError, match='Multiclass'):
        DominantLabel(torch.nn.Identity())
