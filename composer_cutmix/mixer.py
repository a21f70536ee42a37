"""timm's ``Mixup`` call on the one mixing core: ``x, y = mixer(x, y)`` in any plain PyTorch loop.

A timm training script swaps ``timm.data.Mixup`` for :class:`Mixer` and keeps the rest: the same keyword arguments
with the same meanings, ``mixup_enabled = False`` at ``mixup_off_epoch``, ``x`` mixed in place and dense (smoothed)
targets back. Unlike timm's it takes odd batch sizes (partners come from a random permutation, not from the
reversed batch) and a seeded ``generator``. The Composer algorithms draw through a :class:`Mixer` too.
"""

from __future__ import annotations

from typing import Optional

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
    mix_step,
    mix_targets,
)

__all__ = ['Mixer']


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

    def _coin(self, p: float) -> bool:
        return p >= 1.0 or (p > 0.0 and bool(torch.rand((), generator=self.generator) < p))

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
        if not self._coin(self.prob):
            return None
        if self.use_cutmix and (not self.use_mixup or self._coin(self.switch_prob)):
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
