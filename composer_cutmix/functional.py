"""CutMix, MixUp and the MixUp/CutMix switch as pure tensor operations: draw the parameters, then apply them.

**CutMix** pastes one box from a permuted copy of the batch. The box is always ``(y0, x0, y1, x1)``, half-open:
rows ``y0:y1`` of dim -2 and columns ``x0:x1`` of dim -1. Inside the box every sample ``i`` takes the pixels of
sample ``indices[i]``; outside it keeps its own. The label weight of the original sample is the fraction of the
image outside the box, ``lam = 1 - (y1 - y0) * (x1 - x0) / (img_h * img_w)``, computed from the box actually used
(after clipping), as timm's ``correct_lam`` and the paper's reference code do.

**MixUp** blends the whole image, ``X_mixed = lam * X + (1 - lam) * X[indices]``, through one gather of the
permuted batch and one in-place ``lerp``.

**The switch** (timm's ``Mixup``) picks CutMix or MixUp per batch (or per sample).

Targets of every op become dense ``lam * onehot(y) + (1 - lam) * onehot(y[indices])`` (:func:`mix_targets`).

Drawing (``sample_*``) and applying (``apply_*``, :func:`apply_params`, :func:`mix_targets`) are separate, so the
parameters of a step are small dataclasses that can be logged, pinned in tests and replayed. :func:`cutmix_batch`
and :func:`mixup_batch` do both. Every ``check_*`` raises :class:`MixingError` naming the problem and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'BBox',
    'CutMixElemParams',
    'CutMixParams',
    'MixParams',
    'MixUpCutMixElemParams',
    'MixUpElemParams',
    'MixUpParams',
    'MixingError',
    'apply_cutmix',
    'apply_cutmix_elem',
    'apply_mixup',
    'apply_params',
    'blend',
    'box_lam',
    'box_lams',
    'box_masks',
    'check_alpha',
    'check_bbox',
    'check_elem_bboxes',
    'check_indices',
    'check_input',
    'check_lam',
    'check_mask_targets',
    'check_minmax',
    'check_mode',
    'check_n_classes',
    'check_placement',
    'check_probability',
    'check_switch',
    'check_targets',
    'cutmix_batch',
    'draw_boxes',
    'draw_minmax_boxes',
    'mix_targets',
    'mixup_batch',
    'sample_mixup_params',
    'sample_mixup_params_elem',
    'sample_params',
    'sample_params_elem',
    'sample_switch_params',
    'sample_switch_params_elem',
    'smooth_targets',
    'to_device',
]

BBox = tuple[int, int, int, int]


class MixingError(ValueError, TypeError):
    """Bad input or arguments for a mixing function or algorithm: the message names the problem and the fix.

    It is both a ``ValueError`` and a ``TypeError``, so ``except ValueError`` and ``except TypeError`` catch it
    alike; it is raised before anything is modified.
    """


# --------------------------------------------------------------------------------------------------------------
# The parameters of one draw.
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CutMixParams:
    """One draw of CutMix: the box, the label weight it implies and the pairing of samples.

    Attributes:
        bbox: ``(y0, x0, y1, x1)``, half-open, inside the image.
        lam: weight of each sample's own label, ``1 - box area / image area`` (the drawn ``lam`` instead under
            :class:`~composer_cutmix.algorithm.MixUpCutMix` with ``correct_lam=False``).
        indices: ``(N,)`` int64 permutation on the CPU; sample ``i`` receives the box of ``indices[i]``.
    """

    bbox: BBox
    lam: float
    indices: Tensor

    def as_dict(self) -> dict[str, float]:
        """The scalar part of the draw, for logging."""
        y0, x0, y1, x1 = self.bbox
        return {'lam': self.lam, 'y0': y0, 'x0': x0, 'y1': y1, 'x1': x1}


@dataclass(frozen=True)
class CutMixElemParams:
    """One draw of per-sample CutMix (``mode='elem'``): a box and a weight for every sample.

    Attributes:
        bboxes: ``(N, 4)`` int64 ``(y0, x0, y1, x1)`` rows, half-open, inside the image.
        lam: ``(N,)`` float32 weight of each sample's own label, ``1 - box area / image area``.
        indices: ``(N,)`` int64 permutation on the CPU.
    """

    bboxes: Tensor
    lam: Tensor
    indices: Tensor

    def as_dict(self) -> dict[str, float]:
        return {'lam': float(self.lam.mean())}


@dataclass(frozen=True)
class MixUpParams:
    """One draw of MixUp: the blend weight and the pairing of samples.

    Attributes:
        lam: weight of each sample's own image and label: ``lam * X + (1 - lam) * X[indices]``.
        indices: ``(N,)`` int64 permutation on the CPU.
    """

    lam: float
    indices: Tensor

    def as_dict(self) -> dict[str, float]:
        return {'lam': self.lam}


@dataclass(frozen=True)
class MixUpElemParams:
    """One draw of per-sample MixUp (``mode='elem'``).

    Attributes:
        lam: ``(N,)`` float32 weight of each sample's own image and label.
        indices: ``(N,)`` int64 permutation on the CPU.
    """

    lam: Tensor
    indices: Tensor

    def as_dict(self) -> dict[str, float]:
        return {'lam': float(self.lam.mean())}


@dataclass(frozen=True)
class MixUpCutMixElemParams:
    """One per-sample draw of the MixUp/CutMix switch (``mode='elem'``): each sample its own op, ``lam`` and box.

    Attributes:
        use_cutmix: ``(N,)`` bool: True where the sample is CutMix-ed (its box is pasted), False where it is
            blended (MixUp) or left alone (``lam == 1``).
        lam: ``(N,)`` float32 weight of each sample's own label (1 for samples left alone).
        bboxes: ``(N, 4)`` int64 boxes; empty rows for samples that are not CutMix-ed.
        indices: ``(N,)`` int64 permutation on the CPU.
    """

    use_cutmix: Tensor
    lam: Tensor
    bboxes: Tensor
    indices: Tensor

    def as_dict(self) -> dict[str, float]:
        return {'lam': float(self.lam.mean()), 'cutmix_fraction': float(self.use_cutmix.float().mean())}


MixParams = Union[CutMixParams, CutMixElemParams, MixUpParams, MixUpElemParams, MixUpCutMixElemParams]


# --------------------------------------------------------------------------------------------------------------
# Validation. Every check runs before anything is written, and raises MixingError naming the problem.
# --------------------------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def check_alpha(alpha: float, name: str = 'alpha', *, allow_zero: bool = False) -> float:
    """Returns ``alpha`` as a float, or raises unless it is finite and ``> 0`` (``>= 0`` with ``allow_zero``)."""
    if not _is_number(alpha):
        raise MixingError(f'{name} must be a positive number, got {alpha!r} of type {type(alpha).__name__}.')
    bound = '>= 0 (0 turns the op off)' if allow_zero else '> 0'
    if not math.isfinite(alpha) or alpha < 0 or (alpha == 0 and not allow_zero):
        raise MixingError(f'{name} must be a finite number {bound} (the paper uses alpha=1.0), got {alpha!r}.')
    return float(alpha)


def check_probability(value: float, name: str) -> float:
    """Returns ``value`` as a float, or raises unless it is a number in ``[0, 1]``."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise MixingError(f'{name} must be a probability in [0, 1], got {value!r}.')
    return float(value)


