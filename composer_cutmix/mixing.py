"""The one mixing core: a draw (:class:`MixParams`) and the pipeline that applies it. Imports only torch and numpy.

Every mixer is a draw (what to mix with what, and how much) applied by one pipeline:

* drawing, on the CPU from a ``torch.Generator``: :func:`draw_cutmix`, :func:`draw_mixup`, :func:`draw_minmax_cutmix`,
  :func:`draw_resizemix`, :func:`draw_fmix`;
* :func:`apply`: the pixels of any draw, on whatever device the batch lives, in place or not;
* :func:`mix_targets`: the dense ``(N, num_classes)`` targets of any draw, smoothing included.

A draw is one :class:`MixParams`, whatever the op: a shared draw (one ``lam``, one box, as the papers do) holds
Python numbers, a per-sample draw (timm's ``mode='elem'``) holds one row per sample. The algorithms, :class:`~composer_cutmix.mixer.Mixer`,
the preview, the loggers and the benchmarks all go through these three functions. A new op is a draw function and
an entry in :data:`APPLY`.

The checks (``check_*``) are for the doors: the public functions and constructors call them; the pipeline trusts a
draw made by the functions here. Each raises :class:`MixingError` naming the problem and the fix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'APPLY',
    'INTERPOLATIONS',
    'BBox',
    'DrawTensors',
    'MixParams',
    'MixingError',
    'apply',
    'apply_tensors',
    'draw_cutmix',
    'draw_fmix',
    'draw_minmax_cutmix',
    'draw_mixup',
    'draw_resizemix',
    'mix_step',
    'mix_targets',
    'mix_targets_tensors',
]

BBox = tuple[int, int, int, int]
PLACEMENTS = ('center', 'uniform', 'inside')
#: The ``F.interpolate`` modes ResizeMix takes (``align_corners=False`` for bilinear and bicubic).
INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'nearest-exact')


class MixingError(ValueError, TypeError):
    """Bad input or arguments for a mixing function or algorithm: the message names the problem and the fix.

    It is both a ``ValueError`` and a ``TypeError``, so ``except ValueError`` and ``except TypeError`` catch it
    alike; it is raised before anything is modified.
    """


@dataclass(frozen=True)
class MixParams:
    """One draw of any mixer: the op, who is paired with whom, and how much of each sample stays its own.

    Sample ``i`` is mixed with sample ``indices[i]``. A shared draw (the papers' batch mode) holds a float ``lam``
    and a tuple ``bbox``; a per-sample draw holds ``(N,)`` and ``(N, 4)`` tensors. ResizeMix and FMix draws are
    shared: ResizeMix has a tuple ``bbox`` (where the shrunken partner goes) and ``interpolation``; FMix has a
    ``mask`` and no box.

    Attributes:
        op: ``'cutmix'``, ``'mixup'``, ``'mixup_cutmix'`` (a per-sample draw where each sample has its own op),
            ``'resizemix'`` (the box receives the whole partner image, resized to the box) or ``'fmix'`` (the
            pixels outside ``mask`` take the partner's).
        indices: ``(N,)`` int64 permutation on the CPU.
        lam: the weight of each sample's own label (its partner's is ``1 - lam``): a float, or ``(N,)`` float32.
            ResizeMix: ``1 - box area / image area``; FMix: the mask's mean.
        bbox: where the partner's pixels go: ``(y0, x0, y1, x1)``, half-open rows ``y0:y1`` and columns ``x0:x1``;
            or ``(N, 4)`` int64 rows (empty rows for samples without a box); None: no box.
        blend: the weight of each sample's own pixels outside the box (MixUp: ``lam``): a float or ``(N,)``
            float32; None keeps the own pixels as they are.
        mask: FMix: ``(H, W)`` bool CPU tensor, shared by the batch and its channels, True where an image keeps its
            own pixel; None for the other ops.
        interpolation: ResizeMix: the ``F.interpolate`` mode that shrinks the partner (one of
            :data:`INTERPOLATIONS`; None reads as ``'bilinear'``); None for the other ops.

    Example:
        >>> p = draw_mixup(4, 0.2, generator=torch.Generator().manual_seed(0))
        >>> p.op, p.per_sample, p.weights().shape
        ('mixup', False, torch.Size([4]))
    """

    op: str
    indices: Tensor
    lam: Union[float, Tensor]
    bbox: Union[None, BBox, Tensor] = None
    blend: Union[None, float, Tensor] = None
    mask: Optional[Tensor] = None
    interpolation: Optional[str] = None

    @property
    def per_sample(self) -> bool:
        """True for a draw with one ``lam`` (and box) per sample."""
        return isinstance(self.lam, Tensor)

    def weights(self) -> Tensor:
        """``(N,)`` float32: each sample's own label weight."""
        n = self.indices.shape[0]
        return self.lam.float() if self.per_sample else torch.full((n,), float(self.lam))

    def boxes(self) -> Tensor:
        """``(N, 4)`` int64 boxes, one row a sample; rows of zeros where a sample has no box."""
        n = self.indices.shape[0]
        if self.bbox is None:
            return torch.zeros(n, 4, dtype=torch.int64)
        if isinstance(self.bbox, Tensor):
            return self.bbox
        return torch.tensor([self.bbox] * n, dtype=torch.int64)

    def ops(self) -> tuple[str, ...]:
        """Each sample's op: ``'cutmix'`` where it has a box, ``'mixup'`` where it is blended, else ``'none'``."""
        b = self.boxes()
        boxed = ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).tolist()
        if self.blend is None:
            blended = [False] * len(boxed)
        else:
            blended = (torch.as_tensor(self.blend).expand(len(boxed)) < 1).tolist()
        if not self.per_sample:  # a shared draw: every sample takes part, even through an empty box
            return (self.op,) * len(boxed)
        return tuple('cutmix' if c else ('mixup' if m else 'none') for c, m in zip(boxed, blended))

    def as_tensors(self, device: Optional[torch.device] = None) -> DrawTensors:
        """This draw as :class:`DrawTensors`, for :func:`mix_step` under ``torch.compile`` or in a CUDA graph.

        Every op and every draw of a batch shape gives tensors of the same shapes and dtypes, so a compiled step
        never specialises on a value. The complements (``1 - lam``) are computed here as the eager path computes
        them (in float64 for a shared draw, in float32 per sample), so both paths see the same weights.

        Raises:
            MixingError: for a ResizeMix or FMix draw: the compile-clean path covers CutMix and MixUp draws.
        """
        if self.op not in ('cutmix', 'mixup', 'mixup_cutmix'):
            raise MixingError(
                f"the compile-clean path (as_tensors, mix_step) covers CutMix and MixUp draws, not {self.op!r}; apply "
                f'a {self.op!r} draw with apply(X, params) and mix_targets(y, params, n_classes).',
            )
        n = self.indices.shape[0]
        lam = self.lam.double() if self.per_sample else torch.full((n,), self.lam, dtype=torch.float64)
        lam_other = (1 - self.lam).double() if self.per_sample else torch.full((n,), 1.0 - self.lam,
                                                                             dtype=torch.float64)
        if self.blend is None:
            blend, blend_other, blended = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), False
        elif self.per_sample:
            blend, blend_other, blended = self.blend.double(), (1 - self.blend.float()).double(), True
        else:
            blend = torch.full((n,), self.blend, dtype=torch.float64)
            blend_other, blended = torch.full((n,), 1.0 - self.blend, dtype=torch.float64), True
        draw = DrawTensors(self.indices.long(), self.boxes().long(), torch.stack([lam, lam_other], 1),
                           torch.stack([blend, blend_other], 1), torch.full((n,), blended))
        return draw if device is None else draw.to(device)

    def as_dict(self) -> dict[str, float]:
        """The scalar part of the draw, for logging: ``lam`` (its mean when per sample) and a shared box."""
        out = {'lam': float(self.weights().mean())}
        if isinstance(self.bbox, tuple):
            out.update(zip(('y0', 'x0', 'y1', 'x1'), map(float, self.bbox)))
        return out


