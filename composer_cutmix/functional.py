"""CutMix as pure tensor operations: draw the parameters, then apply them.

The box is always ``(y0, x0, y1, x1)``, half-open: rows ``y0:y1`` of dim -2 and columns ``x0:x1`` of
dim -1. Inside the box every sample ``i`` takes the pixels of sample ``indices[i]``; outside it keeps its own.
The label weight of the original sample is the fraction of the image outside the box,
``lam = 1 - (y1 - y0) * (x1 - x0) / (img_h * img_w)``, computed from the box actually used (after clipping),
as timm's ``correct_lam`` and the paper's reference code do.

Drawing (:func:`sample_params`) and applying (:func:`apply_cutmix`, :func:`mix_targets`) are separate, so the
parameters of a step can be logged, pinned in tests and replayed. :func:`cutmix_batch` does both.
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
    'apply_cutmix',
    'apply_cutmix_elem',
    'box_masks',
    'check_mask_targets',
    'box_lam',
    'box_lams',
    'check_alpha',
    'check_bbox',
    'check_elem_bboxes',
    'check_indices',
    'check_input',
    'check_n_classes',
    'check_targets',
    'cutmix_batch',
    'mix_targets',
    'sample_params',
    'sample_params_elem',
]

BBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class CutMixParams:
    """One draw of CutMix: the box, the label weight it implies and the pairing of samples.

    Attributes:
        bbox: ``(y0, x0, y1, x1)``, half-open, inside the image.
        lam: weight of each sample's own label, ``1 - box area / image area``.
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


# --------------------------------------------------------------------------------------------------------------
# Validation. Every check runs before anything is written, and raises ValueError/TypeError naming the problem.
# --------------------------------------------------------------------------------------------------------------


def check_alpha(alpha: float) -> float:
    """Returns ``alpha`` as a float, or raises ``ValueError`` unless it is finite and ``> 0``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f'alpha must be a positive number, got {alpha!r} of type {type(alpha).__name__}.')
    if not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f'alpha must be a finite number > 0 (the paper uses alpha=1.0), got {alpha!r}.')
    return float(alpha)


def check_n_classes(n_classes: int, name: str = 'n_classes') -> int:
    """Returns ``n_classes`` as an int, or raises unless it is an integer ``>= 1``."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise TypeError(f'{name} must be an integer >= 1, got {n_classes!r} of type {type(n_classes).__name__}.')
    if n_classes < 1:
        raise ValueError(f'{name} must be >= 1, got {n_classes}.')
    return int(n_classes)


def check_input(X: Tensor) -> tuple[int, int, int]:
    """Checks an input batch ``(N, ..., H, W)`` and returns ``(N, img_h, img_w)``."""
    if not isinstance(X, Tensor):
        raise TypeError(f'the input batch must be a torch.Tensor of shape (N, ..., H, W), got {type(X).__name__}.')
    if X.ndim < 3:
        raise ValueError(
            f'the input batch must have at least 3 dims (N, ..., H, W) so the box can cover the last two; '
            f'got shape {tuple(X.shape)}. Add a channel dim (X.unsqueeze(1)) for single-channel images.',
        )
    if X.is_complex() or X.dtype == torch.bool:
        raise TypeError(f'the input batch must be a real (float or integer) tensor, got dtype {X.dtype}.')
    n, img_h, img_w = X.shape[0], X.shape[-2], X.shape[-1]
    if n == 0 or img_h == 0 or img_w == 0:
        raise ValueError(f'the input batch is empty: shape {tuple(X.shape)}.')
    return n, img_h, img_w


def check_targets(y: Tensor, n: int, n_classes: int, *, check_range: bool = True) -> None:
    """Checks targets: ``(N,)`` integer labels in ``[0, n_classes)`` or ``(N, n_classes)`` dense targets.

    ``check_range`` compares the labels with ``n_classes``; on a CUDA tensor that costs one host-device
    synchronisation, which is why the Algorithm runs this check while the batch is still on the host.
    """
    if not isinstance(y, Tensor):
        raise TypeError(f'targets must be a torch.Tensor of shape (N,) or (N, n_classes), got {type(y).__name__}.')
    if y.ndim == 1:
        if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
            raise TypeError(
                f'targets of shape (N,) must be integer class labels, got dtype {y.dtype}. '
                f'Use y.long() for labels, or pass dense targets of shape (N, n_classes).',
            )
        if y.shape[0] != n:
            raise ValueError(f'targets have {y.shape[0]} labels but the input batch has {n} samples.')
        if check_range and y.numel() > 0:
            bad = (y < 0) | (y >= n_classes)
            if bool(bad.any()):
                first = y[bad][0].item()
                raise ValueError(
                    f'labels must lie in [0, n_classes) = [0, {n_classes}); found label {first}. '
                    f'Check n_classes/num_classes against your data set.',
                )
    elif y.ndim == 2:
        if y.dtype.is_complex:
            raise TypeError(f'dense targets must be real, got dtype {y.dtype}.')
        if tuple(y.shape) != (n, n_classes):
            raise ValueError(
                f'dense targets must have shape (N, n_classes) = ({n}, {n_classes}), got {tuple(y.shape)}.',
            )
    else:
        raise ValueError(
            f'targets must have shape (N,) (class labels) or (N, n_classes) (dense), got {tuple(y.shape)}.',
        )


