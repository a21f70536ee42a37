"""Training metrics that stay truthful when a mixer makes the targets dense.

Composer scores training metrics on each microbatch. Once a mixer has made the targets ``(N, C)`` distributions,
torchmetrics' multiclass metrics either report 0.0 (``MulticlassAccuracy(average='micro')`` reads the float rows as
multi-dim labels) or crash (``average='macro'`` ends in ``bincount``). The mixing algorithms therefore wrap those
metrics in :class:`DominantLabel`, which scores them against each sample's *dominant label*: the label with the
larger weight, i.e. the image that covers the larger part of the mixed picture. Training accuracy then answers "did
the model name the main content of what it saw", which is comparable across runs with and without mixing (it is
exactly ordinary accuracy on unmixed batches). Evaluation metrics are never touched.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.wrappers.abstract import WrapperMetric

__all__ = ['DominantLabel', 'dominant_label', 'present_labels', 'takes_hard_targets']


def dominant_label(target: Tensor) -> Tensor:
    """``(N, C, ...)`` dense targets -> ``(N, ...)`` index of the largest weight (the first on a tie)."""
    return target.argmax(dim=1)


def present_labels(target: Tensor) -> Tensor:
    """Mixed multi-label targets -> 0/1 labels: a label is present when it covers at least half of the picture."""
    return (target >= 0.5).long()


def _family(metric: Metric) -> str:
    """``'Multiclass'``, ``'Multilabel'`` or ``''``: which of torchmetrics' classification families ``metric`` is."""
    name = type(metric).__name__
    if not type(metric).__module__.startswith('torchmetrics'):
        return ''
    return next((f for f in ('Multiclass', 'Multilabel') if name.startswith(f)), '')


def takes_hard_targets(metric: Metric) -> bool:
    """True for the metrics :class:`DominantLabel` is for: torchmetrics' multiclass and multilabel metrics."""
    return bool(_family(metric))


class DominantLabel(WrapperMetric):
    """Scores a multiclass (multilabel) metric against each sample's dominant label (present labels).

    Dense float targets ``(N, C, ...)`` become hard ones before they reach the wrapped metric: multiclass metrics get
    :func:`dominant_label`, multilabel metrics :func:`present_labels`. Hard targets pass through unchanged, so
    unmixed batches are scored as before. ``compute`` and ``reset`` are the wrapped metric's.

    Args:
        metric: a torchmetrics ``Multiclass*`` or ``Multilabel*`` metric.

    Example:
        >>> import torch
        >>> from torchmetrics.classification import MulticlassAccuracy
        >>> acc = DominantLabel(MulticlassAccuracy(num_classes=3, average='micro'))
        >>> acc.update(torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]]), torch.tensor([[0.3, 0.7, 0.0], [0.0, 0.6, 0.4]]))
        >>> float(acc.compute())
        0.5
    """

    def __init__(self, metric: Metric, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not takes_hard_targets(metric):
            raise TypeError(f'DominantLabel wraps a torchmetrics Multiclass*/Multilabel* metric, got '
                            f'{type(metric).__name__}.')
        self.metric = metric
        self._harden = present_labels if _family(metric) == 'Multilabel' else dominant_label

    def _hard(self, preds: Any, target: Any) -> Any:
        if isinstance(target, Tensor) and isinstance(preds, Tensor) and target.is_floating_point() \
                and target.ndim == preds.ndim and target.ndim >= 2:
            return self._harden(target)
        return target

    def update(self, preds: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        self.metric.update(preds, self._hard(preds, target), *args, **kwargs)

    def forward(self, preds: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        return self.metric(preds, self._hard(preds, target), *args, **kwargs)

    def compute(self) -> Any:
        return self.metric.compute()

    def reset(self) -> None:
        self.metric.reset()
        super().reset()
