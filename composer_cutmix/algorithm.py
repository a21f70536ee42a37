"""CutMix, MixUp, the MixUp/CutMix switch, ResizeMix, FMix and RandomMix as Composer algorithms: thin routers from
events onto the mixing core.

Each algorithm holds a mixer (:mod:`composer_cutmix.mixer`: what to draw) and shares one contract, implemented once
in :class:`MixingAlgorithm`:

* ``Event.INIT``: take ``num_classes`` from the model when it is not given (refuse a mismatch), refuse a second
  mixing algorithm in the same Trainer, make the model's loss take dense targets, seed the algorithm's own CPU
  generator from the trainer's seed.
* ``Event.FIT_START``: wrap multiclass/multilabel training metrics in
  :class:`~composer_cutmix.metrics.DominantLabel`.
* ``Event.AFTER_DATALOADER`` (training only): check the batch on the host, draw on the CPU, move ``state.batch``
  to ``state.device`` and mix it there (:func:`~composer_cutmix.mixing.apply`,
  :func:`~composer_cutmix.mixing.mix_targets`); one draw per minibatch, shared by all its microbatches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from composer.algorithms import CutMix as ComposerCutMix
from composer.algorithms import LabelSmoothing
from composer.algorithms import MixUp as ComposerMixUp
from composer.core import Algorithm, Event, State, Time, TimeUnit
from composer.loggers import Logger
from composer.utils import batch_get, batch_set
from torch import Tensor

from composer_cutmix.loss import attach_dense_loss
from composer_cutmix.metrics import DominantLabel, takes_hard_targets
from composer_cutmix.mixer import BatchMixer, DrawMixer, Mixer, RandomMixer
from composer_cutmix.mixing import (
    MixingError,
    MixParams,
    apply,
    check_alpha,
    check_decay_power,
    check_flag,
    check_input,
    check_interpolation,
    check_mask_targets,
    check_n_classes,
    check_placement,
    check_scale,
    check_targets,
    draw_fmix,
    draw_resizemix,
    mix_targets,
    to_device,
)

__all__ = ['CutMix', 'FMix', 'MixUp', 'MixUpCutMix', 'MixingAlgorithm', 'RandomMix', 'ResizeMix', 'is_mixing_algorithm',
           'model_num_classes']

log = logging.getLogger(__name__)

Key = Union[int, str, tuple[Callable, Callable], Any]


def model_num_classes(model: Any) -> Optional[int]:
    """The class count a model declares: ``ComposerClassifier.num_classes``, or an integer ``num_classes``
    attribute of the model or of the network it wraps (``.module``, ``.model``); None when it has none."""
    for candidate in (model, getattr(model, 'module', None), getattr(model, 'model', None)):
        value = getattr(candidate, 'num_classes', None)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
    return None


def is_mixing_algorithm(algorithm: Any) -> bool:
    """True for any algorithm that mixes batches: ours, and Composer's ``CutMix`` and ``MixUp``."""
    return isinstance(algorithm, (MixingAlgorithm, ComposerCutMix, ComposerMixUp))


def _parse_stop_at(stop_at: Union[None, str, int, Time]) -> Optional[Time]:
    if stop_at is None:
        return None
    try:
        t = stop_at if isinstance(stop_at, Time) else Time.from_input(stop_at, TimeUnit.EPOCH)
    except (ValueError, TypeError) as e:
        raise MixingError(
            f"stop_at must be a Composer time such as '0.9dur', '20ep', '5000ba' or an epoch count, got {stop_at!r}.",
        ) from e
    if t.unit not in (TimeUnit.DURATION, TimeUnit.EPOCH, TimeUnit.BATCH, TimeUnit.SAMPLE):
        raise MixingError(f"stop_at must be in 'dur', 'ep', 'ba' or 'sp' units, got {stop_at!r}.")
    if t.value < 0 or (t.unit == TimeUnit.DURATION and t.value > 1):
        raise MixingError(f'stop_at must be >= 0 (and <= 1dur for a fraction of training), got {stop_at!r}.')
    return t


def _replaced(batch: Any, key: Key, value: Any) -> Any:
    """``batch`` with ``key`` set to ``value``, leaving ``batch`` itself as it was (a shallow copy is set)."""
    return batch_set(dict(batch) if isinstance(batch, dict) else list(batch) if isinstance(batch, list) else batch,
                     key, value)


def _check_num_classes(num_classes: Any) -> Optional[int]:
    if num_classes is None:
        return None
    if isinstance(num_classes, float):
        raise MixingError(
            f"num_classes must be an integer >= 1 (or None: taken from the model), got {num_classes!r}. Composer's "
            f'CutMix/MixUp take alpha first; here pass it by name: alpha={num_classes!r}.',
        )
    return check_n_classes(num_classes, 'num_classes')


