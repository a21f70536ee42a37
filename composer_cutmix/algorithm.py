"""CutMix as a Composer :class:`~composer.core.Algorithm`: a thin router from events to the functional code."""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from composer.core import Algorithm, Event, State, Time, TimeUnit
from composer.loggers import Logger
from composer.utils import batch_get, batch_set
from torch import Tensor

from composer_cutmix.functional import (
    CutMixElemParams,
    CutMixParams,
    _check_mode,
    _to_device,
    apply_cutmix,
    apply_cutmix_elem,
    check_alpha,
    check_input,
    check_mask_targets,
    check_n_classes,
    check_targets,
    mix_targets,
    sample_params,
    sample_params_elem,
)
from composer_cutmix.loss import attach_dense_loss
from composer_cutmix.metrics import score_against_dominant_label, takes_hard_targets

__all__ = ['CutMix']

log = logging.getLogger(__name__)

Key = Union[int, str, tuple[Callable, Callable], Any]


def _replaced(batch: Any, key: Key, value: Any) -> Any:
    """``batch`` with ``key`` set to ``value``, leaving ``batch`` itself as it was (a shallow copy is set)."""
    if isinstance(batch, dict):
        batch = dict(batch)
    elif isinstance(batch, list):
        batch = list(batch)
    return batch_set(batch, key, value)


def _parse_stop_at(stop_at: Union[None, str, int, Time]) -> Optional[Time]:
    if stop_at is None:
        return None
    try:
        t = stop_at if isinstance(stop_at, Time) else Time.from_input(stop_at, TimeUnit.EPOCH)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"stop_at must be a Composer time such as '0.9dur', '20ep', '5000ba' or an epoch count, got {stop_at!r}.",
        ) from e
    if t.unit not in (TimeUnit.DURATION, TimeUnit.EPOCH, TimeUnit.BATCH, TimeUnit.SAMPLE):
        raise ValueError(f"stop_at must be in 'dur', 'ep', 'ba' or 'sp' units, got {stop_at!r}.")
    if t.value < 0 or (t.unit == TimeUnit.DURATION and t.value > 1):
        raise ValueError(f'stop_at must be >= 0 (and <= 1dur for a fraction of training), got {stop_at!r}.')
    return t