class DrawTensors(NamedTuple):
    """A draw as tensors of fixed shapes, for compiled code (:func:`mix_step`); make one with
    :meth:`MixParams.as_tensors` or :meth:`DrawTensors.identity`.

    CutMix, MixUp, per-sample draws and "no mixing" all take this one form, so a step compiled for one batch shape
    serves every draw of that shape: no value is a Python number (nothing to specialise on) and no shape depends on
    the box.

    Attributes:
        indices: ``(N,)`` int64 permutation: sample ``i`` is mixed with ``indices[i]``.
        boxes: ``(N, 4)`` int64 ``(y0, x0, y1, x1)`` rows where the partner's pixels go; rows of zeros: no box.
        label_weights: ``(N, 2)`` float64: each sample's own label weight ``lam`` and its partner's ``1 - lam``.
        pixel_weights: ``(N, 2)`` float64: the own and partner pixel weights outside the box (MixUp's blend).
        blended: ``(N,)`` bool: the sample is blended outside its box; False keeps those pixels bit for bit.
    """

    indices: Tensor
    boxes: Tensor
    label_weights: Tensor
    pixel_weights: Tensor
    blended: Tensor

    @classmethod
    def identity(cls, n: int, device: Optional[torch.device] = None) -> DrawTensors:
        """The draw that mixes nothing (what :func:`apply` does with ``params=None``), in the same form."""
        weights = torch.tensor([[1.0, 0.0]], dtype=torch.float64, device=device).expand(n, 2).contiguous()
        return cls(torch.arange(n, device=device), torch.zeros(n, 4, dtype=torch.int64, device=device), weights,
                   weights.clone(), torch.zeros(n, dtype=torch.bool, device=device))

    def to(self, device: Union[str, torch.device], non_blocking: bool = False) -> DrawTensors:
        """The same draw on ``device``."""
        return DrawTensors(*(t.to(device, non_blocking=non_blocking) for t in self))

    def copy_(self, other: DrawTensors) -> DrawTensors:
        """Writes ``other`` into these tensors (the static inputs of a CUDA graph) and returns ``self``."""
        for dst, src in zip(self, other):
            dst.copy_(src, non_blocking=True)
        return self


# --------------------------------------------------------------------------------------------------------------
# Checks, for the public functions and constructors.
# --------------------------------------------------------------------------------------------------------------


def is_number(value: object) -> bool:
    """A real Python or numpy number, not a bool."""
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def check_alpha(alpha: float, name: str = 'alpha', *, allow_zero: bool = False) -> float:
    """Returns ``alpha`` as a float, or raises unless it is finite and ``> 0`` (``>= 0`` with ``allow_zero``)."""
    if not is_number(alpha):
        raise MixingError(f'{name} must be a positive number, got {alpha!r} of type {type(alpha).__name__}.')
    bound = '>= 0 (0 turns the op off)' if allow_zero else '> 0'
    if not math.isfinite(alpha) or alpha < 0 or (alpha == 0 and not allow_zero):
        raise MixingError(f'{name} must be a finite number {bound} (the paper uses alpha=1.0), got {alpha!r}.')
    return float(alpha)


def check_probability(value: float, name: str) -> float:
    """Returns ``value`` as a float, or raises unless it is a number in ``[0, 1]``."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise MixingError(f'{name} must be a probability in [0, 1], got {value!r}.')
    return float(value)


def check_flag(name: str, value: object) -> bool:
    """Returns ``value``, or raises unless it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise MixingError(f'{name} must be True or False, got {value!r}.')
    return bool(value)