def _two_mixers_error(algorithm: MixingAlgorithm, other: Algorithm) -> MixingError:
    """Why ``algorithm`` and ``other`` cannot both be in one Trainer, and what to do instead."""
    for outer, op in ((algorithm, other), (other, algorithm)):
        if any(op is o for o in getattr(outer, 'ops', ())):
            return MixingError(
                f'{op!r} is one of the ops of {type(outer).__name__} and is also in Trainer(algorithms=...) itself: '
                f'{type(outer).__name__} already mixes each batch with one of its ops, and the op on its own would mix '
                f'every batch a second time. Remove {type(op).__name__} from Trainer(algorithms=...) and keep it only '
                f'in {type(outer).__name__}(ops=[...]).',
            )
    owner = '' if isinstance(other, MixingAlgorithm) else "Composer's "
    return MixingError(
        f'{type(algorithm).__name__} and {owner}{type(other).__name__} are both in Trainer(algorithms=...): each '
        f'mixes every batch, so every batch would be mixed twice. Keep one mixer; to use MixUp and CutMix together, '
        f'use MixUpCutMix(mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5), which picks one of them per batch, '
        f'or RandomMix([MixUp(), CutMix(), ResizeMix(), FMix()]) to pick among more ops.',
    )


class MixingAlgorithm(Algorithm):
    """What every mixing algorithm of this package shares: the events, routed onto its :attr:`mixer`.

    Args:
        mixer: what to draw (a :class:`~composer_cutmix.mixer.Mixer`, ``DrawMixer`` or ``RandomMixer``); its
            generator is seeded at INIT.
        num_classes: width of the dense targets; ``None`` takes it from the model at ``Event.INIT``.
        input_key: where the input sits in the batch: an index, a dict key, or a ``(getter, setter)`` pair.
        target_key: where the target sits in the batch, likewise.
        stop_at: stop mixing from this point on (``'0.9dur'``, ``'20ep'``, ``'5000ba'``); ``None`` never stops.
        interpolate_loss: keep index targets and train on ``lam * loss(y) + (1 - lam) * loss(y[perm])``.
        target_type: ``'labels'`` or ``'mask'`` (segmentation; CutMix only).
        log_params: send each draw (``lam``, the box) to Composer's loggers.
        check_loss: make/verify at INIT that the model's loss takes dense targets.
    """

    #: prefix of the metrics this algorithm logs (``cutmix/active``...).
    log_prefix = 'mix'
    #: the mixing algorithms this one picks among (:class:`RandomMix`); empty for the others.
    ops: tuple[MixingAlgorithm, ...] = ()

    def __init__(
        self,
        mixer: BatchMixer,
        num_classes: Optional[int] = None,
        *,
        input_key: Key = 0,
        target_key: Key = 1,
        stop_at: Union[None, str, int, Time] = None,
        interpolate_loss: bool = False,
        target_type: str = 'labels',
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        self.mixer = mixer
        self._num_classes_arg = self.num_classes = _check_num_classes(num_classes)
        self.interpolate_loss = check_flag('interpolate_loss', interpolate_loss)
        self.log_params = check_flag('log_params', log_params)
        self.check_loss = check_flag('check_loss', check_loss)
        if target_type not in ('labels', 'mask'):
            raise MixingError(f"target_type must be 'labels' (class labels/dense targets) or 'mask' (segmentation), "
                              f'got {target_type!r}.')
        if interpolate_loss and (mixer.mode == 'elem' or target_type == 'mask'):
            raise MixingError(
                "interpolate_loss=True needs one lam per batch and class labels; use mode='batch' and "
                "target_type='labels', or keep interpolate_loss=False (dense targets).",
            )
        self.input_key, self.target_key, self.target_type = input_key, target_key, target_type
        self._stop_at_arg = stop_at
        self.stop_at = _parse_stop_at(stop_at)
        self._stopped = False
        #: The last draw (:class:`~composer_cutmix.mixing.MixParams`, ``.op`` names the op), None when unmixed.
        self.last_params: Optional[MixParams] = None
        #: The labels of the last batch before mixing (on the device), for pictures and logs.
        self.last_labels: Optional[Tensor] = None
        # interpolate_loss: the two label sets of the current batch and where the next microbatch starts.
        self._y_a: Optional[Tensor] = None
        self._y_b: Optional[Tensor] = None
        self._lam = 1.0
        self._cursor = 0

    prob = property(lambda self: self.mixer.prob, doc='The chance a batch is mixed.')
    mode = property(lambda self: self.mixer.mode, doc="``'batch'`` or ``'elem'``.")
    label_smoothing = property(lambda self: self.mixer.label_smoothing, doc='Smoothing of the dense targets.')

    def _repr_args(self) -> dict[str, tuple[Any, Any]]:
        """``name -> (value, default)`` of the constructor arguments, for ``repr``."""
        return {
            'input_key': (self.input_key, 0), 'target_key': (self.target_key, 1), 'prob': (self.prob, 1.0),
            'stop_at': (self._stop_at_arg, None), 'mode': (self.mode, 'batch'),
            'log_params': (self.log_params, False), 'check_loss': (self.check_loss, True),
        }

    def __repr__(self) -> str:
        args = [f'num_classes={self._num_classes_arg}']
        args += [f'{k}={v!r}' for k, (v, default) in self._repr_args().items() if v != default]
        return f'{type(self).__name__}({", ".join(args)})'

    # ----------------------------------------------------------------------------------------------- events

    def match(self, event: Event, state: State) -> bool:
        if event in (Event.INIT, Event.FIT_START, Event.AFTER_DATALOADER):
            return True
        return self.interpolate_loss and event in (Event.BEFORE_TRAIN_BATCH, Event.BEFORE_BACKWARD)

    def apply(self, event: Event, state: State, logger: Logger) -> None:
        if event == Event.INIT:
            self._on_init(state)
        elif event == Event.FIT_START:
            self._score_against_dominant_label(state)
        elif event == Event.AFTER_DATALOADER:
            self._mix(state, logger)
        elif event == Event.BEFORE_TRAIN_BATCH:
            self._cursor = 0
        elif event == Event.BEFORE_BACKWARD:
            self._interpolate_loss(state)

    def _on_init(self, state: State) -> None:
        name = type(self).__name__
        others = [a for a in state.algorithms if a is not self and is_mixing_algorithm(a)]
        if others:
            raise _two_mixers_error(self, others[0])
        self.num_classes = self._resolve_num_classes(state.model)
        self._seed(state.seed)
        if any(isinstance(a, LabelSmoothing) for a in state.algorithms):
            if self.interpolate_loss:
                raise MixingError(
                    f'{name}(interpolate_loss=True) recomputes the loss from index labels, which would drop what '
                    "Composer's LabelSmoothing did to the targets. Use ComposerClassifier(loss_fn="
                    'torch.nn.CrossEntropyLoss(label_smoothing=...)) instead, or interpolate_loss=False.',
                )
            if self.label_smoothing > 0:
                raise MixingError(
                    f"{name}(label_smoothing={self.label_smoothing}) and Composer's LabelSmoothing would smooth the "
                    f'targets twice. Keep one: drop LabelSmoothing, or set label_smoothing=0.',
                )
        if self.target_type == 'labels' and self.check_loss:
            log.info('%s: %s', name, attach_dense_loss(state.model, self.num_classes))

    def _resolve_num_classes(self, model: Any) -> int:
        name, given, declared = type(self).__name__, self._num_classes_arg, model_num_classes(model)
        if given is None and declared is None:
            raise MixingError(
                f'{name}(num_classes=None) takes the class count from the model, but {type(model).__name__} '
                f'declares none (no integer num_classes on it or on its .module). Pass it: '
                f'{name}(num_classes=...), or build the model as ComposerClassifier(net, num_classes=...).',
            )
        if given is not None and declared is not None and declared != given:
            raise MixingError(
                f'{name}(num_classes={given}) does not match the model, which has num_classes={declared}. '
                f'Pass num_classes={declared}, or leave num_classes out to take it from the model.',
            )
        return given if given is not None else declared

    def _score_against_dominant_label(self, state: State) -> None:
        if self.target_type != 'labels' or not state.train_metrics:
            return
        for name, metric in list(state.train_metrics.items()):
            if takes_hard_targets(metric):
                state.train_metrics[name] = DominantLabel(metric)
                log.info("%s: training metric %s is scored against each sample's dominant label.",
                         type(self).__name__, name)

    def _seed(self, seed: int) -> None:
        # A stream of its own, decorrelated from torch's global RNG (which Composer seeds with the same number).
        derived = int(np.random.SeedSequence([int(seed), 0xC07C]).generate_state(1, np.uint64)[0] >> 1)
        self.mixer.generator = torch.Generator().manual_seed(derived)

    @property
    def generator(self) -> torch.Generator:
        """The algorithm's own CPU generator (seeded at INIT; from torch's initial seed when driven by hand)."""
        if self.mixer.generator is None:
            self._seed(torch.initial_seed())
        return self.mixer.generator

    @generator.setter
    def generator(self, generator: torch.Generator) -> None:
        if not isinstance(generator, torch.Generator) or generator.device.type != 'cpu':
            raise MixingError(f'generator must be a CPU torch.Generator, got {generator!r}.')
        self.mixer.generator = generator

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.mixer.generator is not None:
            state['generator'] = self.mixer.generator.get_state()
        state['stopped'] = self._stopped
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if 'generator' in state:
            self.generator = self.mixer.generator or torch.Generator()
            self.mixer.generator.set_state(state['generator'])
        self._stopped = bool(state.get('stopped', False))

    # ----------------------------------------------------------------------------------------------- mixing

    def _is_stopped(self, state: State, logger: Logger) -> bool:
        if self.stop_at is None or self._stopped:
            return self._stopped
        if self.stop_at.unit == TimeUnit.DURATION:
            elapsed = state.get_elapsed_duration()
            self._stopped = elapsed is not None and elapsed >= self.stop_at
        else:
            self._stopped = state.timestamp.get(self.stop_at.unit) >= self.stop_at
        if self._stopped:
            log.info('%s: stop_at=%s reached at %s; batches pass through unmixed from now on.',
                     type(self).__name__, self.stop_at, state.timestamp.batch)
            logger.log_metrics({f'{self.log_prefix}/active': 0.0})
        return self._stopped

    def _validate(self, X: Any, y: Any) -> tuple[int, int, int]:
        """All checks of the batch, run before anything changes (labels while they are still on the host)."""
        if self.num_classes is None:
            raise MixingError(f'{type(self).__name__} does not know num_classes yet: pass num_classes=..., or let a '
                              f'Trainer run Event.INIT, which takes it from the model.')
        if not isinstance(X, Tensor):
            raise MixingError(
                f'{type(self).__name__} needs the input at input_key={self.input_key!r} to be a tensor (N, ..., H, W), '
                f'got {type(X).__name__}. Set input_key/target_key to where your batch keeps them.',
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
        if self.mixer.generator is None:
            self._seed(torch.initial_seed())
        params = None if self._is_stopped(state, logger) else self.mixer.draw(n, img_h, img_w)
        self.last_params = params

        moved = state.device.batch_to_device(batch)
        X_dev, y_dev = batch_get(moved, self.input_key), batch_get(moved, self.target_key)
        # Mix in place only in a copy the move made; never in memory the dataloader may still own.
        own_copy = X_dev.device != X.device or X_dev.data_ptr() != X.data_ptr()
        moved = batch_set(moved, self.input_key, apply(X_dev, params, inplace=own_copy))
        self.last_labels = y_dev
        state.batch = batch_set(moved, self.target_key, self._targets(y_dev, params))
        values = {'lam': 1.0} if params is None else params.as_dict()
        log.debug('%s draw: %s %s', type(self).__name__, None if params is None else params.op, values)
        if self.log_params:
            logger.log_metrics({f'{self.log_prefix}/{k}': float(v) for k, v in values.items()})

    def _targets(self, y: Tensor, params: Optional[MixParams]) -> Tensor:
        if self.target_type == 'mask':
            return apply(y, params)
        if self.interpolate_loss:
            return self._prepare_interpolation(y, params)
        return mix_targets(y, params, self.num_classes, smoothing=self.label_smoothing)

    # --------------------------------------------------------------------------------------- interpolate_loss

    def _prepare_interpolation(self, y: Tensor, params: Optional[MixParams]) -> Tensor:
        if params is None:
            self._y_a = self._y_b = None
            return y
        if y.ndim != 1:
            raise MixingError('interpolate_loss=True needs (N,) index targets; dense targets are mixed directly.')
        self._y_a, self._y_b = y, y.index_select(0, to_device(params.indices, y.device))
        self._lam = float(params.lam)
        # The batch carries each sample's dominant label, so training metrics score what mostly fills the image.
        return self._y_a if self._lam >= 0.5 else self._y_b

    def _interpolate_loss(self, state: State) -> None:
        if self._y_a is None:
            return
        m = batch_get(state.batch, self.target_key).shape[0]
        rows = slice(self._cursor, self._cursor + m)
        self._cursor += m
        if not isinstance(state.loss, Tensor) or not isinstance(state.outputs, Tensor):
            raise TypeError(f'{type(self).__name__}(interpolate_loss=True) supports a single loss tensor and a '
                            f'single output tensor.')
        model = state.model.module if isinstance(state.model, torch.nn.parallel.DistributedDataParallel) else state.model
        loss_a = model.loss(state.outputs, _replaced(state.batch, self.target_key, self._y_a[rows]))
        loss_b = model.loss(state.outputs, _replaced(state.batch, self.target_key, self._y_b[rows]))
        state.loss = self._lam * loss_a + (1.0 - self._lam) * loss_b


class CutMix(MixingAlgorithm):
    """`CutMix <https://arxiv.org/abs/1905.04899>`_: paste a box from another image, mix the labels by area.

    Runs on ``Event.AFTER_DATALOADER`` (training only): it moves ``state.batch`` to ``state.device`` itself and
    mixes it there with one box, one ``lam`` and one permutation for the whole minibatch, so every microbatch of a
    gradient-accumulation step shares the draw. Targets become dense ``(N, num_classes)`` distributions. At
    ``Event.INIT`` it takes ``num_classes`` from the model when omitted and makes the model's loss accept dense
    targets (see :func:`~composer_cutmix.loss.attach_dense_loss`); at ``Event.FIT_START`` it makes multiclass
    training metrics score against each sample's dominant label.

    Random draws come from the algorithm's own CPU generator, seeded from the trainer's seed (and rank), saved in
    checkpoints and restored on resume, so runs are reproducible and no draw needs the device. Composer's own call,
    ``CutMix(alpha=1.0, interpolate_loss=False, uniform_sampling=False, input_key=0, target_key=1)``, works as is.

    Args:
        num_classes: number of classes of the targets; ``None`` (default) takes it from the model at INIT.
        alpha: ``Beta(alpha, alpha)`` concentration for the box area. ``1.0`` (the paper) draws it uniformly.
        interpolate_loss: keep index targets and train on ``lam * CE(y) + (1 - lam) * CE(y[perm])``.
        uniform_sampling: Composer's placement: box centres over a range widened by half a box on each side, so
            every pixel is mixed equally often (boxes are clipped at the border, so smaller on average).
        input_key: where the input sits in the batch: an index, a dict key, or a ``(getter, setter)`` pair.
        target_key: where the target sits in the batch, likewise.
        keep_box_inside: place the whole box inside the image (never clipped), so the area used is the area drawn.
        prob: probability of mixing a batch (``mode='elem'``: a sample); the others pass through with one-hot
            dense targets.
        stop_at: stop mixing from this point on (``'0.9dur'``, ``'20ep'``, ``'5000ba'``); ``None`` never stops.
        mode: ``'batch'`` (the paper: one box for the batch) or ``'elem'`` (one box and ``lam`` per sample).
        target_type: ``'labels'`` (class labels or dense targets) or ``'mask'`` (segmentation: the same box is
            pasted into the ``(N, H, W)`` target mask).
        log_params: send ``lam`` and the box of every batch to Composer's loggers (``cutmix/*`` metrics). They
            are always logged at DEBUG level to Python's ``composer_cutmix.algorithm`` logger.
        check_loss: verify at INIT that the model's loss accepts dense targets.

    Example:
        >>> from composer_cutmix import CutMix
        >>> CutMix(num_classes=10, alpha=1.0)
        CutMix(num_classes=10, alpha=1.0)
        >>> CutMix(alpha=1.0, interpolate_loss=False, uniform_sampling=False, input_key=0, target_key=1)
        CutMix(num_classes=None, alpha=1.0)
    """

    log_prefix = 'cutmix'

    def __init__(
        self,
        num_classes: Optional[int] = None,
        alpha: float = 1.0,
        *,
        interpolate_loss: bool = False,
        uniform_sampling: bool = False,
        input_key: Key = 0,
        target_key: Key = 1,
        keep_box_inside: bool = False,
        prob: float = 1.0,
        stop_at: Union[None, str, int, Time] = None,
        mode: str = 'batch',
        target_type: str = 'labels',
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        self.alpha = check_alpha(alpha)
        placement = check_placement(uniform_sampling, keep_box_inside)
        self.uniform_sampling, self.keep_box_inside = uniform_sampling, keep_box_inside
        mixer = Mixer(mixup_alpha=0.0, cutmix_alpha=self.alpha, prob=prob, mode=mode, label_smoothing=0.0,
                      placement=placement)
        super().__init__(mixer, num_classes, input_key=input_key, target_key=target_key, stop_at=stop_at,
                         interpolate_loss=interpolate_loss, target_type=target_type, log_params=log_params,
                         check_loss=check_loss)

    def _repr_args(self) -> dict[str, tuple[Any, Any]]:
        return {'alpha': (self.alpha, None), 'uniform_sampling': (self.uniform_sampling, False),
                'keep_box_inside': (self.keep_box_inside, False), **super()._repr_args(),
                'interpolate_loss': (self.interpolate_loss, False), 'target_type': (self.target_type, 'labels')}


class MixUp(MixingAlgorithm):
    """`MixUp <https://arxiv.org/abs/1710.09412>`_: blend each image with a permuted partner, and the labels alike.

    The same contract as :class:`CutMix` (one draw per minibatch on ``Event.AFTER_DATALOADER``, on the device,
    dense targets and loss, truthful training metrics, its own checkpointed generator), with
    ``X_mixed = lam * X + (1 - lam) * X[perm]`` and ``lam ~ Beta(alpha, alpha)``.

    Args:
        num_classes: number of classes; ``None`` (default) takes it from the model at INIT.
        alpha: ``Beta(alpha, alpha)`` concentration; 0.2 (the MixUp paper's ImageNet value) blends lightly, 1.0
            draws ``lam`` uniformly.
        prob, stop_at, mode, interpolate_loss, input_key, target_key, log_params, check_loss: as for
            :class:`CutMix`.

    Example:
        >>> MixUp(num_classes=10, alpha=0.2)
        MixUp(num_classes=10, alpha=0.2)
    """

    log_prefix = 'mixup'

    def __init__(
        self,
        num_classes: Optional[int] = None,
        alpha: float = 0.2,
        *,
        prob: float = 1.0,
        stop_at: Union[None, str, int, Time] = None,
        mode: str = 'batch',
        interpolate_loss: bool = False,
        input_key: Key = 0,
        target_key: Key = 1,
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        self.alpha = check_alpha(alpha)
        mixer = Mixer(mixup_alpha=self.alpha, cutmix_alpha=0.0, prob=prob, mode=mode, label_smoothing=0.0)
        super().__init__(mixer, num_classes, input_key=input_key, target_key=target_key, stop_at=stop_at,
                         interpolate_loss=interpolate_loss, log_params=log_params, check_loss=check_loss)

    def _repr_args(self) -> dict[str, tuple[Any, Any]]:
        return {'alpha': (self.alpha, None), **super()._repr_args(),
                'interpolate_loss': (self.interpolate_loss, False)}


class MixUpCutMix(MixingAlgorithm):
    """The modern recipe's switch (DeiT, Swin, ConvNeXt, timm's ``Mixup``): CutMix or MixUp, picked per batch.

    timm's ``Mixup`` semantics argument for argument (it is a :class:`~composer_cutmix.mixer.Mixer` behind the
    contract of :class:`CutMix`): ``prob`` is the chance a batch is mixed at all; with both alphas ``> 0`` a mixed
    batch uses CutMix with probability ``switch_prob``, else MixUp; an alpha of 0 turns that op off.
    ``last_params.op`` says which op a batch got (``'mixup_cutmix'`` for a per-sample draw), and ``last_params`` is
    None when the batch was not mixed.

    Args:
        num_classes: number of classes; ``None`` (default) takes it from the model at INIT.
        mixup_alpha: MixUp's ``Beta(alpha, alpha)``; 0 turns MixUp off.
        cutmix_alpha: CutMix's ``Beta(alpha, alpha)``; 0 turns CutMix off (unless ``cutmix_minmax`` is set).
        switch_prob: probability of CutMix when both are on.
        prob: probability that a batch (in ``mode='elem'``: a sample) is mixed at all.
        cutmix_minmax: ``(lo, hi)``: draw the box height and width independently in ``[lo*H, hi*H)`` ×
            ``[lo*W, hi*W)``, fully inside the image, label weight ``1 - box area`` (CutMix stays on, as in timm).
        correct_lam: the CutMix label weight is the box's area (after clipping); ``False`` keeps the drawn lambda.
        label_smoothing: ``s``: targets become ``(1 - s) * y_mixed + s / C``, mixed and unmixed batches alike.
        mode: ``'batch'`` (one op and draw per batch) or ``'elem'`` (the choice and the draw per sample).
        stop_at, input_key, target_key, log_params, check_loss: as for :class:`CutMix`.

    Example:
        >>> MixUpCutMix(num_classes=1000, label_smoothing=0.1)
        MixUpCutMix(num_classes=1000, mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5, label_smoothing=0.1)
    """

    log_prefix = 'mixup_cutmix'

    def __init__(
        self,
        num_classes: Optional[int] = None,
        *,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        switch_prob: float = 0.5,
        prob: float = 1.0,
        cutmix_minmax: Optional[tuple[float, float]] = None,
        correct_lam: bool = True,
        label_smoothing: float = 0.0,
        mode: str = 'batch',
        stop_at: Union[None, str, int, Time] = None,
        input_key: Key = 0,
        target_key: Key = 1,
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        mixer = Mixer(mixup_alpha, cutmix_alpha, cutmix_minmax, prob, switch_prob, mode, correct_lam, label_smoothing)
        super().__init__(mixer, num_classes, input_key=input_key, target_key=target_key, stop_at=stop_at,
                         log_params=log_params, check_loss=check_loss)

    mixup_alpha = property(lambda self: self.mixer.mixup_alpha)
    cutmix_alpha = property(lambda self: self.mixer.cutmix_alpha)
    switch_prob = property(lambda self: self.mixer.switch_prob)
    cutmix_minmax = property(lambda self: self.mixer.cutmix_minmax)
    correct_lam = property(lambda self: self.mixer.correct_lam)

    def _repr_args(self) -> dict[str, tuple[Any, Any]]:
        return {'mixup_alpha': (self.mixup_alpha, None), 'cutmix_alpha': (self.cutmix_alpha, None),
                'switch_prob': (self.switch_prob, None), 'cutmix_minmax': (self.cutmix_minmax, None),
                'correct_lam': (self.correct_lam, True), 'label_smoothing': (self.label_smoothing, 0.0),
                **super()._repr_args()}


class ResizeMix(MixingAlgorithm):
    """`ResizeMix <https://arxiv.org/abs/2012.11101>`_: shrink each partner image whole and paste it into a box.

    The same contract as :class:`CutMix`, with the paper's draw (:func:`~composer_cutmix.mixing.draw_resizemix`):
    a side ratio ``tau ~ U(scale)``, a box of ``max(1, floor(H*tau))`` by ``max(1, floor(W*tau))`` placed uniformly
    where it fits whole; the box receives the whole partner image resized to it, the rest of the image is kept.
    Targets: own label ``1 - box area / image area``, the partner's the box's share. An image paired with itself
    gets a shrunken copy of itself and keeps its one-hot target. ``last_params.op`` is ``'resizemix'``.

    Args:
        num_classes: number of classes; ``None`` (default) takes it from the model at INIT.
        scale: ``(lo, hi)``, the range of the side ratio ``tau``, ``0 < lo <= hi <= 1``; the paper's ``(0.1, 0.8)``.
        interpolation: the ``F.interpolate`` mode that shrinks the partner (``'bilinear'``, ``'nearest'``...).
        prob, stop_at, input_key, target_key, log_params, check_loss: as for :class:`CutMix`.

    Example:
        >>> ResizeMix(num_classes=10, scale=(0.2, 0.6))
        ResizeMix(num_classes=10, scale=(0.2, 0.6))
    """

    log_prefix = 'resizemix'

    def __init__(
        self,
        num_classes: Optional[int] = None,
        *,
        scale: tuple[float, float] = (0.1, 0.8),
        interpolation: str = 'bilinear',
        prob: float = 1.0,
        stop_at: Union[None, str, int, Time] = None,
        input_key: Key = 0,
        target_key: Key = 1,
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        self.scale, self.interpolation = check_scale(scale), check_interpolation(interpolation)
        mixer = DrawMixer(partial(draw_resizemix, scale=self.scale, interpolation=self.interpolation), prob=prob)
        super().__init__(mixer, num_classes, input_key=input_key, target_key=target_key, stop_at=stop_at,
                         log_params=log_params, check_loss=check_loss)

    def _repr_args(self) -> dict[str, tuple[Any, Any]]:
        return {'scale': (self.scale, (0.1, 0.8)), 'interpolation': (self.interpolation, 'bilinear'),
                **super()._repr_args()}


class FMix(MixingAlgorithm):
    """`FMix <https://arxiv.org/abs/2002.12047>`_: mix each image with its partner through a low-frequency mask.

    The same contract as :class:`CutMix`, with the paper's draw (:func:`~composer_cutmix.mixing.draw_fmix`):
    ``lam ~ Beta(alpha, alpha)``; the ``round(lam*H*W)`` brightest pixels of a random low-frequency grey image
    (a power-law spectrum, ``decay_power``) form a binary mask, one for the batch and all channels; an image keeps
    its own pixels where the mask is True and takes its partner's elsewhere. Targets: own label the mask's mean (in
    pixels, exact), the partner's the rest. ``last_params.op`` is ``'fmix'`` and ``last_params.mask`` the mask.

    Args:
        num_classes: number of classes; ``None`` (default) takes it from the model at INIT.
        alpha: ``Beta(alpha, alpha)`` concentration of the mask's mean; the paper's 1.0 draws it uniformly.
        decay_power: how fast the spectrum decays with frequency; the paper's 3.0, larger gives smoother masks.
        prob, stop_at, input_key, target_key, log_params, check_loss: as for :class:`CutMix`.

    Example:
        >>> FMix(num_classes=10, alpha=1.0, decay_power=4.0)
        FMix(num_classes=10, alpha=1.0, decay_power=4.0)
    """

    log_prefix = 'fmix'

    def __init__(
        self,
        num_classes: Optional[int] = None,
        alpha: float = 1.0,
        *,
        decay_power: float = 3.0,
        prob: float = 1.0,
        stop_at: Union[None, str, int, Time] = None,
        input_key: Key = 0,
        target_key: Key = 1,
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        self.alpha, self.decay_power = check_alpha(alpha), check_decay_power(decay_power)
        mixer = DrawMixer(partial(draw_fmix, alpha=self.alpha, decay_power=self.decay_power), prob=prob)
        super().__init__(mixer, num_classes, input_key=input_key, target_key=target_key, stop_at=stop_at,
                         log_params=log_params, check_loss=check_loss)

    def _repr_args(self) -> dict[str, tuple[Any, Any]]:
        return {'alpha': (self.alpha, None), 'decay_power': (self.decay_power, 3.0), **super()._repr_args()}


#: what an op of :class:`RandomMix` leaves to RandomMix's own arguments: attribute -> the op's default.
_SET_ON_RANDOM_MIX = {'stop_at': None, 'input_key': 0, 'target_key': 1, 'log_params': False, 'check_loss': True}
#: what :class:`RandomMix` does not do (one op and one draw per batch, dense label targets): attribute -> default.
_NOT_IN_RANDOM_MIX = {'mode': 'batch', 'interpolate_loss': False, 'target_type': 'labels'}


class RandomMix(MixingAlgorithm):
    """`RandomMix <https://arxiv.org/abs/2205.08728>`_: each batch is mixed by one op, picked at random with weights.

    ``ops`` are this package's mixers, each with its own arguments (``MixUp(alpha=0.8)``, ``CutMix(alpha=1.0)``,
    ``ResizeMix()``, ``FMix()``, as in the paper);
    a batch goes to ``ops[i]`` with probability ``probs[i]`` and is left unmixed (one-hot targets, smoothed if
    asked) with the rest, ``1 - sum(probs)``. An op keeps its own ``prob``: a picked ``CutMix(prob=0.5)`` mixes half
    the batches it gets. ``last_params.op`` names the op a batch got (``'cutmix'``, ``'mixup'``...), and
    ``last_params`` is None for an unmixed batch. The same contract as :class:`CutMix` otherwise: one draw per
    minibatch, on the device, one generator (RandomMix's, seeded at INIT and checkpointed) for the pick and the
    picked op's draw.

    The ops are RandomMix's, not the Trainer's: giving one of them to ``Trainer(algorithms=...)`` as well is refused
    at INIT. What RandomMix routes (``stop_at``, ``input_key``, ``target_key``, ``log_params``, ``check_loss``) is set
    on RandomMix; an op that sets one of them, or ``mode='elem'``, ``interpolate_loss`` or ``target_type='mask'``
    (one op and one draw per batch, dense label targets), is refused.

    Args:
        ops: the mixers to pick from: :class:`CutMix`, :class:`MixUp`, :class:`ResizeMix`, :class:`FMix`.
        probs: each op's chance, ``>= 0``, summing to at most 1 (up to float rounding); None: equal chances summing
            to 1.
        num_classes: number of classes; ``None`` (default) takes the ops' (if any sets it), else the model's at INIT.
        label_smoothing: ``s``: targets become ``(1 - s) * y_mixed + s / C``, mixed and unmixed batches alike.
        stop_at, input_key, target_key, log_params, check_loss: as for :class:`CutMix`.

    Example:
        >>> RandomMix([MixUp(alpha=0.8), CutMix(alpha=1.0)], probs=[0.4, 0.4], label_smoothing=0.1)
        RandomMix([MixUp(num_classes=None, alpha=0.8), CutMix(num_classes=None, alpha=1.0)], probs=[0.4, 0.4], \
label_smoothing=0.1)
    """

    log_prefix = 'random_mix'

    def __init__(
        self,
        ops: Sequence[MixingAlgorithm],
        probs: Optional[Sequence[float]] = None,
        *,
        num_classes: Optional[int] = None,
        label_smoothing: float = 0.0,
        stop_at: Union[None, str, int, Time] = None,
        input_key: Key = 0,
        target_key: Key = 1,
        log_params: bool = False,
        check_loss: bool = True,
    ) -> None:
        self.ops = tuple(_check_ops(ops))
        declared = {op._num_classes_arg for op in self.ops} - {None}
        if num_classes is not None:
            declared.add(_check_num_classes(num_classes))
        if len(declared) > 1:
            raise MixingError(f'RandomMix: the ops and num_classes disagree on the class count ({sorted(declared)}). '
                              f'Set num_classes once, on RandomMix, or leave it out to take it from the model.')
        mixer = RandomMixer([op.mixer for op in self.ops], probs, label_smoothing=label_smoothing)
        super().__init__(mixer, declared.pop() if declared else None, input_key=input_key, target_key=target_key,
                         stop_at=stop_at, log_params=log_params, check_loss=check_loss)

    probs = property(lambda self: self.mixer.probs, doc="Each op's chance.")

    def _repr_args(self) -> dict[str, tuple[Any, Any]]:
        own = {k: v for k, v in super()._repr_args().items() if k not in ('prob', 'mode')}
        return {'probs': (list(self.probs), None), 'num_classes': (self._num_classes_arg, None),
                'label_smoothing': (self.label_smoothing, 0.0), **own}

    def __repr__(self) -> str:
        args = [repr(list(self.ops))] + [f'{k}={v!r}' for k, (v, default) in self._repr_args().items() if v != default]
        return f'{type(self).__name__}({", ".join(args)})'


def _check_ops(ops: Any) -> list[MixingAlgorithm]:
    """The ops of a :class:`RandomMix`, or a :class:`MixingError` naming the first that cannot be one."""
    accepted = ', '.join(cls.__name__ for cls in RANDOM_MIX_OPS)
    if isinstance(ops, Algorithm) or not isinstance(ops, Sequence) or isinstance(ops, (str, bytes)):
        raise MixingError(f'RandomMix takes ops as a list of mixers ({accepted}), e.g. RandomMix([MixUp(alpha=0.8), '
                          f'CutMix(alpha=1.0)]); got {ops!r}.')
    if not ops:
        raise MixingError(f'RandomMix needs at least one op to pick from ({accepted}); got an empty list.')
    for i, op in enumerate(ops):
        if not isinstance(op, RANDOM_MIX_OPS):
            if isinstance(op, MixingAlgorithm):  # MixUpCutMix, RandomMix
                got, hint = repr(op), ' It picks among ops itself: list its ops (MixUp(...), CutMix(...)) here instead.'
            elif is_mixing_algorithm(op):
                name = type(op).__name__
                got, hint = f"Composer's {name}", f' Use composer_cutmix.{name}, which takes the same arguments.'
            else:
                got, hint = repr(op), ''
            raise MixingError(f'RandomMix ops[{i}] must be one of {accepted}, got {got}.{hint}')
        for attr, default in {**_SET_ON_RANDOM_MIX, **_NOT_IN_RANDOM_MIX}.items():
            value = op._stop_at_arg if attr == 'stop_at' else getattr(op, attr)
            if value is not default and value != default:
                fix = (f'set {attr}={value!r} on RandomMix, which applies it to every op' if attr in _SET_ON_RANDOM_MIX
                       else 'RandomMix draws one op and one draw per batch, with dense label targets')
                raise MixingError(f'RandomMix ops[{i}] = {op!r} sets {attr}={value!r}: {fix}. Leave {attr} at its '
                                  f'default ({default!r}) on the op.')
    return list(ops)


#: the classes :class:`RandomMix` takes as ops.
RANDOM_MIX_OPS: tuple[type[MixingAlgorithm], ...] = (CutMix, MixUp, ResizeMix, FMix)
