"""Dense-target cross-entropy, and how the mixing algorithms attach it to a Composer model at ``Event.INIT``.

CutMix, MixUp and the switch turn labels into ``(N, num_classes)`` distributions, so the loss must accept them. Composer's default
``soft_cross_entropy`` does, but on every step it compares the target mass with the batch size on the host (a
host-device synchronisation) and warns "Some targets have less than 1 total probability" whenever float
rounding leaves a row a hair under 1. :func:`dense_cross_entropy` is ``torch.nn.functional.cross_entropy`` with
checked shapes, fp32 accumulation for half-precision logits, and neither of those.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from composer_cutmix.mixing import MixingError

__all__ = ['DenseCrossEntropyLoss', 'LossIncompatibleError', 'attach_dense_loss', 'dense_cross_entropy']

log = logging.getLogger(__name__)


class LossIncompatibleError(MixingError):
    """The model's loss cannot take the dense targets the mixing algorithms produce."""


def dense_cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    label_smoothing: float = 0.0,
    reduction: str = 'mean',
    weight: Optional[Tensor] = None,
    ignore_index: int = -100,
) -> Tensor:
    """Cross-entropy for ``(N, C, ...)`` logits and either dense or index targets.

    Args:
        logits: ``(N, C)`` or ``(N, C, d1, ...)`` unnormalised scores.
        target: dense probabilities of the same shape as ``logits`` (rows need not sum exactly to 1), or integer
            class indices of shape ``(N,)`` / ``(N, d1, ...)``.
        label_smoothing: mixes each target with the uniform distribution, ``(1 - s) * t + s / C``.
        reduction: ``'mean'`` (over samples), ``'sum'`` or ``'none'``.
        weight: optional ``(C,)`` class weights.
        ignore_index: index targets only: the label to ignore.

    Returns:
        The loss, a scalar unless ``reduction='none'``.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> hard = dense_cross_entropy(logits, torch.tensor([0, 1]))
        >>> soft = dense_cross_entropy(logits, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        >>> bool(torch.allclose(hard, soft))
        True
    """
    if not isinstance(logits, Tensor) or not isinstance(target, Tensor):
        raise TypeError('dense_cross_entropy expects tensors for logits and target.')
    if logits.ndim < 2:
        raise ValueError(f'logits must have shape (N, C, ...), got {tuple(logits.shape)}.')
    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f'label_smoothing must lie in [0, 1], got {label_smoothing}.')
    if weight is not None and weight.device != logits.device:
        weight = weight.to(logits.device)
    if target.shape == logits.shape and target.is_floating_point():
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        if weight is not None:
            weight = weight.to(logits.dtype)
        return F.cross_entropy(
            logits,
            target.to(logits.dtype),
            weight=weight,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )
    expected = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(target.shape) == expected and not target.is_floating_point():
        return F.cross_entropy(
            logits,
            target.long(),
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )
    raise ValueError(
        f'target of shape {tuple(target.shape)} and dtype {target.dtype} fits neither form for logits of shape '
        f'{tuple(logits.shape)}: dense targets need the same shape as the logits and a float dtype; index targets '
        f'need shape {expected} and an integer dtype.',
    )


class DenseCrossEntropyLoss(torch.nn.Module):
    """:func:`dense_cross_entropy` as a module, so class weights follow the model across devices.

    Example:
        >>> loss = DenseCrossEntropyLoss(label_smoothing=0.1)
        >>> float(loss(torch.zeros(2, 4), torch.tensor([0, 3]))) > 0
        True
    """

    def __init__(self, *, label_smoothing: float = 0.0, reduction: str = 'mean', weight: Optional[Tensor] = None,
                 ignore_index: int = -100) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.register_buffer('weight', None if weight is None else weight.detach().clone())

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return dense_cross_entropy(logits, target, label_smoothing=self.label_smoothing, reduction=self.reduction,
                                   weight=self.weight, ignore_index=self.ignore_index)

    def extra_repr(self) -> str:
        return f'label_smoothing={self.label_smoothing}, reduction={self.reduction!r}'