def check_n_classes(n_classes: int, name: str = 'n_classes') -> int:
    """Returns ``n_classes`` as an int, or raises unless it is an integer ``>= 1``."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise MixingError(f'{name} must be an integer >= 1, got {n_classes!r} of type {type(n_classes).__name__}.')
    if n_classes < 1:
        raise MixingError(f'{name} must be >= 1, got {n_classes}.')
    return int(n_classes)


def check_mode(mode: str, target_type: str = 'labels') -> None:
    """Raises unless ``mode`` is ``'batch'``/``'elem'`` and ``target_type`` is ``'labels'``/``'mask'``."""
    if mode not in ('batch', 'elem'):
        raise MixingError(f"mode must be 'batch' (one draw for the batch) or 'elem' (one per sample), got {mode!r}.")
    if target_type not in ('labels', 'mask'):
        raise MixingError(
            f"target_type must be 'labels' (class labels/dense targets) or 'mask' (segmentation), got {target_type!r}.",
        )


def check_input(X: Tensor) -> tuple[int, int, int]:
    """Checks an input batch ``(N, ..., H, W)`` and returns ``(N, img_h, img_w)``."""
    if not isinstance(X, Tensor):
        raise MixingError(f'the input batch must be a torch.Tensor of shape (N, ..., H, W), got {type(X).__name__}.')
    if X.ndim < 3:
        raise MixingError(
            f'the input batch must have at least 3 dims (N, ..., H, W) so the box can cover the last two; '
            f'got shape {tuple(X.shape)}. Add a channel dim (X.unsqueeze(1)) for single-channel images.',
        )
    if X.is_complex() or X.dtype == torch.bool:
        raise MixingError(f'the input batch must be a real (float or integer) tensor, got dtype {X.dtype}.')
    n, img_h, img_w = X.shape[0], X.shape[-2], X.shape[-1]
    if n == 0 or img_h == 0 or img_w == 0:
        raise MixingError(f'the input batch is empty: shape {tuple(X.shape)}.')
    return n, img_h, img_w


def check_targets(y: Tensor, n: int, n_classes: int, *, check_range: bool = True) -> None:
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
                first = y[bad][0].item()
                raise MixingError(
                    f'labels must lie in [0, n_classes) = [0, {n_classes}); found label {first}. '
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


def check_mask_targets(y: Tensor, n: int, img_h: int, img_w: int) -> None:
    """Checks segmentation targets: an integer mask ``(N, H, W)`` (or ``(N, ..., H, W)``) matching the input."""
    if not isinstance(y, Tensor):
        raise MixingError(f'mask targets must be a torch.Tensor of shape (N, H, W), got {type(y).__name__}.')
    if y.ndim < 3 or y.shape[0] != n or tuple(y.shape[-2:]) != (img_h, img_w):
        raise MixingError(
            f'mask targets must have shape (N, H, W) = ({n}, {img_h}, {img_w}) to match the input, got '
            f'{tuple(y.shape)}. For class labels use target_type=\'labels\'.',
        )


def _as_int(value, what: str) -> int:
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.dtype.is_floating_point:
            raise MixingError(f'{what} must be an integer, got {value!r}.')
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise MixingError(f'{what} must be an integer, got {value!r} of type {type(value).__name__}.')
    return int(value)


def check_bbox(bbox: Sequence[int], img_h: int, img_w: int) -> BBox:
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


def check_elem_bboxes(bboxes, n: int, img_h: int, img_w: int) -> Tensor:
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


def check_indices(indices, n: int) -> Tensor:
    """Returns ``indices`` as an int64 CPU tensor, or raises unless it is a permutation of ``range(n)``."""
    try:
        idx = torch.as_tensor(indices)
    except (TypeError, ValueError, RuntimeError) as e:
        raise MixingError(
            f'indices must be a 1-D integer tensor (a permutation of range(N)), got {indices!r}.',
        ) from e
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


def check_lam(lam, n: int, mode: str = 'batch') -> Union[float, Tensor]:
    """Returns a given MixUp ``lam`` as a float (or an ``(N,)`` float32 CPU tensor in ``mode='elem'``).

    Raises unless every value lies in ``[0, 1]``.
    """
    if isinstance(lam, Tensor) and lam.numel() == 1 and lam.ndim <= 1 and mode == 'batch':
        lam = float(lam)
    if isinstance(lam, Tensor):
        if mode != 'elem' or lam.dtype.is_complex or lam.dtype == torch.bool or tuple(lam.shape) != (n,):
            raise MixingError(
                f"lam must be a number in [0, 1] (or, with mode='elem', an ({n},) tensor of them), got a tensor of "
                f'shape {tuple(lam.shape)} and dtype {lam.dtype}.',
            )
        lam_cpu = lam.detach().to('cpu', torch.float32)
        if not bool(((lam_cpu >= 0) & (lam_cpu <= 1)).all()):
            raise MixingError(f'lam must lie in [0, 1]; got {lam_cpu.tolist()}.')
        return lam_cpu
    if not _is_number(lam) or not 0.0 <= lam <= 1.0:
        raise MixingError(f'lam must be a number in [0, 1] (the weight of each sample\'s own image), got {lam!r}.')
    return float(lam)


def check_placement(uniform_sampling: bool, keep_box_inside: bool) -> None:
    """Raises unless both are booleans and at most one is True (they are two different box placements)."""
    for name, value in (('uniform_sampling', uniform_sampling), ('keep_box_inside', keep_box_inside)):
        if not isinstance(value, (bool, np.bool_)):
            raise MixingError(f'{name} must be True or False, got {value!r}.')
    if uniform_sampling and keep_box_inside:
        raise MixingError(
            "uniform_sampling=True (Composer's placement: widened centres, boxes clipped) and keep_box_inside=True "
            '(the whole box inside the image, never clipped) are two different placements; pick one.',
        )


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


# --------------------------------------------------------------------------------------------------------------
# Drawing the parameters (always on the CPU: a few numbers, no device work, no synchronisation).
# --------------------------------------------------------------------------------------------------------------


def box_lam(bbox: BBox, img_h: int, img_w: int) -> float:
    """The label weight of the original sample implied by a box: ``1 - box area / image area``."""
    y0, x0, y1, x1 = bbox
    return 1.0 - (y1 - y0) * (x1 - x0) / (img_h * img_w)


def box_lams(bboxes: Tensor, img_h: int, img_w: int) -> Tensor:
    """:func:`box_lam` for ``(N, 4)`` per-sample boxes: an ``(N,)`` float32 tensor."""
    area = (bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])
    return (1.0 - area.double() / (img_h * img_w)).float()


def _check_generator(generator: Optional[torch.Generator]) -> None:
    if generator is not None and generator.device.type != 'cpu':
        raise MixingError(
            f'generator must be a CPU torch.Generator (draws stay on the host), got one on {generator.device}.',
        )


def _beta(alpha: float, n: Optional[int], generator: Optional[torch.Generator]) -> np.ndarray:
    # torch.distributions cannot take a generator; seed numpy's Beta sampler from the torch stream instead, so
    # the whole draw is a function of the one torch generator (or of torch's global RNG when it is None).
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    return np.random.default_rng(seed).beta(alpha, alpha, size=n)


def _uniform_ints(low: Tensor, high: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """One integer uniform in ``[low[i], high[i])`` per row (``high > low``)."""
    u = torch.rand(low.shape, generator=generator, dtype=torch.float64)
    return low + (u * (high - low)).long().clamp_max_(high - low - 1)


def draw_boxes(
    lam: Tensor,
    img_h: int,
    img_w: int,
    *,
    uniform_sampling: bool = False,
    keep_box_inside: bool = False,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """One box per entry of ``lam``: ``(N,)`` drawn weights -> ``(N, 4)`` int64 ``(y0, x0, y1, x1)`` rows.

    The box has the image's aspect ratio, with sides ``cut_h = floor(H * sqrt(1 - lam))`` and
    ``cut_w = floor(W * sqrt(1 - lam))``, placed in one of three ways:

    * default (the paper's reference code, timm, Composer): centre ``(cy, cx)`` uniform over the image, box
      ``[cy - cut_h // 2, cy + cut_h // 2)`` by ``[cx - cut_w // 2, cx + cut_w // 2)``, clipped to the image;
    * ``uniform_sampling=True`` (Composer's): the centre is uniform over the widened range
      ``[-ceil(cut/2), size + cut // 2)`` so every pixel is mixed equally often; same box rule, clipped;
    * ``keep_box_inside=True``: a box of exactly ``cut_h x cut_w`` placed uniformly among the positions where it
      fits whole: never clipped, so its area is the drawn one (up to flooring).
    """
    check_placement(uniform_sampling, keep_box_inside)
    cut = torch.sqrt((1.0 - lam.double()).clamp_min(0.0))
    cut_h, cut_w = (img_h * cut).long(), (img_w * cut).long()
    if keep_box_inside:
        y0 = _uniform_ints(torch.zeros_like(cut_h), img_h - cut_h + 1, generator)
        x0 = _uniform_ints(torch.zeros_like(cut_w), img_w - cut_w + 1, generator)
        return torch.stack([y0, x0, y0 + cut_h, x0 + cut_w], dim=1)
    if uniform_sampling:
        cy = _uniform_ints(torch.div(-cut_h, 2, rounding_mode='floor'), img_h + cut_h // 2, generator)
        cx = _uniform_ints(torch.div(-cut_w, 2, rounding_mode='floor'), img_w + cut_w // 2, generator)
    else:
        cy = _uniform_ints(torch.zeros_like(cut_h), torch.full_like(cut_h, img_h), generator)
        cx = _uniform_ints(torch.zeros_like(cut_w), torch.full_like(cut_w, img_w), generator)
    return torch.stack([(cy - cut_h // 2).clamp(0, img_h), (cx - cut_w // 2).clamp(0, img_w),
                        (cy + cut_h // 2).clamp(0, img_h), (cx + cut_w // 2).clamp(0, img_w)], dim=1)


def draw_minmax_boxes(
    n: int,
    img_h: int,
    img_w: int,
    cutmix_minmax: tuple[float, float],
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """timm's ``cutmix_minmax`` boxes: height and width drawn independently, the box fully inside the image.

    ``cut_h`` is uniform over the integers of ``[int(lo * H), int(hi * H))`` (``cut_w`` likewise with ``W``), and
    the box is placed uniformly among the positions where it fits. Returns ``(n, 4)`` int64 rows.
    """
    lo, hi = cutmix_minmax
    sides = []
    for size in (img_h, img_w):
        low = torch.full((n,), int(lo * size), dtype=torch.int64)
        sides.append(_uniform_ints(low, torch.clamp(torch.full_like(low, int(hi * size)), min=low + 1), generator))
    cut_h, cut_w = sides
    y0 = _uniform_ints(torch.zeros_like(cut_h), img_h - cut_h + 1, generator)
    x0 = _uniform_ints(torch.zeros_like(cut_w), img_w - cut_w + 1, generator)
    return torch.stack([y0, x0, y0 + cut_h, x0 + cut_w], dim=1)


def sample_params(
    n: int,
    img_h: int,
    img_w: int,
    alpha: float = 1.0,
    *,
    uniform_sampling: bool = False,
    keep_box_inside: bool = False,
    generator: Optional[torch.Generator] = None,
) -> CutMixParams:
    """Draws one CutMix box, its label weight and a permutation, as in the paper.

    ``lam ~ Beta(alpha, alpha)``; the box follows :func:`draw_boxes` (the paper's centred, clipped box by default;
    Composer's ``uniform_sampling``; or ``keep_box_inside``). The returned ``lam`` is recomputed from the box
    actually used.

    Args:
        n: batch size.
        img_h: image height (dim -2).
        img_w: image width (dim -1).
        alpha: Beta concentration, ``> 0``.
        uniform_sampling: Composer's placement: centres over a widened range so every pixel is mixed equally often.
        keep_box_inside: place the whole box inside the image (never clipped).
        generator: a CPU ``torch.Generator``; ``None`` uses torch's global RNG.

    Returns:
        CutMixParams: the box, its ``lam`` and an ``(n,)`` permutation on the CPU.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> p = sample_params(8, 32, 32, alpha=1.0, generator=g)
        >>> 0.0 <= p.lam <= 1.0 and sorted(p.indices.tolist()) == list(range(8))
        True
    """
    alpha = check_alpha(alpha)
    _check_generator(generator)
    lam = torch.from_numpy(np.atleast_1d(_beta(alpha, None, generator)))
    box = draw_boxes(lam, img_h, img_w, uniform_sampling=uniform_sampling, keep_box_inside=keep_box_inside,
                     generator=generator)
    bbox = tuple(int(v) for v in box[0])
    return CutMixParams(bbox=bbox, lam=box_lam(bbox, img_h, img_w), indices=torch.randperm(n, generator=generator))


def sample_params_elem(
    n: int,
    img_h: int,
    img_w: int,
    alpha: float = 1.0,
    *,
    uniform_sampling: bool = False,
    keep_box_inside: bool = False,
    generator: Optional[torch.Generator] = None,
) -> CutMixElemParams:
    """Draws an independent ``lam`` and box for each of ``n`` samples (timm's ``elem`` mode), vectorised.

    Each box follows the same law as :func:`sample_params`; one permutation pairs the samples.
    """
    alpha = check_alpha(alpha)
    _check_generator(generator)
    lam = torch.from_numpy(_beta(alpha, n, generator))
    bboxes = draw_boxes(lam, img_h, img_w, uniform_sampling=uniform_sampling, keep_box_inside=keep_box_inside,
                        generator=generator)
    return CutMixElemParams(bboxes=bboxes, lam=box_lams(bboxes, img_h, img_w),
                            indices=torch.randperm(n, generator=generator))


def sample_mixup_params(n: int, alpha: float = 0.2, *, generator: Optional[torch.Generator] = None) -> MixUpParams:
    """Draws one MixUp weight ``lam ~ Beta(alpha, alpha)`` and a permutation.

    Example:
        >>> p = sample_mixup_params(4, 0.2, generator=torch.Generator().manual_seed(0))
        >>> 0.0 <= p.lam <= 1.0 and sorted(p.indices.tolist()) == [0, 1, 2, 3]
        True
    """
    alpha = check_alpha(alpha)
    _check_generator(generator)
    lam = float(_beta(alpha, None, generator))
    return MixUpParams(lam=lam, indices=torch.randperm(n, generator=generator))


def sample_mixup_params_elem(n: int, alpha: float = 0.2, *,
                             generator: Optional[torch.Generator] = None) -> MixUpElemParams:
    """Draws an independent MixUp weight for each of ``n`` samples, and one permutation."""
    alpha = check_alpha(alpha)
    _check_generator(generator)
    lam = torch.from_numpy(_beta(alpha, n, generator)).float()
    return MixUpElemParams(lam=lam, indices=torch.randperm(n, generator=generator))


def _cutmix_lam(bboxes: Tensor, drawn: Tensor, img_h: int, img_w: int, exact: bool) -> Tensor:
    return box_lams(bboxes, img_h, img_w) if exact else drawn.float()


def sample_switch_params(
    n: int,
    img_h: int,
    img_w: int,
    *,
    mixup_alpha: float = 0.8,
    cutmix_alpha: float = 1.0,
    switch_prob: float = 0.5,
    cutmix_minmax: Optional[tuple[float, float]] = None,
    correct_lam: bool = True,
    generator: Optional[torch.Generator] = None,
) -> Union[CutMixParams, MixUpParams]:
    """One draw of the MixUp/CutMix switch for a whole batch, with timm's ``Mixup`` semantics.

    With both ops on (``mixup_alpha > 0`` and CutMix on: ``cutmix_alpha > 0`` or ``cutmix_minmax`` set) the batch
    is CutMix-ed with probability ``switch_prob``, else MixUp-ed; with one alpha 0 the other op is always used.
    A CutMix draw takes ``lam ~ Beta(cutmix_alpha, cutmix_alpha)`` and the paper's box, or a ``cutmix_minmax``
    box; its label weight is the box's (``1 - area``) unless ``correct_lam=False`` (which keeps the drawn
    ``lam``; a ``cutmix_minmax`` box always uses its area, as in timm).

    Returns:
        :class:`CutMixParams` or :class:`MixUpParams`: the type says which op the batch uses.
    """
    use_mixup, use_cutmix = check_switch(mixup_alpha, cutmix_alpha, cutmix_minmax)
    switch_prob = check_probability(switch_prob, 'switch_prob')
    cutmix_minmax = check_minmax(cutmix_minmax)
    _check_generator(generator)
    cutmix = use_cutmix and (not use_mixup or bool(torch.rand((), generator=generator) < switch_prob))
    if not cutmix:
        return sample_mixup_params(n, mixup_alpha, generator=generator)
    drawn = torch.from_numpy(np.atleast_1d(_beta(cutmix_alpha if cutmix_alpha > 0 else 1.0, None, generator)))
    if cutmix_minmax is not None:
        box = draw_minmax_boxes(1, img_h, img_w, cutmix_minmax, generator)
    else:
        box = draw_boxes(drawn, img_h, img_w, generator=generator)
    bbox = tuple(int(v) for v in box[0])
    lam = float(_cutmix_lam(box, drawn, img_h, img_w, correct_lam or cutmix_minmax is not None)[0])
    return CutMixParams(bbox=bbox, lam=lam, indices=torch.randperm(n, generator=generator))


def sample_switch_params_elem(
    n: int,
    img_h: int,
    img_w: int,
    *,
    mixup_alpha: float = 0.8,
    cutmix_alpha: float = 1.0,
    switch_prob: float = 0.5,
    prob: float = 1.0,
    cutmix_minmax: Optional[tuple[float, float]] = None,
    correct_lam: bool = True,
    generator: Optional[torch.Generator] = None,
) -> MixUpCutMixElemParams:
    """Per-sample draws of the switch (timm's ``mode='elem'``): each sample is mixed with probability ``prob``,
    by CutMix with probability ``switch_prob`` (when both ops are on), with its own ``lam`` and box."""
    use_mixup, use_cutmix = check_switch(mixup_alpha, cutmix_alpha, cutmix_minmax)
    switch_prob = check_probability(switch_prob, 'switch_prob')
    prob = check_probability(prob, 'prob')
    cutmix_minmax = check_minmax(cutmix_minmax)
    _check_generator(generator)
    if use_mixup and use_cutmix:
        cut = torch.rand(n, generator=generator) < switch_prob
    else:
        cut = torch.full((n,), use_cutmix, dtype=torch.bool)
    lam_mixup = torch.from_numpy(_beta(mixup_alpha, n, generator)) if use_mixup else torch.ones(n, dtype=torch.float64)
    lam_cutmix = (torch.from_numpy(_beta(cutmix_alpha if cutmix_alpha > 0 else 1.0, n, generator)) if use_cutmix
                  else torch.ones(n, dtype=torch.float64))
    mixed = torch.rand(n, generator=generator) < prob
    cut &= mixed
    if cutmix_minmax is not None:
        boxes = draw_minmax_boxes(n, img_h, img_w, cutmix_minmax, generator)
    else:
        boxes = draw_boxes(lam_cutmix, img_h, img_w, generator=generator)
    boxes[~cut] = 0
    lam_cut = _cutmix_lam(boxes, lam_cutmix, img_h, img_w, correct_lam or cutmix_minmax is not None)
    lam = torch.where(cut, lam_cut, lam_mixup.float())
    lam = torch.where(mixed, lam, torch.ones_like(lam))
    return MixUpCutMixElemParams(use_cutmix=cut, lam=lam, bboxes=boxes, indices=torch.randperm(n, generator=generator))


def check_switch(mixup_alpha: float, cutmix_alpha: float, cutmix_minmax=None) -> tuple[bool, bool]:
    """``(use_mixup, use_cutmix)``: an alpha of 0 turns its op off (a ``cutmix_minmax`` keeps CutMix on); both off
    is refused."""
    use_mixup = check_alpha(mixup_alpha, 'mixup_alpha', allow_zero=True) > 0
    use_cutmix = check_alpha(cutmix_alpha, 'cutmix_alpha', allow_zero=True) > 0 or cutmix_minmax is not None
    if not (use_mixup or use_cutmix):
        raise MixingError(
            'mixup_alpha and cutmix_alpha are both 0, which turns both ops off. Set mixup_alpha > 0 (e.g. 0.8), '
            'cutmix_alpha > 0 (e.g. 1.0) or both; to train without mixing, leave the algorithm out.',
        )
    return use_mixup, use_cutmix


# --------------------------------------------------------------------------------------------------------------
# Applying the parameters (on whatever device the batch lives).
# --------------------------------------------------------------------------------------------------------------


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """``t`` on ``device``; a CPU tensor bound for CUDA goes through pinned memory, so the copy never blocks."""
    if t.device == device:
        return t
    if device.type == 'cuda' and t.device.type == 'cpu':
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def apply_cutmix(X: Tensor, bbox: BBox, indices: Tensor, *, inplace: bool = False) -> Tensor:
    """Pastes ``X[indices]`` into ``X`` inside ``bbox``; assumes checked arguments.

    Only the box region is gathered, whatever the layout of ``X`` (contiguous or channels_last). With
    ``inplace=True`` the boxes go through a buffer the size of the box and only the box of ``X`` is written;
    otherwise ``X`` is cloned (keeping its memory format) and the boxes are gathered straight into the clone.
    """
    y0, x0, y1, x1 = bbox
    if y1 <= y0 or x1 <= x0:
        return X if inplace else X.clone(memory_format=torch.preserve_format)
    idx = to_device(indices, X.device)
    if inplace:
        # The permutation reads boxes that are about to be overwritten: gather them first, then write back.
        box = X[..., y0:y1, x0:x1]
        box.copy_(box.index_select(0, idx))
        return X
    # Out of place the source is never written, so the box is gathered straight into the clone's box.
    out = X.clone(memory_format=torch.preserve_format)
    torch.index_select(X[..., y0:y1, x0:x1], 0, idx, out=out[..., y0:y1, x0:x1])
    return out


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


def apply_cutmix_elem(X: Tensor, bboxes: Tensor, indices: Tensor, *, inplace: bool = False) -> Tensor:
    """Per-sample boxes: sample ``i`` takes the pixels of ``indices[i]`` inside ``bboxes[i]``; one vectorised op."""
    img_h, img_w = X.shape[-2], X.shape[-1]
    mask = _per_sample(box_masks(bboxes, img_h, img_w, X.device), X)
    out = X if inplace else torch.empty_like(X, memory_format=torch.preserve_format)
    return torch.where(mask, X.index_select(0, to_device(indices, X.device)), X, out=out)


def blend(X: Tensor, indices: Tensor, lam: Union[float, Tensor], *, inplace: bool = False) -> Tensor:
    """``lam * X + (1 - lam) * X[indices]`` with one gather of the permuted batch.

    ``lam`` is the weight of each sample's own pixels: a float, or a tensor that broadcasts against ``X`` (per
    sample, or per pixel). Float32 and float64 are blended in their own precision with one in-place ``torch.lerp``
    (equal to the formula up to float rounding, and exact where ``lam`` is 1 or 0). Half precision and integer
    inputs (uint8 images) are blended in float32 with the formula as written, then cast back, integers rounded to
    the nearest value. With ``inplace=True`` the result is written into ``X``, which is returned; otherwise ``X`` is
    left as it was.
    """
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
    out = Xf.mul_(lam).add_(partner)
    if not X.dtype.is_floating_point:
        info = torch.iinfo(X.dtype)
        out = out.round_().clamp_(info.min, info.max)
    if inplace:
        return X.copy_(out)
    return out.to(X.dtype, memory_format=torch.preserve_format)


def apply_mixup(X: Tensor, lam: Union[float, Tensor], indices: Tensor, *, inplace: bool = False) -> Tensor:
    """``lam * X + (1 - lam) * X[indices]``; ``lam`` a float or an ``(N,)`` tensor (per sample). See :func:`blend`."""
    return blend(X, indices, _per_sample(lam, X) if isinstance(lam, Tensor) else lam, inplace=inplace)


def apply_params(X: Tensor, params: MixParams, *, inplace: bool = False) -> Tensor:
    """Applies any draw (:data:`MixParams`) to ``X``: the one entry point the algorithms use."""
    if isinstance(params, CutMixParams):
        return apply_cutmix(X, params.bbox, params.indices, inplace=inplace)
    if isinstance(params, CutMixElemParams):
        return apply_cutmix_elem(X, params.bboxes, params.indices, inplace=inplace)
    if isinstance(params, (MixUpParams, MixUpElemParams)):
        return apply_mixup(X, params.lam, params.indices, inplace=inplace)
    if isinstance(params, MixUpCutMixElemParams):
        # One per-pixel map of own weights: 0 inside the box of a CutMix-ed sample (1 outside), lam for a blended one.
        img_h, img_w = X.shape[-2], X.shape[-1]
        dtype = X.dtype if X.dtype in (torch.float32, torch.float64) else torch.float32
        outside = ~box_masks(params.bboxes, img_h, img_w, X.device)
        cut = to_device(params.use_cutmix, X.device).view(-1, 1, 1)
        lam = to_device(params.lam, X.device).to(dtype).view(-1, 1, 1)
        return blend(X, params.indices, _per_sample(torch.where(cut, outside.to(dtype), lam), X), inplace=inplace)
    raise MixingError(f'params must be one of CutMixParams, CutMixElemParams, MixUpParams, MixUpElemParams or '
                      f'MixUpCutMixElemParams, got {type(params).__name__}.')


def mix_targets(
    y: Tensor,
    lam: Union[float, Tensor],
    indices: Tensor,
    n_classes: int,
    *,
    dtype: Optional[torch.dtype] = None,
) -> Tensor:
    """``lam * onehot(y) + (1 - lam) * onehot(y[indices])`` as dense ``(N, n_classes)`` targets.

    ``y`` is ``(N,)`` labels or ``(N, n_classes)`` dense targets (soft, smoothed, or multi-label 0/1), which are
    mixed the same way. ``lam`` is a float, or an ``(N,)`` tensor for per-sample weights. Index targets give
    ``dtype`` (default float32); dense targets keep their floating dtype.
    """
    idx = to_device(indices, y.device)
    if isinstance(lam, Tensor):
        lam = lam.to(y.device, non_blocking=True).reshape(-1, 1)
    if y.ndim == 1:
        dtype = dtype or torch.float32
        n = y.shape[0]
        lam_col = lam.to(dtype) if isinstance(lam, Tensor) else torch.full((n, 1), lam, dtype=dtype, device=y.device)
        y = y.long()
        dense = torch.zeros(n, n_classes, dtype=dtype, device=y.device)
        dense.scatter_(1, y.unsqueeze(1), lam_col)
        dense.scatter_add_(1, y.index_select(0, idx).unsqueeze(1), 1 - lam_col)
        return dense
    if not y.dtype.is_floating_point:
        y = y.to(dtype or torch.float32)
    if isinstance(lam, Tensor):
        lam = lam.to(y.dtype)
    return y * lam + y.index_select(0, idx) * (1 - lam)


def smooth_targets(y_dense: Tensor, smoothing: float) -> Tensor:
    """Label smoothing of dense targets: ``(1 - s) * y + s / C`` (timm's ``mixup_target``); ``s = 0`` is a no-op."""
    if smoothing == 0.0:
        return y_dense
    return y_dense * (1.0 - smoothing) + smoothing / y_dense.shape[1]


# --------------------------------------------------------------------------------------------------------------
# The functional forms.
# --------------------------------------------------------------------------------------------------------------


def cutmix_batch(
    X: Tensor,
    y: Tensor,
    n_classes: int,
    alpha: float = 1.0,
    *,
    bbox: Optional[Sequence[int]] = None,
    indices: Optional[Union[Tensor, Sequence[int]]] = None,
    generator: Optional[torch.Generator] = None,
    uniform_sampling: bool = False,
    keep_box_inside: bool = False,
    inplace: bool = False,
    mode: str = 'batch',
    target_type: str = 'labels',
) -> tuple[Tensor, Tensor]:
    """CutMix one batch: paste a box from a permuted copy of the batch, and mix the labels by area.

    Args:
        X: ``(N, ..., H, W)`` inputs, float of any precision or uint8, any device, contiguous or channels_last.
            The box covers the last two dims.
        y: ``(N,)`` integer labels in ``[0, n_classes)``, or ``(N, n_classes)`` dense targets (soft, smoothed or
            multi-label 0/1; mixed alike). With ``target_type='mask'``: an ``(N, H, W)`` segmentation mask.
        n_classes: number of classes.
        alpha: ``Beta(alpha, alpha)`` concentration for the box area, ``> 0``. Ignored when ``bbox`` is given.
        bbox: ``(y0, x0, y1, x1)``, half-open; ``None`` draws one (see :func:`sample_params`). With
            ``mode='elem'``, an ``(N, 4)`` tensor of such rows.
        indices: ``(N,)`` permutation; sample ``i`` receives the box of sample ``indices[i]``. ``None`` draws one.
        generator: CPU ``torch.Generator`` for the draws; ``None`` uses torch's global RNG.
        uniform_sampling: Composer's placement: box centres over a widened range, so every pixel is mixed equally
            often (boxes are clipped, so they are smaller on average).
        keep_box_inside: place the whole box inside the image (never clipped).
        inplace: write the box into ``X`` and return ``X`` itself (fast path for a batch you own). By default
            the arguments are never modified.
        mode: ``'batch'`` (one box and one ``lam`` for the batch, as in the paper) or ``'elem'`` (per sample).
        target_type: ``'labels'`` mixes class weights; ``'mask'`` pastes the same box into the target mask.

    Returns:
        ``(X_mixed, y_mixed)``: the mixed inputs and ``(N, n_classes)`` targets
        ``lam * onehot(y) + (1 - lam) * onehot(y[indices])`` with ``lam = 1 - box area / image area``
        (or the pasted mask for ``target_type='mask'``).

    Raises:
        MixingError: (a ``ValueError`` and ``TypeError``) for bad inputs, before anything is modified.

    Example:
        >>> X = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
        >>> y = torch.tensor([0, 1])
        >>> Xm, ym = cutmix_batch(X, y, n_classes=2, bbox=(0, 0, 2, 2), indices=torch.tensor([1, 0]))
        >>> Xm[0, 0, :2, :2].tolist() == X[1, 0, :2, :2].tolist()
        True
        >>> ym.tolist()
        [[0.75, 0.25], [0.25, 0.75]]
    """
    check_mode(mode, target_type)
    n_classes = check_n_classes(n_classes)
    n, img_h, img_w = check_input(X)
    if target_type == 'mask':
        check_mask_targets(y, n, img_h, img_w)
    else:
        check_targets(y, n, n_classes)
    if bbox is not None:
        bbox = check_bbox(bbox, img_h, img_w) if mode == 'batch' else check_elem_bboxes(bbox, n, img_h, img_w)
    else:
        check_alpha(alpha)
        check_placement(uniform_sampling, keep_box_inside)
    if indices is not None:
        indices = check_indices(indices, n)

    drawn = None
    if bbox is None or indices is None:
        sample = sample_params_elem if mode == 'elem' else sample_params
        drawn = sample(n, img_h, img_w, alpha, uniform_sampling=uniform_sampling, keep_box_inside=keep_box_inside,
                       generator=generator)
    idx = indices if indices is not None else drawn.indices
    if mode == 'elem':
        bboxes = bbox if bbox is not None else drawn.bboxes
        params: MixParams = CutMixElemParams(bboxes, box_lams(bboxes, img_h, img_w), idx)
    else:
        box = bbox if bbox is not None else drawn.bbox
        params = CutMixParams(box, box_lam(box, img_h, img_w), idx)
    X_mixed = apply_params(X, params, inplace=inplace)
    if target_type == 'mask':
        return X_mixed, apply_params(y, params)
    return X_mixed, mix_targets(y, params.lam, idx, n_classes)


def mixup_batch(
    X: Tensor,
    y: Tensor,
    n_classes: int,
    alpha: float = 0.2,
    *,
    lam: Optional[Union[float, Tensor]] = None,
    indices: Optional[Union[Tensor, Sequence[int]]] = None,
    generator: Optional[torch.Generator] = None,
    inplace: bool = False,
    mode: str = 'batch',
) -> tuple[Tensor, Tensor]:
    """MixUp one batch: blend each image with a permuted partner, and the labels with the same weight.

    ``X_mixed = lam * X + (1 - lam) * X[indices]`` and
    ``y_dense = lam * onehot(y) + (1 - lam) * onehot(y[indices])``.

    Args:
        X: ``(N, ...)`` inputs with at least 3 dims, float of any precision or uint8 (blended in float32 and rounded
            to the nearest integer), any device, contiguous or channels_last.
        y: ``(N,)`` integer labels in ``[0, n_classes)``, or ``(N, n_classes)`` dense targets (soft, smoothed or
            multi-label; mixed alike).
        n_classes: number of classes.
        alpha: ``Beta(alpha, alpha)`` concentration for ``lam``, ``> 0`` (0.2 in the MixUp paper for ImageNet).
        lam: the weight of each sample's own image, in ``[0, 1]``; ``None`` draws it. With ``mode='elem'`` an
            ``(N,)`` tensor.
        indices: ``(N,)`` permutation; sample ``i`` is blended with ``indices[i]``. ``None`` draws one.
        generator: CPU ``torch.Generator`` for the draws; ``None`` uses torch's global RNG.
        inplace: write the blend into ``X`` and return ``X`` itself.
        mode: ``'batch'`` (one ``lam`` for the batch) or ``'elem'`` (one per sample).

    Returns:
        ``(X_mixed, y_dense)``.

    Raises:
        MixingError: (a ``ValueError`` and ``TypeError``) for bad inputs, before anything is modified.

    Example:
        >>> X = torch.tensor([0.0, 4.0]).view(2, 1, 1, 1)
        >>> Xm, ym = mixup_batch(X, torch.tensor([0, 1]), 2, lam=0.75, indices=torch.tensor([1, 0]))
        >>> Xm.flatten().tolist(), ym.tolist()
        ([1.0, 3.0], [[0.75, 0.25], [0.25, 0.75]])
    """
    check_mode(mode)
    n_classes = check_n_classes(n_classes)
    n, _, _ = check_input(X)
    check_targets(y, n, n_classes)
    alpha = check_alpha(alpha)
    if lam is not None:
        lam = check_lam(lam, n, mode)
    if indices is not None:
        indices = check_indices(indices, n)
    _check_generator(generator)

    if lam is None or indices is None:
        drawn = (sample_mixup_params_elem if mode == 'elem' else sample_mixup_params)(n, alpha, generator=generator)
        lam = drawn.lam if lam is None else lam
        indices = drawn.indices if indices is None else indices
    return apply_mixup(X, lam, indices, inplace=inplace), mix_targets(y, lam, indices, n_classes)