def check_mask_targets(y: Tensor, n: int, img_h: int, img_w: int) -> None:
    """Checks segmentation targets: an integer mask ``(N, H, W)`` (or ``(N, ..., H, W)``) matching the input."""
    if not isinstance(y, Tensor):
        raise TypeError(f'mask targets must be a torch.Tensor of shape (N, H, W), got {type(y).__name__}.')
    if y.ndim < 3 or y.shape[0] != n or tuple(y.shape[-2:]) != (img_h, img_w):
        raise ValueError(
            f'mask targets must have shape (N, H, W) = ({n}, {img_h}, {img_w}) to match the input, got '
            f'{tuple(y.shape)}. For class labels use target_type=\'labels\'.',
        )


def _as_int(value, what: str) -> int:
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.dtype.is_floating_point:
            raise TypeError(f'{what} must be an integer, got {value!r}.')
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f'{what} must be an integer, got {value!r} of type {type(value).__name__}.')
    return int(value)


def check_bbox(bbox: Sequence[int], img_h: int, img_w: int) -> BBox:
    """Returns ``bbox`` as a tuple of ints, or raises unless ``0 <= y0 <= y1 <= H`` and ``0 <= x0 <= x1 <= W``."""
    if isinstance(bbox, (str, bytes)) or not isinstance(bbox, (Sequence, Tensor, np.ndarray)) or len(bbox) != 4:
        raise TypeError(f'bbox must be a sequence (y0, x0, y1, x1) of 4 integers, got {bbox!r}.')
    y0, x0, y1, x1 = (_as_int(v, 'each bbox coordinate') for v in bbox)
    if not (0 <= y0 <= y1 <= img_h and 0 <= x0 <= x1 <= img_w):
        raise ValueError(
            f'bbox (y0, x0, y1, x1) = {(y0, x0, y1, x1)} is not inside the {img_h}x{img_w} image: '
            f'need 0 <= y0 <= y1 <= {img_h} and 0 <= x0 <= x1 <= {img_w} (half-open rows y0:y1, columns x0:x1).',
        )
    return y0, x0, y1, x1


def check_indices(indices, n: int) -> Tensor:
    """Returns ``indices`` as an int64 CPU tensor, or raises unless it is a permutation of ``range(n)``."""
    try:
        idx = torch.as_tensor(indices)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f'indices must be a 1-D integer tensor (a permutation of range(N)), got {indices!r}.') from e
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise TypeError(f'indices must be integers, got dtype {idx.dtype}.')
    if idx.ndim != 1 or idx.shape[0] != n:
        raise ValueError(f'indices must have shape ({n},) to match the batch, got {tuple(idx.shape)}.')
    idx = idx.to('cpu', torch.int64)
    if not torch.equal(torch.sort(idx).values, torch.arange(n)):
        raise ValueError(f'indices must be a permutation of range({n}) (each sample used exactly once), got {idx.tolist()}.')
    return idx


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


def _randint(low: int, high: int, generator: Optional[torch.Generator]) -> int:
    """An integer uniform in ``[low, high)``."""
    return int(torch.randint(low, high, (), generator=generator))


