"""What to draw for a batch: timm's ``Mixup`` call on the one mixing core, and the mixers the algorithms draw through.

A timm training script swaps ``timm.data.Mixup`` for :class:`Mixer` and keeps the rest: the same keyword arguments
with the same meanings, ``mixup_enabled = False`` at ``mixup_off_epoch``, ``x`` mixed in place and dense (smoothed)
targets back. Unlike timm's it takes odd batch sizes (partners come from a random permutation, not from the
reversed batch) and a seeded ``generator``.

Every mixer answers ``draw(n, img_h, img_w) -> MixParams or None`` from its ``generator`` and has ``prob``, ``mode``
and ``label_smoothing``: what the Composer algorithms route onto. :class:`Mixer` draws CutMix, MixUp or the switch;
:class:`DrawMixer` any op that is one draw function (ResizeMix, FMix); :class:`RandomMixer` picks one of several
mixers per batch (RandomMix).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Callable, Optional, Protocol

import torch
from torch import Tensor

from composer_cutmix.mixing import (
    PLACEMENTS,
    DrawTensors,
    MixingError,
    MixParams,
    apply,
    check_alpha,
    check_flag,
    check_generator,
    check_input,
    check_minmax,
    check_mode,
    check_n_classes,
    check_probability,
    check_targets,
    draw_cutmix,
    draw_minmax_cutmix,
    draw_mixup,
    is_number,
    mix_step,
    mix_targets,
)


def coin(p: float, generator: Optional[torch.Generator]) -> bool:
    """True with probability ``p``; draws nothing from ``generator`` when ``p`` is 0 or 1."""
    return p >= 1.0 or (p > 0.0 and bool(torch.rand((), generator=generator) < p))

__all__ = ['PROBS_TOLERANCE', 'BatchMixer', 'DrawMixer', 'Mixer', 'RandomMixer', 'check_probs', 'coin']


class Mixer:
    """MixUp, CutMix or the switch between them, with timm's ``Mixup`` arguments, as one callable.

    Per batch (``mode='batch'``): with probability ``prob`` the batch is mixed; with both ops on (``mixup_alpha > 0``
    and ``cutmix_alpha > 0`` or ``cutmix_minmax`` set) it is CutMix-ed with probability ``switch_prob``, else
    MixUp-ed. With ``mode='elem'`` each sample makes these choices and draws its own ``lam`` (and box).

    Args:
        mixup_alpha: MixUp's ``Beta(alpha, alpha)``; 0 turns MixUp off.
        cutmix_alpha: CutMix's ``Beta(alpha, alpha)``; 0 turns CutMix off (unless ``cutmix_minmax`` is set).
        cutmix_minmax: ``(lo, hi)``: CutMix box height and width drawn independently in ``[lo*H, hi*H)`` x
            ``[lo*W, hi*W)``, the box inside the image (turns CutMix on, as in timm).
        prob: the chance a batch (``'elem'``: a sample) is mixed at all.
        switch_prob: the chance of CutMix when both ops are on.
        mode: ``'batch'`` or ``'elem'``; timm's ``'pair'`` is refused (use ``'elem'``).
        correct_lam: the CutMix label weight is the area of the box after clipping; False keeps the drawn ``lam``.
        label_smoothing: ``s``: targets become ``(1 - s) * y_mixed + s / C``, mixed or not.
        num_classes: width of the dense targets.
        generator: CPU ``torch.Generator`` for every draw; None uses torch's global RNG.
        placement: where a CutMix box goes: ``'center'`` (the paper's: centre uniform, box clipped), ``'uniform'``
            (Composer's ``uniform_sampling``) or ``'inside'`` (whole box inside the image).

    Attributes:
        mixup_enabled: set False to stop mixing (timm's training script does at ``mixup_off_epoch``); the targets
            stay dense and smoothed.
        last_params: the last draw (:class:`~composer_cutmix.mixing.MixParams`), None for an unmixed batch.

    Example:
        >>> mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=10,
        ...               generator=torch.Generator().manual_seed(0))
        >>> x, y = mixer(torch.rand(5, 3, 8, 8), torch.arange(5))
        >>> tuple(y.shape), mixer.last_params.op in ('mixup', 'cutmix'), round(float(y.sum()), 4)
        ((5, 10), True, 5.0)
    """

    def __init__(
        self,
        mixup_alpha: float = 1.0,
        cutmix_alpha: float = 0.0,
        cutmix_minmax: Optional[tuple[float, float]] = None,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        mode: str = 'batch',
        correct_lam: bool = True,
        label_smoothing: float = 0.1,
        num_classes: int = 1000,
        *,
        generator: Optional[torch.Generator] = None,
        placement: str = 'center',
    ) -> None:
        self.mixup_alpha = check_alpha(mixup_alpha, 'mixup_alpha', allow_zero=True)
        self.cutmix_alpha = check_alpha(cutmix_alpha, 'cutmix_alpha', allow_zero=True)
        self.cutmix_minmax = check_minmax(cutmix_minmax)
        self.use_mixup = self.mixup_alpha > 0
        self.use_cutmix = self.cutmix_alpha > 0 or self.cutmix_minmax is not None
        if not (self.use_mixup or self.use_cutmix):
            raise MixingError(
                'mixup_alpha and cutmix_alpha are both 0, which turns both ops off. Set mixup_alpha > 0 (e.g. 0.8), '
                'cutmix_alpha > 0 (e.g. 1.0) or both; to train without mixing, leave the mixer out.',
            )
        self.prob = check_probability(prob, 'prob')
        self.switch_prob = check_probability(switch_prob, 'switch_prob')
        self.mode = check_mode(mode)
        self.correct_lam = check_flag('correct_lam', correct_lam)
        self.label_smoothing = check_probability(label_smoothing, 'label_smoothing')
        self.num_classes = check_n_classes(num_classes, 'num_classes')
        self.generator = check_generator(generator)
        if placement not in PLACEMENTS:
            raise MixingError(f'placement must be one of {", ".join(PLACEMENTS)}, got {placement!r}.')
        self.placement = placement
        self.mixup_enabled = True
        self.last_params: Optional[MixParams] = None

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mixup_alpha={self.mixup_alpha}, cutmix_alpha={self.cutmix_alpha}, '
                f'cutmix_minmax={self.cutmix_minmax}, prob={self.prob}, switch_prob={self.switch_prob}, '
                f'mode={self.mode!r}, label_smoothing={self.label_smoothing}, num_classes={self.num_classes})')

    def _cutmix(self, n: int, img_h: int, img_w: int, per_sample: bool) -> MixParams:
        if self.cutmix_minmax is not None:
            return draw_minmax_cutmix(n, img_h, img_w, self.cutmix_minmax, per_sample=per_sample,
                                      generator=self.generator)
        return draw_cutmix(n, img_h, img_w, self.cutmix_alpha, placement=self.placement, per_sample=per_sample,
                           correct_lam=self.correct_lam, generator=self.generator)

    def draw(self, n: int, img_h: int, img_w: int) -> Optional[MixParams]:
        """The draw for a batch of ``n`` images of ``img_h x img_w``; None when the batch is not mixed."""
        if not self.mixup_enabled:
            return None
        if self.mode == 'elem':
            return self._draw_per_sample(n, img_h, img_w)
        if not coin(self.prob, self.generator):
            return None
        if self.use_cutmix and (not self.use_mixup or coin(self.switch_prob, self.generator)):
            return self._cutmix(n, img_h, img_w, per_sample=False)
        return draw_mixup(n, self.mixup_alpha, generator=self.generator)

    def _draw_per_sample(self, n: int, img_h: int, img_w: int) -> Optional[MixParams]:
        g = self.generator
        mixed = torch.rand(n, generator=g) < self.prob
        if not bool(mixed.any()):
            return None
        cut = mixed & (torch.rand(n, generator=g) < self.switch_prob) if self.use_mixup else mixed
        if not self.use_cutmix:
            cut = torch.zeros_like(mixed)
        own = torch.ones(n)
        lam, bbox, blend, indices = own, None, None, None
        if self.use_cutmix:
            c = self._cutmix(n, img_h, img_w, per_sample=True)
            lam, bbox, indices = torch.where(cut, c.lam, own), c.bbox.masked_fill(~cut[:, None], 0), c.indices
        if self.use_mixup:
            m = draw_mixup(n, self.mixup_alpha, per_sample=True, generator=g)
            blend = torch.where(mixed & ~cut, m.lam, own)
            lam, indices = torch.where(cut, lam, blend), m.indices if indices is None else indices
        op = 'mixup_cutmix' if self.use_cutmix and self.use_mixup else ('cutmix' if self.use_cutmix else 'mixup')
        return MixParams(op, indices, lam, bbox, blend)

    def __call__(self, x: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Mixes ``x`` ``(N, C, H, W)`` in place and returns it with dense ``(N, num_classes)`` targets.

        ``target`` is ``(N,)`` labels in ``[0, num_classes)`` or ``(N, num_classes)`` dense targets. Everything is
        checked before ``x`` is touched.
        """
        n, img_h, img_w = check_input(x)
        check_targets(target, n, self.num_classes)
        self.last_params = params = self.draw(n, img_h, img_w)
        return apply(x, params, inplace=True), mix_targets(target, params, self.num_classes,
                                                          smoothing=self.label_smoothing)

    def draw_tensors(self, n: int, img_h: int, img_w: int) -> DrawTensors:
        """:meth:`draw` as :class:`~composer_cutmix.mixing.DrawTensors` (the identity when the batch is not mixed),
        for :meth:`mix_step`; also kept as :attr:`last_params`."""
        self.last_params = params = self.draw(n, img_h, img_w)
        return DrawTensors.identity(n) if params is None else params.as_tensors()

    def mix_step(self, x: Tensor, target: Tensor, draw: DrawTensors) -> tuple[Tensor, Tensor]:
        """The apply part of :meth:`__call__` for a draw given as tensors, out of place: one graph for every draw,
        so ``torch.compile(mixer.mix_step, fullgraph=True)`` compiles once per batch shape.

        ``draw`` is on ``x``'s device (``draw.to(x.device)``); the inputs are not checked here (check them before
        the compiled call with :func:`~composer_cutmix.mixing.check_input` and ``check_targets`` if need be).
        """
        return mix_step(x, target, draw, self.num_classes, smoothing=self.label_smoothing)


class BatchMixer(Protocol):
    """What the algorithms draw through: :class:`Mixer`, :class:`DrawMixer` and :class:`RandomMixer` are ones."""

    generator: Optional[torch.Generator]
    prob: float
    mode: str
    label_smoothing: float

    def draw(self, n: int, img_h: int, img_w: int) -> Optional[MixParams]: ...


class DrawMixer:
    """An op that is one draw function: with probability ``prob`` a batch gets ``draw_fn(n, img_h, img_w,
    generator=generator)``, else it is not mixed (None).

    Args:
        draw_fn: e.g. ``functools.partial(draw_fmix, alpha=1.0)``; its arguments are trusted (check them before).
        prob: the chance a batch is mixed.
        label_smoothing: ``s``: targets become ``(1 - s) * y_mixed + s / C``, mixed or not.
        generator: CPU ``torch.Generator`` for every draw; None uses torch's global RNG.

    Example:
        >>> from functools import partial
        >>> from composer_cutmix.mixing import draw_cutmix
        >>> mixer = DrawMixer(partial(draw_cutmix, alpha=0.4), generator=torch.Generator().manual_seed(0))
        >>> mixer.draw(4, 8, 8).op
        'cutmix'
    """

    mode = 'batch'

    def __init__(self, draw_fn: Callable[..., MixParams], *, prob: float = 1.0, label_smoothing: float = 0.0,
                 generator: Optional[torch.Generator] = None) -> None:
        self.draw_fn = draw_fn
        self.prob = check_probability(prob, 'prob')
        self.label_smoothing = check_probability(label_smoothing, 'label_smoothing')
        self.generator = check_generator(generator)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.draw_fn!r}, prob={self.prob}, label_smoothing={self.label_smoothing})'

    def draw(self, n: int, img_h: int, img_w: int) -> Optional[MixParams]:
        """The draw for a batch of ``n`` images of ``img_h x img_w``; None when the batch is not mixed."""
        if not coin(self.prob, self.generator):
            return None
        return self.draw_fn(n, img_h, img_w, generator=self.generator)