def check_n_classes(n_classes: int, name: str = 'n_classes') -> int:
    """Returns ``n_classes`` as an int, or raises unless it is an integer ``>= 1``."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise MixingError(f'{name} must be an integer >= 1, got {n_classes!r} of type {type(n_classes).__name__}.')
    if n_classes < 1:
        raise MixingError(f'{name} must be >= 1, got {n_classes}.')
    return int(n_classes)


def check_mode(mode: str) -> str:
    """Returns ``mode``, or raises unless it is ``'batch'`` or ``'elem'``."""
    if mode == 'pair':
        raise MixingError("mode='pair' (timm's pairwise mode) is not supported: use mode='elem', which draws one lam "
                          "and box per sample as 'pair' does, and takes odd batch sizes.")
    if mode not in ('batch', 'elem'):
        raise MixingError(f"mode must be 'batch' (one draw for the batch) or 'elem' (one per sample), got {mode!r}.")
    return mode


def check_placement(uniform_sampling: bool, keep_box_inside: bool) -> str:
    """The box placement the two flags name (``'center'``, ``'uniform'`` or ``'inside'``); both True is refused."""
    if check_flag('uniform_sampling', uniform_sampling) and check_flag('keep_box_inside', keep_box_inside):
        raise MixingError(
            "uniform_sampling=True (Composer's placement: widened centres, boxes clipped) and keep_box_inside=True "
            '(the whole box inside the image, never clipped) are two different placements; pick one.',
        )
    return 'uniform' if uniform_sampling else ('inside' if keep_box_inside else 'center')


def check_minmax(cutmix_minmax) -> Optional[tuple[float, float]]:
    """Returns ``(lo, hi)`` with ``0 <= lo < hi <= 1`` (box sides as fractions of the image's), or None."""
    if cutmix_minmax is None:
        return None
    try:
        lo, hi = (float(v) for v in cutmix_minmax)
    except (TypeError, ValueError):
        raise MixingError(
            f'cutmix_minmax must be a pair (lo, hi) of fractions of the image side, e.g. (0.2, 0.8), got '
            f'{cutmix_minmax!r}.',
        ) from None
    if not 0.0 <= lo < hi <= 1.0:
        raise MixingError(f'cutmix_minmax (lo, hi) must satisfy 0 <= lo < hi <= 1, got {cutmix_minmax!r}.')
    return lo, hi


def check_generator(generator: Optional[torch.Generator]) -> Optional[torch.Generator]:
    """Returns ``generator``, or raises unless it is None or a CPU ``torch.Generator``."""
    if generator is not None and (not isinstance(generator, torch.Generator) or generator.device.type != 'cpu'):
        raise MixingError(f'generator must be a CPU torch.Generator (draws stay on the host), got {generator!r}.')
    return generator


def check_input(X: object, what: str = 'the input batch') -> tuple[int, int, int]:
    """Checks an input batch ``(N, ..., H, W)`` and returns ``(N, img_h, img_w)``."""
    if not isinstance(X, Tensor):
        raise MixingError(f'{what} must be a torch.Tensor of shape (N, ..., H, W), got {type(X).__name__}.')
    if X.ndim < 3:
        raise MixingError(
            f'{what} must have at least 3 dims (N, ..., H, W) so the box can cover the last two; got shape '
            f'{tuple(X.shape)}. Add a channel dim (X.unsqueeze(1)) for single-channel images.',
        )
    if X.is_complex() or X.dtype == torch.bool:
        raise MixingError(f'{what} must be a real (float or integer) tensor, got dtype {X.dtype}.')
    n, img_h, img_w = X.shape[0], X.shape[-2], X.shape[-1]
    if n == 0 or img_h == 0 or img_w == 0:
        raise MixingError(f'{what} is empty: shape {tuple(X.shape)}.')
    return n, img_h, img_w


def check_targets(y: object, n: int, n_classes: int, *, check_range: bool = True) -> None:
    """Checks targets: ``(N,)`` integer labels in ``[0, n_classes)`` or ``(N, n_classes)`` dense targets.

    ``check_range`` compares the labels with ``n_classes``; on a CUDA tensor that costs one host-device
    synchronisation, which is why the algorithms run this check while the batch is still on the host.
    """
    if not isinstance(y, Tensor):
        raise MixingError(f'targets must be a torch.Tensor of shape (N,) or (N, n_classes), got {type(y).__name__}.')
    if y.ndim == 1:
        if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
            raise MixingError(
                f'targets of shape (N,) must be integer class labels, got dtype {y.dtype}. '
                f'Use y.long() for labels, or pass dense targets of shape (N, n_classes).',
            )
        if y.shape[0] != n:
            raise MixingError(f'targets have {y.shape[0]} labels but the input batch has {n} samples.')
        if check_range and y.numel() > 0:
            bad = (y < 0) | (y >= n_classes)
            if bool(bad.any()):
                raise MixingError(
                    f'labels must lie in [0, n_classes) = [0, {n_classes}); found label {y[bad][0].item()}. '
                    f'Check n_classes/num_classes against your data set.',
                )
    elif y.ndim == 2:
        if y.dtype.is_complex:
            raise MixingError(f'dense targets must be real, got dtype {y.dtype}.')
        if tuple(y.shape) != (n, n_classes):
            raise MixingError(
                f'dense targets must have shape (N, n_classes) = ({n}, {n_classes}), got {tuple(y.shape)}.',
            )
    else:
        raise MixingError(
            f'targets must have shape (N,) (class labels) or (N, n_classes) (dense), got {tuple(y.shape)}.',
        )


def check_mask_targets(y: object, n: int, img_h: int, img_w: int) -> None:
    """Checks segmentation targets: an integer mask ``(N, H, W)`` (or ``(N, ..., H, W)``) matching the input."""
    if not isinstance(y, Tensor) or y.ndim < 3 or y.shape[0] != n or tuple(y.shape[-2:]) != (img_h, img_w):
        got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise MixingError(
            f'mask targets must be a tensor of shape (N, H, W) = ({n}, {img_h}, {img_w}) to match the input, got '
            f"{got}. For class labels use target_type='labels'.",
        )


def _as_int(value: object, what: str) -> int:
    if isinstance(value, Tensor) and value.numel() == 1 and not value.dtype.is_floating_point:
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise MixingError(f'{what} must be an integer, got {value!r} of type {type(value).__name__}.')
    return int(value)


def check_bbox(bbox: object, img_h: int, img_w: int) -> BBox:
    """Returns ``bbox`` as a tuple of ints, or raises unless ``0 <= y0 <= y1 <= H`` and ``0 <= x0 <= x1 <= W``."""
    if isinstance(bbox, (str, bytes)) or not isinstance(bbox, (Sequence, Tensor, np.ndarray)) or len(bbox) != 4:
        raise MixingError(f'bbox must be a sequence (y0, x0, y1, x1) of 4 integers, got {bbox!r}.')
    y0, x0, y1, x1 = (_as_int(v, 'each bbox coordinate') for v in bbox)
    if not (0 <= y0 <= y1 <= img_h and 0 <= x0 <= x1 <= img_w):
        raise MixingError(
            f'bbox (y0, x0, y1, x1) = {(y0, x0, y1, x1)} is not inside the {img_h}x{img_w} image: '
            f'need 0 <= y0 <= y1 <= {img_h} and 0 <= x0 <= x1 <= {img_w} (half-open rows y0:y1, columns x0:x1).',
        )
    return y0, x0, y1, x1


def check_bboxes(bboxes: object, n: int, img_h: int, img_w: int) -> Tensor:
    """Checks ``(N, 4)`` per-sample boxes for ``mode='elem'``; returns them as int64 CPU."""
    b = torch.as_tensor(bboxes)
    if b.dtype.is_floating_point or b.dtype.is_complex or b.dtype == torch.bool or tuple(b.shape) != (n, 4):
        raise MixingError(
            f"mode='elem' takes bbox as an ({n}, 4) integer tensor of (y0, x0, y1, x1) rows, got {tuple(b.shape)} "
            f'{b.dtype}.',
        )
    b = b.to('cpu', torch.int64)
    y0, x0, y1, x1 = b.unbind(1)
    ok = (0 <= y0) & (y0 <= y1) & (y1 <= img_h) & (0 <= x0) & (x0 <= x1) & (x1 <= img_w)
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0])
        raise MixingError(f'bbox row {i} = {b[i].tolist()} is not inside the {img_h}x{img_w} image.')
    return b


def check_indices(indices: object, n: int) -> Tensor:
    """Returns ``indices`` as an int64 CPU tensor, or raises unless it is a permutation of ``range(n)``."""
    try:
        idx = torch.as_tensor(indices)
    except (TypeError, ValueError, RuntimeError) as e:
        raise MixingError(f'indices must be a 1-D integer tensor (a permutation of range(N)), got {indices!r}.') from e
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise MixingError(f'indices must be integers, got dtype {idx.dtype}.')
    if idx.ndim != 1 or idx.shape[0] != n:
        raise MixingError(f'indices must have shape ({n},) to match the batch, got {tuple(idx.shape)}.')
    idx = idx.to('cpu', torch.int64)
    if not torch.equal(torch.sort(idx).values, torch.arange(n)):
        raise MixingError(
            f'indices must be a permutation of range({n}) (each sample used exactly once), got {idx.tolist()}.',
        )
    return idx


def check_lam(lam: object, n: int, per_sample: bool = False) -> Union[float, Tensor]:
    """Returns a given MixUp ``lam`` as a float (or an ``(N,)`` float32 CPU tensor when ``per_sample``).

    Raises unless every value lies in ``[0, 1]``.
    """
    if isinstance(lam, Tensor) and lam.numel() == 1 and lam.ndim <= 1 and not per_sample:
        lam = float(lam)
    if isinstance(lam, Tensor):
        if not per_sample or lam.dtype.is_complex or lam.dtype == torch.bool or tuple(lam.shape) != (n,):
            raise MixingError(
                f"lam must be a number in [0, 1] (or, with mode='elem', an ({n},) tensor of them), got a tensor of "
                f'shape {tuple(lam.shape)} and dtype {lam.dtype}.',
            )
        lam_cpu = lam.detach().to('cpu', torch.float32)
        if not bool(((lam_cpu >= 0) & (lam_cpu <= 1)).all()):
            raise MixingError(f'lam must lie in [0, 1]; got {lam_cpu.tolist()}.')
        return lam_cpu
    if not is_number(lam) or not 0.0 <= lam <= 1.0:
        raise MixingError(f"lam must be a number in [0, 1] (the weight of each sample's own image), got {lam!r}.")
    return float(lam)