def _beta(alpha: float, generator: Optional[torch.Generator]) -> float:
    # torch.distributions cannot take a generator; seed numpy's Beta sampler from the torch stream instead, so
    # the whole draw is a function of the one torch generator (or of torch's global RNG when it is None).
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def sample_params(
    n: int,
    img_h: int,
    img_w: int,
    alpha: float = 1.0,
    *,
    uniform_sampling: bool = False,
    generator: Optional[torch.Generator] = None,
) -> CutMixParams:
    """Draws one CutMix box, its label weight and a permutation, as in the paper.

    ``lam ~ Beta(alpha, alpha)``; the box has the image's aspect ratio and area ``(1 - lam) * H * W``
    (sides ``floor(H * sqrt(1 - lam))`` by ``floor(W * sqrt(1 - lam))``). Its centre is uniform over the image
    and the box is clipped to it; with ``uniform_sampling=True`` the box is instead placed uniformly among the
    positions where it fits whole, so it is never clipped and its area is exactly the drawn one. The returned
    ``lam`` is recomputed from the box actually used.

    Args:
        n: batch size.
        img_h: image height (dim -2).
        img_w: image width (dim -1).
        alpha: Beta concentration, ``> 0``.
        uniform_sampling: keep the box fully inside the image instead of clipping it.
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
    if generator is not None and generator.device.type != 'cpu':
        raise TypeError(f'generator must be a CPU torch.Generator (draws stay on the host), got one on {generator.device}.')
    lam = _beta(alpha, generator)
    cut = math.sqrt(max(0.0, 1.0 - lam))
    cut_h, cut_w = int(img_h * cut), int(img_w * cut)
    if uniform_sampling:
        y0 = _randint(0, img_h - cut_h + 1, generator)
        x0 = _randint(0, img_w - cut_w + 1, generator)
        bbox = (y0, x0, y0 + cut_h, x0 + cut_w)
    else:
        cy, cx = _randint(0, img_h, generator), _randint(0, img_w, generator)
        y0, x0 = cy - cut_h // 2, cx - cut_w // 2
        bbox = (
            min(max(y0, 0), img_h),
            min(max(x0, 0), img_w),
            min(max(y0 + cut_h, 0), img_h),
            min(max(x0 + cut_w, 0), img_w),
        )
    indices = torch.randperm(n, generator=generator)
    return CutMixParams(bbox=bbox, lam=box_lam(bbox, img_h, img_w), indices=indices)


def sample_params_elem(
    n: int,
    img_h: int,
    img_w: int,
    alpha: float = 1.0,
    *,
    uniform_sampling: bool = False,
    generator: Optional[torch.Generator] = None,
) -> CutMixElemParams:
    """Draws an independent ``lam`` and box for each of ``n`` samples (timm's ``elem`` mode), vectorised.

    Each box follows the same law as :func:`sample_params`; one permutation pairs the samples.
    """
    alpha = check_alpha(alpha)
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    lam = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=n))
    cut = torch.sqrt((1.0 - lam).clamp_min(0.0))
    cut_h = (img_h * cut).long()
    cut_w = (img_w * cut).long()
    if uniform_sampling:
        y0 = (torch.rand(n, generator=generator, dtype=torch.float64) * (img_h - cut_h + 1)).long()
        x0 = (torch.rand(n, generator=generator, dtype=torch.float64) * (img_w - cut_w + 1)).long()
    else:
        y0 = torch.randint(0, img_h, (n,), generator=generator) - cut_h // 2
        x0 = torch.randint(0, img_w, (n,), generator=generator) - cut_w // 2
    y1, x1 = y0 + cut_h, x0 + cut_w
    bboxes = torch.stack([y0.clamp(0, img_h), x0.clamp(0, img_w), y1.clamp(0, img_h), x1.clamp(0, img_w)], dim=1)
    indices = torch.randperm(n, generator=generator)
    return CutMixElemParams(bboxes=bboxes, lam=box_lams(bboxes, img_h, img_w), indices=indices)


# --------------------------------------------------------------------------------------------------------------
# Applying the parameters (on whatever device the batch lives).
# --------------------------------------------------------------------------------------------------------------


def _to_device(indices: Tensor, device: torch.device) -> Tensor:
    if indices.device == device:
        return indices
    if device.type == 'cuda' and indices.device.type == 'cpu':
        # A pinned source makes the tiny host-to-device copy truly asynchronous.
        indices = indices.pin_memory()
    return indices.to(device, non_blocking=True)


def apply_cutmix(X: Tensor, bbox: BBox, indices: Tensor, *, inplace: bool = False) -> Tensor:
    """Pastes ``X[indices]`` into ``X`` inside ``bbox``; assumes checked arguments.

    Only the box region is gathered, whatever the layout of ``X`` (contiguous or channels_last). With
    ``inplace=True`` the boxes go through a buffer the size of the box and only the box of ``X`` is written;
    otherwise ``X`` is cloned (keeping its memory format) and the boxes are gathered straight into the clone.
    """
    y0, x0, y1, x1 = bbox
    if y1 <= y0 or x1 <= x0:
        return X if inplace else X.clone(memory_format=torch.preserve_format)
    idx = _to_device(indices, X.device)
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
    b = _to_device(bboxes, device or bboxes.device)
    rows = torch.arange(img_h, device=b.device)
    cols = torch.arange(img_w, device=b.device)
    in_rows = (rows >= b[:, 0:1]) & (rows < b[:, 2:3])
    in_cols = (cols >= b[:, 1:2]) & (cols < b[:, 3:4])
    return in_rows.unsqueeze(2) & in_cols.unsqueeze(1)


def apply_cutmix_elem(X: Tensor, bboxes: Tensor, indices: Tensor, *, inplace: bool = False) -> Tensor:
    """Per-sample boxes: sample ``i`` takes the pixels of ``indices[i]`` inside ``bboxes[i]``; one vectorised op."""
    n, img_h, img_w = X.shape[0], X.shape[-2], X.shape[-1]
    mask = box_masks(bboxes, img_h, img_w, X.device).view(n, *([1] * (X.ndim - 3)), img_h, img_w)
    out = X if inplace else torch.empty_like(X, memory_format=torch.preserve_format)
    return torch.where(mask, X.index_select(0, _to_device(indices, X.device)), X, out=out)


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
    idx = _to_device(indices, y.device)
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


def _check_mode(mode: str, target_type: str) -> None:
    if mode not in ('batch', 'elem'):
        raise ValueError(f"mode must be 'batch' (one box for the batch, the paper) or 'elem' (one per sample), got {mode!r}.")
    if target_type not in ('labels', 'mask'):
        raise ValueError(f"target_type must be 'labels' (class labels/dense targets) or 'mask' (segmentation), got {target_type!r}.")


def check_elem_bboxes(bboxes, n: int, img_h: int, img_w: int) -> Tensor:
    """Checks ``(N, 4)`` per-sample boxes for ``mode='elem'``; returns them as int64 CPU."""
    b = torch.as_tensor(bboxes)
    if b.dtype.is_floating_point or b.dtype.is_complex or b.dtype == torch.bool or tuple(b.shape) != (n, 4):
        raise ValueError(f"mode='elem' takes bbox as an ({n}, 4) integer tensor of (y0, x0, y1, x1) rows, got {tuple(b.shape)} {b.dtype}.")
    b = b.to('cpu', torch.int64)
    y0, x0, y1, x1 = b.unbind(1)
    ok = (0 <= y0) & (y0 <= y1) & (y1 <= img_h) & (0 <= x0) & (x0 <= x1) & (x1 <= img_w)
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0])
        raise ValueError(f'bbox row {i} = {b[i].tolist()} is not inside the {img_h}x{img_w} image.')
    return b


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
        uniform_sampling: draw boxes that lie fully inside the image (never clipped).
        inplace: write the box into ``X`` and return ``X`` itself (fast path for a batch you own). By default
            the arguments are never modified.
        mode: ``'batch'`` (one box and one ``lam`` for the batch, as in the paper) or ``'elem'`` (per sample).
        target_type: ``'labels'`` mixes class weights; ``'mask'`` pastes the same box into the target mask.

    Returns:
        ``(X_mixed, y_mixed)``: the mixed inputs and ``(N, n_classes)`` targets
        ``lam * onehot(y) + (1 - lam) * onehot(y[indices])`` with ``lam = 1 - box area / image area``
        (or the pasted mask for ``target_type='mask'``).

    Raises:
        TypeError, ValueError: for bad inputs, before anything is modified.

    Example:
        >>> X = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
        >>> y = torch.tensor([0, 1])
        >>> Xm, ym = cutmix_batch(X, y, n_classes=2, bbox=(0, 0, 2, 2), indices=torch.tensor([1, 0]))
        >>> Xm[0, 0, :2, :2].tolist() == X[1, 0, :2, :2].tolist()
        True
        >>> ym.tolist()
        [[0.75, 0.25], [0.25, 0.75]]
    """
    _check_mode(mode, target_type)
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
    if indices is not None:
        indices = check_indices(indices, n)

    if mode == 'elem':
        drawn = None
        if bbox is None or indices is None:
            drawn = sample_params_elem(n, img_h, img_w, alpha, uniform_sampling=uniform_sampling, generator=generator)
        bboxes = bbox if bbox is not None else drawn.bboxes
        idx = indices if indices is not None else drawn.indices
        lam = drawn.lam if bbox is None else box_lams(bboxes, img_h, img_w)
        X_mixed = apply_cutmix_elem(X, bboxes, idx, inplace=inplace)
        if target_type == 'mask':
            return X_mixed, apply_cutmix_elem(y, bboxes, idx)
        return X_mixed, mix_targets(y, lam, idx, n_classes)

    drawn = None
    if bbox is None or indices is None:
        drawn = sample_params(n, img_h, img_w, alpha, uniform_sampling=uniform_sampling, generator=generator)
    params = CutMixParams(
        bbox=bbox if bbox is not None else drawn.bbox,
        lam=box_lam(bbox, img_h, img_w) if bbox is not None else drawn.lam,
        indices=indices if indices is not None else drawn.indices,
    )
    X_mixed = apply_cutmix(X, params.bbox, params.indices, inplace=inplace)
    if target_type == 'mask':
        return X_mixed, apply_cutmix(y, params.bbox, params.indices)
    return X_mixed, mix_targets(y, params.lam, params.indices, n_classes)