#: how far above 1 the chances of a :class:`RandomMixer` may add up (float rounding of e.g. ``[0.1] * 10``).
PROBS_TOLERANCE = 1e-6


def check_probs(probs: Optional[Sequence[float]], k: int) -> tuple[float, ...]:
    """``probs`` for ``k`` mixers as a tuple of floats, each ``>= 0`` and summing to at most 1 (up to
    :data:`PROBS_TOLERANCE`); None gives equal chances summing to 1."""
    if probs is None:
        return (1.0 / k,) * k
    if isinstance(probs, (str, bytes)) or not isinstance(probs, Sequence) or len(probs) != k:
        raise MixingError(f'probs must be a list of {k} numbers, one chance per op (or None for equal chances), '
                          f'got {probs!r}.')
    if not all(is_number(p) and math.isfinite(p) and p >= 0 for p in probs):
        raise MixingError(f'probs must be numbers >= 0, one per op, got {list(probs)!r}.')
    total = math.fsum(probs)
    if total > 1.0 + PROBS_TOLERANCE:
        raise MixingError(
            f'probs must sum to at most 1 (the rest is the chance a batch is not mixed), got {list(probs)!r}, '
            f'which sums to {total:g}. Divide them by {total:g}, or leave probs=None for equal chances.',
        )
    return tuple(float(p) for p in probs)