def _describe(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        return f'partial({_describe(fn.func)})'
    return getattr(fn, '__qualname__', None) or type(fn).__name__


def _probe(loss_fn: Callable, num_classes: int) -> Optional[str]:
    """Calls ``loss_fn`` on a tiny dense batch; returns why it failed, or None."""
    logits = torch.zeros(2, num_classes)
    target = torch.zeros(2, num_classes)
    target[:, 0] = 0.75
    target[:, -1] += 0.25
    try:
        with torch.no_grad():
            out = loss_fn(logits, target)
    except Exception as e:  # noqa: BLE001 -- any failure means the loss cannot take dense targets
        return f'{type(e).__name__}: {e}'
    if not isinstance(out, Tensor) or not torch.isfinite(out).all():
        return f'it returned {out!r} instead of a finite tensor'
    return None


def _set_loss(model: Any, loss: torch.nn.Module) -> None:
    # ComposerClassifier keeps its loss as ``_loss_fn``; a module loss is a registered child, so replace it whole.
    if '_loss_fn' in model._modules:
        del model._modules['_loss_fn']
    model._loss_fn = loss


def attach_dense_loss(model: Any, num_classes: int) -> str:
    """Makes a Composer model's loss accept the ``(N, num_classes)`` targets the mixing algorithms produce.

    For a :class:`composer.models.ComposerClassifier` the loss function is inspected:

    * Composer's ``soft_cross_entropy``, ``torch.nn.CrossEntropyLoss`` (its ``label_smoothing``, ``weight`` and
      ``reduction`` kept) and ``F.cross_entropy`` are replaced by :class:`DenseCrossEntropyLoss`;
    * losses that take dense targets as they are (:func:`dense_cross_entropy`, ``BCEWithLogitsLoss`` for
      multi-label targets, or any callable that passes a one-batch probe) are kept;
    * anything else raises :class:`LossIncompatibleError` saying what to do.

    Other models keep their own ``loss``; it must accept dense targets.

    Returns:
        A one-line description of what was done, for the log.
    """
    from composer.loss import soft_cross_entropy
    from composer.models import ComposerClassifier

    if not isinstance(model, ComposerClassifier):
        return f'{type(model).__name__} is not a ComposerClassifier: its own loss() must accept dense targets'
    fn = model._loss_fn
    base = fn.func if isinstance(fn, functools.partial) else fn
    if isinstance(fn, DenseCrossEntropyLoss) or base is dense_cross_entropy:
        return 'loss is already dense_cross_entropy'
    if base is soft_cross_entropy or base is F.cross_entropy:
        kwargs = dict(fn.keywords) if isinstance(fn, functools.partial) else {}
        kwargs = {k: v for k, v in kwargs.items() if k in ('label_smoothing', 'reduction', 'weight', 'ignore_index')}
        _set_loss(model, DenseCrossEntropyLoss(**kwargs))
        return f'replaced {_describe(fn)} with {model._loss_fn}'
    if isinstance(fn, torch.nn.CrossEntropyLoss):
        _set_loss(model, DenseCrossEntropyLoss(label_smoothing=fn.label_smoothing, reduction=fn.reduction,
                                               weight=fn.weight, ignore_index=fn.ignore_index))
        return f'replaced {fn} with {model._loss_fn}'
    if isinstance(fn, torch.nn.BCEWithLogitsLoss) or base is F.binary_cross_entropy_with_logits:
        return 'kept BCEWithLogitsLoss (takes dense and multi-label targets)'
    why = _probe(fn, num_classes)
    if why is not None:
        raise LossIncompatibleError(
            f"CutMix/MixUp turn targets into dense (N, {num_classes}) distributions, but the model's loss_fn "
            f'{_describe(fn)} fails on them ({why}). Use a loss that takes probabilities: '
            f'ComposerClassifier(..., loss_fn=composer_cutmix.dense_cross_entropy) or torch.nn.CrossEntropyLoss(), '
            f'or keep index targets with CutMix/MixUp(..., interpolate_loss=True) if the loss is linear in its target.',
        )
    return f'kept {_describe(fn)} (it accepted a dense probe batch)'
