"""Training metrics that stay truthful when CutMix, MixUp or the switch make the targets dense.

Composer scores training metrics on a copy of each microbatch taken before ``Event.BEFORE_FORWARD``. Once CutMix
has made the targets ``(N, C)`` distributions, torchmetrics' multiclass metrics either report 0.0
(``MulticlassAccuracy(average='micro')`` reads the float rows as multi-dim labels) or crash (``average='macro'``
ends in ``bincount``). CutMix therefore scores those metrics against each sample's *dominant label*: the label
with the larger weight, i.e. the image that covers the larger part of the mixed picture. Training accuracy then
answers "did the model name the main content of what it saw", which is comparable across runs with and without
CutMix (it is exactly ordinary accuracy on unmixed batches). Evaluation metrics are never touched.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torchmetrics import Metric

__all__ = [
    'dominant_label',
    'present_labels',
    'score_against_dominant_label',
    'takes_hard_targets',
    'takes_index_targets',
    'takes_multilabel_targets',
]

_FLAG = '_cutmix_dominant_label'


def dominant_label(target: Tensor) -> Tensor:
    """``(N, C, ...)`` dense targets -> ``(N, ...)`` index of the largest weight (the first on a tie)."""
    return target.argmax(dim=1)


def present_labels(target: Tensor) -> Tensor:
    """Mixed multi-label targets -> 0/1 labels: a label is present when it covers at least half of the picture."""
    return (target >= 0.5).long()


def _is_torchmetrics(metric: Metric, prefix: str) -> bool:
    return type(metric).__module__.startswith('torchmetrics') and type(metric).__name__.startswith(prefix)


def takes_index_targets(metric: Metric) -> bool:
    """True for torchmetrics' multiclass metrics, which need index targets."""
    return _is_torchmetrics(metric, 'Multiclass')


def takes_multilabel_targets(metric: Metric) -> bool:
    """True for torchmetrics' multilabel metrics, which need 0/1 targets."""
    return _is_torchmetrics(metric, 'Multilabel')


def takes_hard_targets(metric: Metric) -> bool:
    """True for the metrics :func:`score_against_dominant_label` is for: multiclass or multilabel torchmetrics."""
    return takes_index_targets(metric) or takes_multilabel_targets(metric)


def score_against_dominant_label(metric: Metric) -> bool:
    """Makes ``metric.update`` turn mixed targets back into hard ones; idempotent.

    Multiclass metrics get each sample's dominant label (:func:`dominant_label`), multilabel metrics the labels
    covering at least half of the picture (:func:`present_labels`). Hard targets pass through unchanged, so the
    metric still scores unmixed batches as before. The metric's state, ``state_dict`` and checkpoint format are
    untouched.

    Returns:
        True if the metric was changed now, False if it already was.
    """
    if getattr(metric, _FLAG, False):
        return False
    update = metric.update
    harden = present_labels if takes_multilabel_targets(metric) else dominant_label

    def update_with_dominant_label(preds: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(target, Tensor) and isinstance(preds, Tensor):
            if target.is_floating_point() and target.ndim == preds.ndim and target.ndim >= 2:
                target = harden(target)
        return update(preds, target, *args, **kwargs)

    metric.update = update_with_dominant_label
    setattr(metric, _FLAG, True)
    return True