def check_scale(scale: object) -> tuple[float, float]:
    """Returns ResizeMix's ``scale`` as ``(lo, hi)`` floats, or raises unless ``0 < lo <= hi <= 1``."""
    if (isinstance(scale, (str, bytes)) or not isinstance(scale, (Sequence, np.ndarray)) or len(scale) != 2
            or not all(is_number(v) for v in scale)):
        raise MixingError(
            f'scale must be a pair (lo, hi) of numbers, the range of the side ratio tau of the shrunken partner, '
            f'e.g. (0.1, 0.8) as in the paper; got {scale!r}.',
        )
    lo, hi = float(scale[0]), float(scale[1])
    if not 0.0 < lo <= hi <= 1.0:
        raise MixingError(f'scale (lo, hi) must satisfy 0 < lo <= hi <= 1 (fractions of the image side), got {scale!r}.')
    return lo, hi


def check_interpolation(mode: object) -> str:
    """Returns ResizeMix's ``interpolation``, or raises unless it is one of :data:`INTERPOLATIONS`."""
    if not isinstance(mode, str) or mode not in INTERPOLATIONS:
        raise MixingError(f'interpolation must be one of {INTERPOLATIONS} (an F.interpolate mode), got {mode!r}.')
    return mode


def check_decay_power(decay_power: object) -> float:
    """Returns FMix's ``decay_power`` as a float, or raises unless it is a finite number ``> 0``."""
    if not is_number(decay_power) or not math.isfinite(decay_power) or decay_power <= 0:
        raise MixingError(
            f'decay_power must be a finite number > 0 (the paper uses 3.0; larger gives smoother masks), got '
            f'{decay_power!r}.',
        )
    return float(decay_power)


def check_fmix_mask(mask: object, img_h: int, img_w: int) -> Tensor:
    """Returns a given FMix ``mask`` as an ``(H, W)`` bool CPU tensor (True: the image keeps its own pixel).

    Raises unless it is a bool, or 0/1 numeric, tensor (or numpy array) of shape ``(img_h, img_w)``.
    """
    if not isinstance(mask, (Tensor, np.ndarray)):
        raise MixingError(f'mask must be an ({img_h}, {img_w}) bool or 0/1 tensor, got {type(mask).__name__}.')
    m = torch.as_tensor(mask).detach()
    if tuple(m.shape) != (img_h, img_w):
        raise MixingError(
            f'mask must have shape (H, W) = ({img_h}, {img_w}) to match the images (one mask for the batch), got '
            f'{tuple(m.shape)}.',
        )
    if m.dtype.is_complex:
        raise MixingError(f'mask must be bool or 0/1, got dtype {m.dtype}.')
    m = m.to('cpu')
    if m.dtype != torch.bool:
        if not bool(((m == 0) | (m == 1)).all()):
            bad = m[(m != 0) & (m != 1)][0].item()
            raise MixingError(f'mask must hold only 0 and 1 (or be bool), found {bad!r}.')
        m = m != 0
    return m.contiguous()


# --------------------------------------------------------------------------------------------------------------
# Drawing (on the CPU: a few numbers, no device work, no synchronisation). Arguments are trusted.
# --------------------------------------------------------------------------------------------------------------


def beta(alpha: float, n: Optional[int], generator: Optional[torch.Generator]) -> np.ndarray:
    """``Beta(alpha, alpha)`` draws (a scalar when ``n`` is None), a function of the one torch generator.

    torch.distributions cannot take a generator; numpy's Beta sampler is seeded from the torch stream instead, so
    the whole draw is a function of ``generator`` (or of torch's global RNG when it is None).
    """
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    return np.random.default_rng(seed).beta(alpha, alpha, size=n)


def _uniform_ints(low: Tensor, high: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """One integer uniform in ``[low[i], high[i])`` per row (``high > low``)."""
    u = torch.rand(low.shape, generator=generator, dtype=torch.float64)
    return low + (u * (high - low)).long().clamp_max_(high - low - 1)


def box_lams(bboxes: Tensor, img_h: int, img_w: int) -> Tensor:
    """``(N, 4)`` boxes -> ``(N,)`` float32 ``1 - box area / image area``: the own label weight each implies."""
    area = (bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])
    return (1.0 - area.double() / (img_h * img_w)).float()