class CutMix(Algorithm):
    """`CutMix <https://arxiv.org/abs/1905.04899>`_: paste a box from another image, mix the labels by area.

    Runs on ``Event.AFTER_DATALOADER`` (training only): it moves ``state.batch`` to ``state.device`` itself and
    mixes it there with one box, one ``lam`` and one permutation for the whole minibatch, so every microbatch of a
    gradient-accumulation step shares the draw. Targets become dense ``(N, num_classes)`` distributions. At
    ``Event.INIT`` it makes the model's loss accept them (see :func:`~composer_cutmix.loss.attach_dense_loss`),
    and at ``Event.FIT_START`` it makes multiclass training metrics score against each sample's dominant label.

    Random draws come from the algorithm's own CPU generator, seeded from the trainer's seed (and rank), saved in
    checkpoints and restored on resume, so runs are reproducible and no draw needs the device.

    Args:
        num_classes: number of classes of the targets.
        alpha: ``Beta(alpha, alpha)`` concentration for the box area. ``1.0`` (the paper) draws it uniformly.
        uniform_sampling: place boxes fully inside the image (never clipped) instead of centring them uniformly.
        input_key: where the input sits in the batch: an index, a dict key, or a ``(getter, setter)`` pair.
        target_key: where the target sits in the batch, likewise.
        prob: probability of mixing a batch; the others pass through with one-hot dense targets.
        stop_at: stop mixing from this point on (``'0.9dur'``, ``'20ep'``, ``'5000ba'``); ``None`` never stops.
        mode: ``'batch'`` (the paper: one box for the batch) or ``'elem'`` (one box and ``lam`` per sample).
        interpolate_loss: keep index targets and train on ``lam * CE(y) + (1 - lam) * CE(y[perm])``.
        target_type: ``'labels'`` (class labels or dense targets) or ``'mask'`` (segmentation: the same box is
            pasted into the ``(N, H, W)`` target mask).
        log_params: send ``lam`` and the box of every batch to Composer's loggers (``cutmix/*`` metrics). They
            are always logged at DEBUG level to Python's ``composer_cutmix.algorithm`` logger.
        check_loss: verify at INIT that the model's loss accepts dense targets.

    Example:
        >>> from composer_cutmix import CutMix
        >>> CutMix(num_classes=10, alpha=1.0)
        CutMix(num_classes=10, alpha=1.0)
    """

    def __init__(
        self,
        num_classes: int,
        alpha: float = 1.0,
        *,
        uniform_sampling: bool = False,
        input_key: Key = 0,
        target_key: Key = 1,
        prob: float = 1.0,
        stop_at: Union[None, str, int, Time] = None,
        mode: str = 'batch',
        interpolate_loss: bool = False,
        target_type: str = 'labels',
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        self.num_classes = check_n_classes(num_classes, 'num_classes')
        self.alpha = check_alpha(alpha)
        for name, value in (('uniform_sampling', uniform_sampling), ('interpolate_loss', interpolate_loss),
                            ('log_params', log_params), ('check_loss', check_loss)):
            if not isinstance(value, bool):
                raise ValueError(f'{name} must be True or False, got {value!r}.')
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be a probability in [0, 1], got {prob!r}.')
        _check_mode(mode, target_type)
        if interpolate_loss and mode == 'elem':
            raise ValueError(
                "interpolate_loss=True needs one lam per batch; use mode='batch', or keep interpolate_loss=False "
                "(dense targets) for mode='elem'.",
            )
        if interpolate_loss and target_type == 'mask':
            raise ValueError("interpolate_loss=True applies to class labels; with target_type='mask' the mask is pasted.")
        self.uniform_sampling = uniform_sampling
        self.input_key = input_key
        self.target_key = target_key
        self.prob = float(prob)
        self._stop_at_arg = stop_at
        self.stop_at = _parse_stop_at(stop_at)
        self.mode = mode
        self.interpolate_loss = interpolate_loss
        self.target_type = target_type
        self.log_params = log_params
        self.check_loss = check_loss

        self._generator: Optional[torch.Generator] = None
        self._stopped = False
        # The last draw, for inspection and logging: CutMixParams, CutMixElemParams, or None (passed through).
        self.last_params: Union[CutMixParams, CutMixElemParams, None] = None
        # interpolate_loss: the two label sets of the current batch and where the next microbatch starts.
        self._y_a: Optional[Tensor] = None
        self._y_b: Optional[Tensor] = None
        self._lam = 1.0
        self._cursor = 0

    def __repr__(self) -> str:
        args = [f'num_classes={self.num_classes}', f'alpha={self.alpha}']
        defaults = {
            'uniform_sampling': False, 'input_key': 0, 'target_key': 1, 'prob': 1.0, 'stop_at': None,
            'mode': 'batch', 'interpolate_loss': False, 'target_type': 'labels', 'log_params': False,
            'check_loss': True,
        }
        values = {**{k: getattr(self, k) for k in defaults}, 'stop_at': self._stop_at_arg}
        args += [f'{k}={values[k]!r}' for k, d in defaults.items() if values[k] != d]
        return f'CutMix({", ".join(args)})'

    # ----------------------------------------------------------------------------------------------- events

    def match(self, event: Event, state: State) -> bool:
        if event in (Event.INIT, Event.FIT_START, Event.AFTER_DATALOADER):
            return True
        return self.interpolate_loss and event in (Event.BEFORE_TRAIN_BATCH, Event.BEFORE_BACKWARD)

    def apply(self, event: Event, state: State, logger: Logger) -> None:
        if event == Event.INIT:
            self._on_init(state)
        elif event == Event.FIT_START:
            self._on_fit_start(state)
        elif event == Event.AFTER_DATALOADER:
            self._mix(state, logger)
        elif event == Event.BEFORE_TRAIN_BATCH:
            self._cursor = 0
        elif event == Event.BEFORE_BACKWARD:
            self._interpolate_loss(state)

    def _on_init(self, state: State) -> None:
        self._seed(state.seed)
        if self.interpolate_loss and any(type(a).__name__ == 'LabelSmoothing' for a in state.algorithms):
            raise ValueError(
                'CutMix(interpolate_loss=True) recomputes the loss from index labels, which would drop what '
                "Composer's LabelSmoothing did to the targets. Use ComposerClassifier(loss_fn="
                'torch.nn.CrossEntropyLoss(label_smoothing=...)) instead, or interpolate_loss=False.',
            )
        if self.target_type == 'labels' and self.check_loss:
            log.info('CutMix: %s', attach_dense_loss(state.model, self.num_classes))

    def _on_fit_start(self, state: State) -> None:
        if self.target_type != 'labels' or not state.train_metrics:
            return
        for name, metric in state.train_metrics.items():
            if takes_hard_targets(metric) and score_against_dominant_label(metric):
                log.info('CutMix: training metric %s is scored against each sample\'s dominant label.', name)

    def _seed(self, seed: int) -> None:
        # A stream of its own, decorrelated from torch's global RNG (which Composer seeds with the same number).
        derived = int(np.random.SeedSequence([int(seed), 0xC07C]).generate_state(1, np.uint64)[0] >> 1)
        self._generator = torch.Generator().manual_seed(derived)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self._generator is not None:
            state['generator'] = self._generator.get_state()
        state['stopped'] = self._stopped
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if 'generator' in state:
            if self._generator is None:
                self._generator = torch.Generator()
            self._generator.set_state(state['generator'])
        self._stopped = bool(state.get('stopped', False))

    # ----------------------------------------------------------------------------------------------- mixing

    def _is_stopped(self, state: State, logger: Logger) -> bool:
        if self.stop_at is None or self._stopped:
            return self._stopped
        if self.stop_at.unit == TimeUnit.DURATION:
            elapsed = state.get_elapsed_duration()
            reached = elapsed is not None and elapsed >= self.stop_at
        else:
            reached = state.timestamp.get(self.stop_at.unit) >= self.stop_at
        if reached:
            self._stopped = True
            log.info('CutMix: stop_at=%s reached at %s; batches pass through unmixed from now on.',
                     self.stop_at, state.timestamp.batch)
            logger.log_metrics({'cutmix/active': 0.0})
        return self._stopped

    def _validate(self, X: Any, y: Any) -> tuple[int, int, int]:
        """All checks of the batch, run before anything changes (labels while they are still on the host)."""
        if not isinstance(X, Tensor):
            raise TypeError(
                f'CutMix needs the input at input_key={self.input_key!r} to be a tensor (N, ..., H, W), got '
                f'{type(X).__name__}. Set input_key/target_key to where your batch keeps them.',
            )
        n, img_h, img_w = check_input(X)
        if self.target_type == 'mask':
            check_mask_targets(y, n, img_h, img_w)
        else:
            check_targets(y, n, self.num_classes)
        return n, img_h, img_w

    def _mix(self, state: State, logger: Logger) -> None:
        batch = state.batch
        X, y = batch_get(batch, self.input_key), batch_get(batch, self.target_key)
        n, img_h, img_w = self._validate(X, y)
        if self._generator is None:  # used without Event.INIT (e.g. driven by hand)
            self._seed(torch.initial_seed())

        mix = not self._is_stopped(state, logger)
        if mix and self.prob < 1.0:
            mix = bool(torch.rand((), generator=self._generator) < self.prob)
        if mix:
            if self.mode == 'elem':
                params = sample_params_elem(n, img_h, img_w, self.alpha, uniform_sampling=self.uniform_sampling,
                                            generator=self._generator)
            else:
                params = sample_params(n, img_h, img_w, self.alpha, uniform_sampling=self.uniform_sampling,
                                       generator=self._generator)
        else:
            params = None
        self.last_params = params

        moved = state.device.batch_to_device(batch)
        X_dev, y_dev = batch_get(moved, self.input_key), batch_get(moved, self.target_key)
        # Mix in place only in a copy the move made; never in memory the dataloader may still own.
        own_copy = X_dev.device != X.device or X_dev.data_ptr() != X.data_ptr()

        if params is None:
            X_new, y_new = X_dev, self._pass_through_targets(y_dev)
        elif self.mode == 'elem':
            X_new = apply_cutmix_elem(X_dev, params.bboxes, params.indices, inplace=own_copy)
            y_new = (apply_cutmix_elem(y_dev, params.bboxes, params.indices) if self.target_type == 'mask' else
                     mix_targets(y_dev, params.lam, params.indices, self.num_classes))
        else:
            X_new = apply_cutmix(X_dev, params.bbox, params.indices, inplace=own_copy)
            if self.target_type == 'mask':
                y_new = apply_cutmix(y_dev, params.bbox, params.indices)
            elif self.interpolate_loss:
                y_new = self._prepare_interpolation(y_dev, params)
            else:
                y_new = mix_targets(y_dev, params.lam, params.indices, self.num_classes)

        moved = batch_set(moved, self.input_key, X_new)
        state.batch = batch_set(moved, self.target_key, y_new)
        self._log(params, logger)

    def _pass_through_targets(self, y: Tensor) -> Tensor:
        if self.target_type == 'mask':
            return y
        if self.interpolate_loss:
            self._y_a = self._y_b = None
            return y
        # One target format for the loss whether or not this batch was mixed.
        return mix_targets(y, 1.0, torch.arange(y.shape[0]), self.num_classes)

    def _log(self, params: Union[CutMixParams, CutMixElemParams, None], logger: Logger) -> None:
        if isinstance(params, CutMixParams):
            values = params.as_dict()
        elif isinstance(params, CutMixElemParams):
            values = {'lam': float(params.lam.mean())}
        else:
            values = {'lam': 1.0}
        log.debug('CutMix draw: %s', values)
        if self.log_params:
            logger.log_metrics({f'cutmix/{k}': float(v) for k, v in values.items()})

    # --------------------------------------------------------------------------------------- interpolate_loss

    def _prepare_interpolation(self, y: Tensor, params: CutMixParams) -> Tensor:
        if y.ndim != 1:
            raise ValueError('interpolate_loss=True needs (N,) index targets; dense targets are mixed directly.')
        self._y_a = y
        self._y_b = y.index_select(0, _to_device(params.indices, y.device))
        self._lam = params.lam
        # The batch carries each sample's dominant label, so training metrics score what mostly fills the image.
        return self._y_a if params.lam >= 0.5 else self._y_b

    def _interpolate_loss(self, state: State) -> None:
        if self._y_a is None:
            return
        target = batch_get(state.batch, self.target_key)
        m = target.shape[0]
        rows = slice(self._cursor, self._cursor + m)
        self._cursor += m
        if not isinstance(state.loss, Tensor) or not isinstance(state.outputs, Tensor):
            raise TypeError('CutMix(interpolate_loss=True) supports a single loss tensor and a single output tensor.')
        model = state.model.module if isinstance(state.model, torch.nn.parallel.DistributedDataParallel) else state.model
        loss_a = model.loss(state.outputs, _replaced(state.batch, self.target_key, self._y_a[rows]))
        loss_b = model.loss(state.outputs, _replaced(state.batch, self.target_key, self._y_b[rows]))
        state.loss = self._lam * loss_a + (1.0 - self._lam) * loss_b