class RandomMixer:
    """One of several mixers per batch: mixer ``i`` with probability ``probs[i]``, no mixing with the rest.

    One uniform number from :attr:`generator` picks the mixer, which then draws from the same generator: setting
    :attr:`generator` sets it on every mixer, so one generator state describes (and restores) every draw.

    Args:
        mixers: the mixers to pick from (each keeps its own ``prob``: a picked mixer may still leave a batch alone).
        probs: their chances, each ``>= 0``, summing to at most 1; None: equal chances summing to 1.
        label_smoothing: ``s``: targets become ``(1 - s) * y_mixed + s / C``, mixed or not.
        generator: CPU ``torch.Generator`` for every draw; None uses torch's global RNG.

    Example:
        >>> mixer = RandomMixer([Mixer(mixup_alpha=0.8), Mixer(0.0, cutmix_alpha=1.0)], [0.5, 0.3],
        ...                     generator=torch.Generator().manual_seed(0))
        >>> sorted({getattr(mixer.draw(4, 8, 8), 'op', None) for _ in range(50)}, key=str)
        [None, 'cutmix', 'mixup']
    """

    mode = 'batch'

    def __init__(self, mixers: Sequence[BatchMixer], probs: Optional[Sequence[float]] = None, *,
                 label_smoothing: float = 0.0, generator: Optional[torch.Generator] = None) -> None:
        self.mixers = list(mixers)
        if not self.mixers:
            raise MixingError('RandomMixer needs at least one mixer to pick from.')
        self.probs = check_probs(probs, len(self.mixers))
        self.label_smoothing = check_probability(label_smoothing, 'label_smoothing')
        self.generator = check_generator(generator)
        # The upper edge of each mixer's share of [0, 1); chances that add up to 1 up to rounding leave no gap.
        self._edges = [math.fsum(self.probs[:i + 1]) for i in range(len(self.probs))]
        if self._edges[-1] >= 1.0 - PROBS_TOLERANCE:
            last = max(i for i, p in enumerate(self.probs) if p > 0)
            self._edges[last:] = [math.inf] * (len(self._edges) - last)

    @property
    def prob(self) -> float:
        """The chance that a batch goes to one of the mixers: ``sum(probs)``, at most 1."""
        return min(1.0, math.fsum(self.probs))

    @property
    def generator(self) -> Optional[torch.Generator]:
        """The one generator of every draw (the pick and the picked mixer's draw)."""
        return self._generator

    @generator.setter
    def generator(self, generator: Optional[torch.Generator]) -> None:
        self._generator = generator
        for mixer in self.mixers:
            mixer.generator = generator

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self.mixers!r}, probs={list(self.probs)}, '
                f'label_smoothing={self.label_smoothing})')

    def draw(self, n: int, img_h: int, img_w: int) -> Optional[MixParams]:
        """The picked mixer's draw for a batch of ``n`` images of ``img_h x img_w``; None when no mixer is picked
        (or the picked one leaves the batch alone)."""
        u = float(torch.rand((), generator=self._generator, dtype=torch.float64))
        for mixer, edge in zip(self.mixers, self._edges):
            if u < edge:
                return mixer.draw(n, img_h, img_w)
        return None