def draw_boxes(lam: Tensor, img_h: int, img_w: int, placement: str = 'center',
               generator: Optional[torch.Generator] = None) -> Tensor:
    """One box per entry of ``lam``: ``(N,)`` drawn weights -> ``(N, 4)`` int64 ``(y0, x0, y1, x1)`` rows.

    The box has the image's aspect ratio, with sides ``cut_h = floor(H * sqrt(1 - lam))`` and
    ``cut_w = floor(W * sqrt(1 - lam))``, placed in one of three ways:

    * ``'center'`` (the paper's reference code, timm 0.9, Composer): centre ``(cy, cx)`` uniform over the image,
      box ``[cy - cut_h // 2, cy + cut_h // 2)`` by ``[cx - cut_w // 2, cx + cut_w // 2)``, clipped to the image;
    * ``'uniform'`` (Composer's ``uniform_sampling``): the centre is uniform over the widened range
      ``[-ceil(cut/2), size + cut // 2)`` so every pixel is mixed equally often; same box rule, clipped;
    * ``'inside'``: a box of exactly ``cut_h x cut_w`` placed uniformly among the positions where it fits whole:
      never clipped, so its area is the drawn one (up to flooring).
    """
    cut = torch.sqrt((1.0 - lam.double()).clamp_min(0.0))
    cut_h, cut_w = (img_h * cut).long(), (img_w * cut).long()
    if placement == 'inside':
        return _place_inside(cut_h, cut_w, img_h, img_w, generator)
    if placement == 'uniform':
        cy = _uniform_ints(torch.div(-cut_h, 2, rounding_mode='floor'), img_h + cut_h // 2, generator)
        cx = _uniform_ints(torch.div(-cut_w, 2, rounding_mode='floor'), img_w + cut_w // 2, generator)
    else:
        cy = _uniform_ints(torch.zeros_like(cut_h), torch.full_like(cut_h, img_h), generator)
        cx = _uniform_ints(torch.zeros_like(cut_w), torch.full_like(cut_w, img_w), generator)
    return torch.stack([(cy - cut_h // 2).clamp(0, img_h), (cx - cut_w // 2).clamp(0, img_w),
                        (cy + cut_h // 2).clamp(0, img_h), (cx + cut_w // 2).clamp(0, img_w)], dim=1)


def _place_inside(cut_h: Tensor, cut_w: Tensor, img_h: int, img_w: int,
                  generator: Optional[torch.Generator]) -> Tensor:
    """Boxes of exactly ``cut_h x cut_w``, each placed uniformly among the positions where it fits whole."""
    y0 = _uniform_ints(torch.zeros_like(cut_h), img_h - cut_h + 1, generator)
    x0 = _uniform_ints(torch.zeros_like(cut_w), img_w - cut_w + 1, generator)
    return torch.stack([y0, x0, y0 + cut_h, x0 + cut_w], dim=1)


def _minmax_boxes(n: int, img_h: int, img_w: int, cutmix_minmax: tuple[float, float],
                  generator: Optional[torch.Generator]) -> Tensor:
    lo, hi = cutmix_minmax
    sides = []
    for size in (img_h, img_w):
        low = torch.full((n,), int(lo * size), dtype=torch.int64)
        sides.append(_uniform_ints(low, torch.clamp(torch.full_like(low, int(hi * size)), min=low + 1), generator))
    return _place_inside(*sides, img_h, img_w, generator)


def _cutmix_params(boxes: Tensor, drawn: Tensor, img_h: int, img_w: int, per_sample: bool, correct_lam: bool,
                   indices: Tensor) -> MixParams:
    lam = box_lams(boxes, img_h, img_w) if correct_lam else drawn.float()
    if per_sample:
        return MixParams('cutmix', indices, lam, boxes)
    return MixParams('cutmix', indices, float(lam[0]), tuple(int(v) for v in boxes[0]))


def draw_cutmix(n: int, img_h: int, img_w: int, alpha: float = 1.0, *, placement: str = 'center',
                per_sample: bool = False, correct_lam: bool = True,
                generator: Optional[torch.Generator] = None) -> MixParams:
    """Draws CutMix, as in the paper: ``lam ~ Beta(alpha, alpha)``, a box of area ``1 - lam``, a permutation.

    The box follows :func:`draw_boxes` (``placement``); the returned ``lam`` is the one the box implies after
    clipping (``1 - box area / image area``, timm's ``correct_lam``) unless ``correct_lam=False``.
    ``per_sample`` draws a ``lam`` and a box for each sample (one permutation pairs them).

    Example:
        >>> p = draw_cutmix(8, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> y0, x0, y1, x1 = p.bbox
        >>> p.lam == 1 - (y1 - y0) * (x1 - x0) / (32 * 32)
        True
    """
    drawn = torch.from_numpy(np.atleast_1d(beta(alpha, n if per_sample else None, generator)))
    boxes = draw_boxes(drawn, img_h, img_w, placement, generator)
    return _cutmix_params(boxes, drawn, img_h, img_w, per_sample, correct_lam,
                          torch.randperm(n, generator=generator))


def draw_minmax_cutmix(n: int, img_h: int, img_w: int, cutmix_minmax: tuple[float, float], *,
                       per_sample: bool = False, generator: Optional[torch.Generator] = None) -> MixParams:
    """timm's ``cutmix_minmax`` CutMix: the box height and width drawn independently, the box inside the image.

    ``cut_h`` is uniform over the integers of ``[int(lo * H), int(hi * H))`` (``cut_w`` likewise with ``W``);
    the label weight is always the box's, as in timm.
    """
    boxes = _minmax_boxes(n if per_sample else 1, img_h, img_w, cutmix_minmax, generator)
    return _cutmix_params(boxes, boxes, img_h, img_w, per_sample, True, torch.randperm(n, generator=generator))


def draw_mixup(n: int, alpha: float = 0.2, *, per_sample: bool = False,
               generator: Optional[torch.Generator] = None) -> MixParams:
    """Draws MixUp: ``lam ~ Beta(alpha, alpha)`` (one for the batch, or one per sample) and a permutation."""
    lam = beta(alpha, n if per_sample else None, generator)
    lam = torch.from_numpy(lam).float() if per_sample else float(lam)
    return MixParams('mixup', torch.randperm(n, generator=generator), lam, blend=lam)


def draw_resizemix(n: int, img_h: int, img_w: int, scale: tuple[float, float] = (0.1, 0.8), *,
                   interpolation: str = 'bilinear', generator: Optional[torch.Generator] = None) -> MixParams:
    """Draws ResizeMix, as in the paper: a side ratio ``tau ~ U(scale)``, a box placed whole, a permutation.

    The box is ``h = max(1, floor(H * tau))`` by ``w = max(1, floor(W * tau))``, its corner ``(y0, x0)`` uniform
    over every position where it fits whole (``y0`` in ``[0, H - h]``, ``x0`` in ``[0, W - w]``, both ends
    included); ``lam = 1 - h * w / (H * W)``. :func:`apply` puts each image's partner, whole and resized to
    ``(h, w)``, into the box. A batch of one has no partner: its draw has an empty box and ``lam = 1`` (it passes
    through), though the generator advances as for any batch.

    Example:
        >>> p = draw_resizemix(8, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> y0, x0, y1, x1 = p.bbox
        >>> p.op, p.lam == 1 - (y1 - y0) * (x1 - x0) / (32 * 32), 3 <= y1 - y0 <= 25
        ('resizemix', True, True)
    """
    lo, hi = scale
    u_tau, u_y, u_x = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
    tau = lo + (hi - lo) * u_tau
    h, w = max(1, math.floor(img_h * tau)), max(1, math.floor(img_w * tau))
    y0, x0 = min(int(u_y * (img_h - h + 1)), img_h - h), min(int(u_x * (img_w - w + 1)), img_w - w)
    indices = torch.randperm(n, generator=generator)
    if n == 1:
        return MixParams('resizemix', indices, 1.0, (0, 0, 0, 0), interpolation=interpolation)
    return MixParams('resizemix', indices, 1.0 - h * w / (img_h * img_w), (y0, x0, y0 + h, x0 + w),
                     interpolation=interpolation)


@functools.lru_cache(maxsize=16)
def _spectrum_scale(img_h: int, img_w: int, decay_power: float) -> np.ndarray:
    """FMix's power-law weights over the frequencies of a real 2-D FFT, float32, computed once per image size."""
    fy, fx = np.fft.fftfreq(img_h)[:, None], np.fft.rfftfreq(img_w)[None, :]
    scale = 1.0 / np.maximum(np.sqrt(fy * fy + fx * fx), 1.0 / max(img_h, img_w)) ** decay_power
    scale = scale.astype(np.float32)
    scale.flags.writeable = False
    return scale


def low_freq_image(img_h: int, img_w: int, decay_power: float = 3.0,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """FMix's grey image: ``(H, W)`` float32 from a random complex Gaussian spectrum with a power-law decay.

    Over the frequencies of a real 2-D FFT (``f = sqrt(fy**2 + fx**2)``, ``fy`` from ``fftfreq(H)``, ``fx`` from
    ``rfftfreq(W)``), the real and imaginary parts are standard normal draws scaled by
    ``1 / max(f, 1 / max(H, W)) ** decay_power``; ``irfft2`` brings the spectrum back to an ``(H, W)`` image.
    The normal draws come from ``generator``; the rest is numpy in single precision (only the order of the pixels
    matters), whose single-threaded FFT beat torch's threaded one on a busy CPU. The whole mask draw takes about
    3 ms at 224x224 (quiet, 2 cores), about 5% of FMix's in-place step on a (256, 3, 224, 224) batch.
    """
    scale = _spectrum_scale(img_h, img_w, float(decay_power))
    parts = torch.randn(2, *scale.shape, generator=generator).numpy()
    spectrum = np.empty(scale.shape, dtype=np.complex64)
    np.multiply(parts[0], scale, out=spectrum.real)
    np.multiply(parts[1], scale, out=spectrum.imag)
    return torch.from_numpy(np.fft.irfft2(spectrum, s=(img_h, img_w)))


def draw_fmix(n: int, img_h: int, img_w: int, alpha: float = 1.0, *, decay_power: float = 3.0,
              generator: Optional[torch.Generator] = None) -> MixParams:
    """Draws FMix, as in the paper: ``lam ~ Beta(alpha, alpha)``, a low-frequency binary mask, a permutation.

    The ``round(lam * H * W)`` largest pixels of :func:`low_freq_image` are True (each image keeps its own pixel
    there), the rest False (it takes its partner's). One mask for the batch and all channels; the returned ``lam``
    is the mask's mean, the share of own pixels the targets give each image's own label.

    Example:
        >>> p = draw_fmix(8, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> p.op, tuple(p.mask.shape), p.lam == float(p.mask.float().mean())
        ('fmix', (32, 32), True)
    """
    lam = float(beta(alpha, None, generator))
    grey = low_freq_image(img_h, img_w, decay_power, generator).numpy().ravel()
    pixels = img_h * img_w
    k = round(lam * pixels)
    mask = np.zeros(pixels, dtype=bool)
    if k:  # the k largest pixels, in linear time (a sort of a 224x224 image took 15x longer)
        mask[np.argpartition(grey, pixels - k)[pixels - k:]] = True
    return MixParams('fmix', torch.randperm(n, generator=generator), mask_share(k, pixels),
                     mask=torch.from_numpy(mask).view(img_h, img_w))


def mask_share(own: int, pixels: int) -> float:
    """The weight of an image's own label under a mask with ``own`` of its ``pixels`` True: the mask's mean as
    torch computes it in float32 (the ones summed exactly, one rounded division)."""
    return float(np.float32(own) / np.float32(pixels))


# --------------------------------------------------------------------------------------------------------------
# Applying a draw (on whatever device the batch lives). The draw is trusted.
# --------------------------------------------------------------------------------------------------------------


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """``t`` on ``device``; a CPU tensor bound for CUDA goes through pinned memory, so the copy never blocks."""
    if t.device == device:
        return t
    if device.type == 'cuda' and t.device.type == 'cpu':
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def box_masks(bboxes: Tensor, img_h: int, img_w: int, device: Optional[torch.device] = None) -> Tensor:
    """``(N, 4)`` boxes -> ``(N, H, W)`` boolean masks, True inside each box. Built on ``device`` by broadcasting."""
    b = to_device(bboxes, device or bboxes.device)
    rows = torch.arange(img_h, device=b.device)
    cols = torch.arange(img_w, device=b.device)
    in_rows = (rows >= b[:, 0:1]) & (rows < b[:, 2:3])
    in_cols = (cols >= b[:, 1:2]) & (cols < b[:, 3:4])
    return in_rows.unsqueeze(2) & in_cols.unsqueeze(1)


def _per_sample(t: Tensor, X: Tensor) -> Tensor:
    """``(N, H, W)`` or ``(N,)`` -> a view that broadcasts against ``X`` ``(N, ..., H, W)``."""
    if t.ndim == 1:
        return t.view(-1, *([1] * (X.ndim - 1)))
    return t.view(t.shape[0], *([1] * (X.ndim - 3)), *t.shape[1:])


#: CPU in-place paths walk the permutation's cycles when one sample's part (a sample, or its box) is at least this
#: many bytes. Each step of the walk is a few torch calls (10-25 us each, measured on a loaded 2-core machine), so
#: below this the gather into a fresh buffer was as fast or faster (e.g. MixUp on float32 (256, 3, 80, 80)).
CYCLE_MIN_BYTES = 128 * 1024


def _walk_cycles(X: Tensor, indices: Tensor, step: Callable[[Tensor, Tensor], object], *,
                 fixed_points: bool) -> None:
    """``step(X[i], X[indices[i]])`` for every ``i``, in place, reading each sample before it is overwritten.

    The permutation is walked cycle by cycle: ``X[i]`` is written from ``X[indices[i]]``, then ``i`` moves on to
    ``indices[i]``, so every source is still original when it is read, except the cycle's first sample, which is
    overwritten first and read last: one saved copy of it (one sample's buffer) is all the extra memory.
    ``fixed_points=False`` skips the samples paired with themselves (a copy onto itself changes nothing).
    """
    perm = indices.tolist()
    seen = bytearray(len(perm))
    saved = None
    for start, first in enumerate(perm):
        if seen[start]:
            continue
        if first == start:
            if fixed_points:
                step(X[start], X[start])
            continue
        if saved is None:
            saved = torch.empty_like(X[0])
        saved.copy_(X[start])
        i = start
        while True:
            seen[i] = 1
            j = perm[i]
            if j == start:
                step(X[i], saved)
                break
            step(X[i], X[j])
            i = j


#: CutMix also walks the cycles for boxes of 16 KiB or more when the boxes of the batch add up to this many bytes:
#: gathering a strided box view that large cost up to 2x the walk (uint8 (256, 3, 224, 224), 37 KiB boxes), and
#: at 4.6 MiB of boxes (uint8 (128, 3, 224, 224)) the walk still won (4.0 ms against 4.2, quiet, two threads).
CYCLE_MIN_BOX_BATCH_BYTES = 4 * 1024 * 1024


def _walks_cycles(X: Tensor, *, boxes: bool = False) -> bool:
    """Whether an in-place op on ``X`` (a batch, or with ``boxes`` the box view of one) walks the permutation's
    cycles; ResizeMix also goes sample by sample out of place when this holds."""
    if X.device.type != 'cpu':
        return False
    part = X[0].numel() * X.element_size()
    return part >= CYCLE_MIN_BYTES or (boxes and part >= 16 * 1024 and part * X.shape[0] >= CYCLE_MIN_BOX_BATCH_BYTES)


def _rounded_for(out: Tensor, dtype: torch.dtype) -> Tensor:
    """A float32 blend ready to be cast back to ``dtype``: integers rounded to the nearest value and clamped."""
    if not dtype.is_floating_point:
        info = torch.iinfo(dtype)
        out.round_().clamp_(info.min, info.max)
    return out


def _blend_float32(dst: Tensor, src: Tensor, lam: float, own: Tensor, other: Tensor) -> None:
    """One sample of the half-precision and integer blend: ``dst = src_dtype(dst * lam + src * (1 - lam))``.

    The same float32 operations, in the same order, as :func:`blend` runs on the whole batch, so the result is bit
    for bit the same; ``own`` and ``other`` are float32 buffers of one sample.
    """
    own.copy_(dst).mul_(lam)
    other.copy_(src).mul_(1 - lam)
    dst.copy_(_rounded_for(own.add_(other), dst.dtype))


def blend(X: Tensor, indices: Tensor, lam: Union[float, Tensor], *, inplace: bool = False) -> Tensor:
    """``lam * X + (1 - lam) * X[indices]`` with one gather of the permuted batch.

    ``lam`` is the weight of each sample's own pixels: a float, or a tensor that broadcasts against ``X`` (per
    sample, or per pixel). Float32 and float64 are blended in their own precision with one ``torch.lerp`` (equal to
    the formula up to float rounding, and exact where ``lam`` is 1 or 0). Half precision and integer inputs (uint8
    images) are blended in float32 with the formula as written, then cast back, integers rounded to the nearest
    value. With ``inplace=True`` the result is written into ``X``, which is returned.

    In place on the CPU with a float ``lam`` (and samples of at least :data:`CYCLE_MIN_BYTES`), the batch is blended
    sample by sample along the permutation's cycles instead: no gathered copy of the batch (nor float32 copies of a
    uint8 one), one sample's buffers, and the same result bit for bit.
    """
    if inplace and not isinstance(lam, Tensor) and _walks_cycles(X):
        if X.dtype in (torch.float32, torch.float64):
            weight = 1.0 - lam
            _walk_cycles(X, indices, lambda dst, src: dst.lerp_(src, weight), fixed_points=True)
        else:
            own = torch.empty_like(X[0], dtype=torch.float32)
            other = torch.empty_like(own)
            _walk_cycles(X, indices, lambda dst, src: _blend_float32(dst, src, lam, own, other), fixed_points=True)
        return X
    idx = to_device(indices, X.device)
    if isinstance(lam, Tensor):
        lam = lam.to(X.device, non_blocking=True)
    if X.dtype in (torch.float32, torch.float64):
        weight = 1.0 - (lam.to(X.dtype) if isinstance(lam, Tensor) else lam)
        partner = torch.empty_like(X, memory_format=torch.preserve_format)
        torch.index_select(X, 0, idx, out=partner)
        if inplace:
            return X.lerp_(partner, weight)
        return torch.lerp(X, partner, weight, out=partner)
    Xf = X.to(torch.float32, memory_format=torch.preserve_format)
    lam = lam.float() if isinstance(lam, Tensor) else lam
    partner = Xf.index_select(0, idx).mul_(1 - lam)
    out = _rounded_for(Xf.mul_(lam).add_(partner), X.dtype)
    if inplace:
        return X.copy_(out)
    return out.to(X.dtype, memory_format=torch.preserve_format)


def _paste(X: Tensor, p: MixParams, inplace: bool) -> Tensor:
    """CutMix: the box (or each sample's box) takes the partner's pixels; the rest of ``X`` is kept bit for bit.

    In place on the CPU (a shared box of at least :data:`CYCLE_MIN_BYTES` a sample, or of 16 KiB in a batch of boxes
    of at least :data:`CYCLE_MIN_BOX_BATCH_BYTES`) the boxes are copied along the permutation's cycles with one box's
    buffer; elsewhere they are gathered first, then written back.
    """
    idx = to_device(p.indices, X.device)
    if p.per_sample:
        mask = _per_sample(box_masks(p.bbox, X.shape[-2], X.shape[-1], X.device), X)
        out = X if inplace else torch.empty_like(X, memory_format=torch.preserve_format)
        return torch.where(mask, X.index_select(0, idx), X, out=out)
    y0, x0, y1, x1 = p.bbox
    if y1 <= y0 or x1 <= x0:
        return X if inplace else X.clone(memory_format=torch.preserve_format)
    if inplace:
        box = X[..., y0:y1, x0:x1]
        if _walks_cycles(box, boxes=True):
            _walk_cycles(box, p.indices, Tensor.copy_, fixed_points=False)
        else:  # the permutation reads boxes about to be overwritten: gather them first, then write back
            box.copy_(box.index_select(0, idx))
        return X
    out = X.clone(memory_format=torch.preserve_format)  # the source is never written: gather into the clone
    torch.index_select(X[..., y0:y1, x0:x1], 0, idx, out=out[..., y0:y1, x0:x1])
    return out


def _blend(X: Tensor, p: MixParams, inplace: bool) -> Tensor:
    """MixUp, and per-sample draws mixing both ops: one map of own-pixel weights (0 inside a box), one blend."""
    if not p.per_sample:
        return blend(X, p.indices, p.blend, inplace=inplace)
    dtype = X.dtype if X.dtype in (torch.float32, torch.float64) else torch.float32
    weight = torch.ones(X.shape[0], dtype=dtype) if p.blend is None else p.blend.to(dtype)
    weight = to_device(weight, X.device).view(-1, 1, 1)
    if p.bbox is not None:
        weight = weight.masked_fill(box_masks(p.bbox, X.shape[-2], X.shape[-1], X.device), 0.0)
    return blend(X, p.indices, _per_sample(weight, X), inplace=inplace)


def resize_images(X: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """``X`` ``(N, ..., H, W)`` resized to ``(N, ..., h, w)`` with ``F.interpolate``, in ``X``'s dtype and layout.

    Float32 and float64 are resized in their own precision; half precision and integer images in float32, then
    cast back (integers rounded to the nearest value and clamped to their range). ``align_corners=False`` for the
    modes that take it.
    """
    lead = X.shape[1:-2]
    x = X if X.ndim == 4 else X.reshape(X.shape[0], -1, *X.shape[-2:])
    x = x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float32)
    kwargs = {'align_corners': False} if mode in ('bilinear', 'bicubic') else {}
    out = _rounded_for(F.interpolate(x, size=size, mode=mode, **kwargs), X.dtype).to(X.dtype)
    return out if X.ndim == 4 else out.reshape(X.shape[0], *lead, *size)


def _resize_paste(X: Tensor, p: MixParams, inplace: bool) -> Tensor:
    """ResizeMix: the box of each image receives its partner, whole, resized to the box; the rest is kept bit for
    bit (an image paired with itself gets a shrunken copy of itself).

    On the CPU, for samples of at least :data:`CYCLE_MIN_BYTES`, the partners are resized one at a time and written
    straight into their boxes: in place along the permutation's cycles (each partner read before its box is
    written, one sample's buffer), out of place into a clone. ``F.interpolate`` gives each sample the same pixels
    alone as in a batch, and on the CPU it resizes a batch through a channels_last copy of the whole of it, so one
    at a time was about 2x faster (float32 (256, 3, 224, 224) to 112x112, one thread), and integer and half-precision
    batches skip a float32 copy of the whole batch (0.64x the batch resize, uint8, two threads). With more than one
    torch thread a float32/float64 batch is resized whole, which spreads over the threads (two threads, quiet: 73 ms
    against 99 one at a time for (256, 3, 224, 224), 23 against 46 for 128 images). Elsewhere the whole batch is resized first and the resized partners gathered into the boxes.
    """
    y0, x0, y1, x1 = p.bbox
    if y1 <= y0 or x1 <= x0:
        return X if inplace else X.clone(memory_format=torch.preserve_format)
    size, mode = (y1 - y0, x1 - x0), p.interpolation or 'bilinear'
    out = X if inplace else X.clone(memory_format=torch.preserve_format)
    threaded_float = X.dtype in (torch.float32, torch.float64) and torch.get_num_threads() > 1
    if _walks_cycles(X) and not threaded_float:
        def paste(dst: Tensor, src: Tensor) -> None:
            dst[..., y0:y1, x0:x1].copy_(resize_images(src.unsqueeze(0), size, mode)[0])

        if inplace:
            _walk_cycles(X, p.indices, paste, fixed_points=True)
        else:  # the source is never written: no cycles to follow
            for i, j in enumerate(p.indices.tolist()):
                paste(out[i], X[j])
        return out
    # the shrunk partners gathered straight into the boxes (no box-sized copy of the gather)
    torch.index_select(resize_images(X, size, mode), 0, to_device(p.indices, X.device), out=out[..., y0:y1, x0:x1])
    return out


def _mask_mix(X: Tensor, p: MixParams, inplace: bool) -> Tensor:
    """FMix: where the mask is False each image takes its partner's pixel; the rest is kept bit for bit.

    One gather of the permuted batch and one masked write; in place on the CPU (samples of at least
    :data:`CYCLE_MIN_BYTES`) the masked write goes along the permutation's cycles instead, with one sample's buffer.
    """
    keep = to_device(p.mask, X.device)
    if inplace and _walks_cycles(X):
        _walk_cycles(X, p.indices, lambda dst, src: torch.where(keep, dst, src, out=dst), fixed_points=False)
        return X
    partner = torch.empty_like(X, memory_format=torch.preserve_format)
    torch.index_select(X, 0, to_device(p.indices, X.device), out=partner)
    return torch.where(keep, X, partner, out=X if inplace else partner)


#: op -> the function that applies its draws: ``(X, params, inplace) -> X_mixed``.
APPLY: dict[str, Callable[[Tensor, MixParams, bool], Tensor]] = {
    'cutmix': _paste,
    'mixup': _blend,
    'mixup_cutmix': _blend,
    'resizemix': _resize_paste,
    'fmix': _mask_mix,
}


def apply(X: Tensor, params: Optional[MixParams], *, inplace: bool = False) -> Tensor:
    """The pixels of any draw: ``X`` ``(N, ..., H, W)`` mixed as ``params`` says (None: ``X`` unchanged).

    With ``inplace=True`` the result is written into ``X``, which is returned; otherwise ``X`` is left as it was
    (and a new tensor of the same memory format is returned). Float of any precision and integer images alike; the
    pixels a draw leaves alone are kept bit for bit.
    """
    if params is None:
        return X
    return APPLY[params.op](X, params, inplace)


def mix_targets(y: Tensor, params: Optional[MixParams], n_classes: int, *, smoothing: float = 0.0,
                dtype: Optional[torch.dtype] = None) -> Tensor:
    """The dense targets of any draw: ``lam * onehot(y) + (1 - lam) * onehot(y[indices])``, then smoothed.

    ``y`` is ``(N,)`` labels or ``(N, n_classes)`` dense targets (soft, smoothed, or multi-label 0/1), which are
    mixed the same way. ``params=None`` (an unmixed batch) gives one-hot targets, so the loss sees one format
    either way. Smoothing ``s`` gives ``(1 - s) * y_mixed + s / C`` (timm's ``mixup_target``). Index targets give
    ``dtype`` (default float32); dense targets keep their floating dtype.

    Example:
        >>> p = MixParams('cutmix', torch.tensor([1, 0]), 0.75, (0, 0, 2, 2))
        >>> mix_targets(torch.tensor([0, 1]), p, 2).tolist()
        [[0.75, 0.25], [0.25, 0.75]]
    """
    blended = False
    if y.ndim == 1:
        dense = torch.zeros(y.shape[0], n_classes, dtype=dtype or torch.float32, device=y.device)
        labels = y.long().unsqueeze(1)
        if params is not None and not params.per_sample:  # two scatters, the same sums as the one-hot blend
            dense.scatter_(1, labels, params.lam)
            partner = labels.index_select(0, to_device(params.indices, y.device))
            dense.scatter_add_(1, partner, torch.full(partner.shape, 1 - params.lam, dtype=dense.dtype,
                                                      device=y.device))
            blended = True
        else:
            dense.scatter_(1, labels, 1.0)
    else:
        dense = y if y.dtype.is_floating_point else y.to(dtype or torch.float32)
    if params is not None and not blended:
        lam = to_device(params.lam, y.device).to(dense.dtype).view(-1, 1) if params.per_sample else params.lam
        dense = dense * lam + dense.index_select(0, to_device(params.indices, y.device)) * (1 - lam)
    if smoothing:
        dense = dense * (1.0 - smoothing) + smoothing / n_classes
    return dense


# --------------------------------------------------------------------------------------------------------------
# Applying a draw given as tensors: one graph for every draw, for torch.compile and CUDA graphs.
# --------------------------------------------------------------------------------------------------------------


def apply_tensors(X: Tensor, draw: DrawTensors) -> Tensor:
    """The pixels of a draw given as :class:`DrawTensors`: :func:`apply`'s result, out of place, with no shape or
    branch that depends on the draw, so ``torch.compile(fullgraph=True)`` and CUDA graphs take it whole.

    The box is a mask of ``arange`` comparisons and the partner's pixels go in with ``torch.where``; the blend is
    :func:`blend`'s formula with tensor weights. The result equals :func:`apply` bit for bit for every shared draw
    and per-sample CutMix, in eager mode and under the ``'eager'`` and ``'aot_eager'`` backends (the same aten
    kernels); a per-sample draw that both boxes and blends may differ in the sign of a zero inside a box (the eager
    path lerps there with weight 1). A code-generating backend (inductor) may reorder the blend's float arithmetic:
    CutMix stays bit exact (copies only), MixUp agrees to float rounding.
    """
    img_h, img_w = X.shape[-2], X.shape[-1]
    partner = X.index_select(0, draw.indices)
    b = draw.boxes
    rows = torch.arange(img_h, device=X.device)
    cols = torch.arange(img_w, device=X.device)
    in_rows = (rows >= b[:, 0:1]) & (rows < b[:, 2:3])
    inside = in_rows.unsqueeze(2) & ((cols >= b[:, 1:2]) & (cols < b[:, 3:4])).unsqueeze(1)
    own_w, other_w = draw.pixel_weights.unbind(1)
    if X.dtype in (torch.float32, torch.float64):
        mixed = torch.lerp(X, partner, _per_sample(other_w.to(X.dtype), X))
    else:
        mixed = (X.float() * _per_sample(own_w.float(), X)).add_(partner.float() * _per_sample(other_w.float(), X))
        if not X.dtype.is_floating_point:
            mixed = mixed.round_().clamp_(*_INT_RANGE[X.dtype])
        mixed = mixed.to(X.dtype)
    kept = torch.where(_per_sample(draw.blended, X), mixed, X)
    return torch.where(_per_sample(inside, X), partner, kept)


#: ``torch.iinfo`` ranges, looked up once so compiled code reads constants.
_INT_RANGE = {dtype: (torch.iinfo(dtype).min, torch.iinfo(dtype).max)
              for dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)}


def mix_targets_tensors(y: Tensor, draw: DrawTensors, n_classes: int, *, smoothing: float = 0.0,
                        dtype: Optional[torch.dtype] = None) -> Tensor:
    """:func:`mix_targets` for a draw given as :class:`DrawTensors`: the same targets, bit for bit."""
    if y.ndim == 1:
        dense = torch.zeros(y.shape[0], n_classes, dtype=dtype or torch.float32, device=y.device)
        dense.scatter_(1, y.long().unsqueeze(1), 1.0)
    else:
        dense = y if y.dtype.is_floating_point else y.to(dtype or torch.float32)
    w = draw.label_weights.to(dense.dtype)
    dense = dense * w[:, 0:1] + dense.index_select(0, draw.indices) * w[:, 1:2]
    if smoothing:
        dense = dense * (1.0 - smoothing) + smoothing / n_classes
    return dense


def mix_step(X: Tensor, y: Tensor, draw: DrawTensors, n_classes: int, *,
             smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Mixed pixels and dense targets for a draw given as tensors: the part of a step to compile.

    Draw on the host as usual (the generator is the reproducibility contract), convert with
    :meth:`MixParams.as_tensors` (:meth:`DrawTensors.identity` for an unmixed batch), and call a compiled
    ``mix_step``: every draw of a batch shape, CutMix or MixUp, runs the one graph.

    Example:
        >>> from composer_cutmix.mixer import Mixer
        >>> mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=10, generator=torch.Generator().manual_seed(0))
        >>> step = torch.compile(mix_step, backend='eager', fullgraph=True)
        >>> X, y = torch.rand(4, 3, 8, 8), torch.arange(4)
        >>> Xm, ym = step(X, y, mixer.draw_tensors(4, 8, 8), 10, smoothing=0.1)
        >>> tuple(Xm.shape), tuple(ym.shape)
        ((4, 3, 8, 8), (4, 10))
    """
    return apply_tensors(X, draw), mix_targets_tensors(y, draw, n_classes, smoothing=smoothing)
