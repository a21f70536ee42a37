"""CutMix, MixUp, ResizeMix and FMix for plain PyTorch loops: one call mixes a batch and returns dense targets.

Each is the one pipeline of :mod:`composer_cutmix.mixing` (draw, :func:`~composer_cutmix.mixing.apply`,
:func:`~composer_cutmix.mixing.mix_targets`) behind a door that checks every argument first. Randomness enters as
optional arguments (the box, ``lam`` or mask, the permutation, a generator), so tests pin it instead of mocking.
For timm's call (``x, y = mixer(x, y)``, MixUp/CutMix switch, label smoothing) see :class:`composer_cutmix.Mixer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from composer_cutmix.mixing import (
    MixingError,
    MixParams,
    apply,
    box_lams,
    check_alpha,
    check_bbox,
    check_bboxes,
    check_decay_power,
    check_fmix_mask,
    check_generator,
    check_indices,
    check_input,
    check_interpolation,
    check_lam,
    check_mask_targets,
    check_mode,
    check_n_classes,
    check_placement,
    check_scale,
    check_targets,
    draw_cutmix,
    draw_fmix,
    draw_mixup,
    draw_resizemix,
    mask_share,
    mix_targets,
)

__all__ = ['MixingError', 'cutmix_batch', 'fmix_batch', 'mixup_batch', 'resizemix_batch']


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
        bbox: ``(y0, x0, y1, x1)``, half-open; ``None`` draws one (see
            :func:`~composer_cutmix.mixing.draw_cutmix`). With ``mode='elem'``, an ``(N, 4)`` tensor of such rows.
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
    per_sample = check_mode(mode) == 'elem'
    if target_type not in ('labels', 'mask'):
        raise MixingError(f"target_type must be 'labels' (class labels/dense targets) or 'mask' (segmentation), got "
                          f'{target_type!r}.')
    n_classes = check_n_classes(n_classes)
    n, img_h, img_w = check_input(X)
    if target_type == 'mask':
        check_mask_targets(y, n, img_h, img_w)
    else:
        check_targets(y, n, n_classes)
    if bbox is not None:
        bbox = check_bboxes(bbox, n, img_h, img_w) if per_sample else check_bbox(bbox, img_h, img_w)
    placement = check_placement(uniform_sampling, keep_box_inside)
    alpha = check_alpha(alpha)
    indices = None if indices is None else check_indices(indices, n)

    params = None
    if bbox is None or indices is None:
        params = draw_cutmix(n, img_h, img_w, alpha, placement=placement, per_sample=per_sample,
                             generator=check_generator(generator))
    if bbox is not None or indices is not None:
        boxes = params.bbox if bbox is None else bbox
        if per_sample:
            lam = box_lams(boxes, img_h, img_w)
        else:  # box_lams' arithmetic (float64, rounded to float32) without a tensor for one box
            (y0, x0, y1, x1), area = boxes, img_h * img_w
            lam = float(np.float32(1.0 - (y1 - y0) * (x1 - x0) / area))
        params = MixParams('cutmix', params.indices if indices is None else indices, lam, boxes)
    X_mixed = apply(X, params, inplace=inplace)
    return X_mixed, apply(y, params) if target_type == 'mask' else mix_targets(y, params, n_classes)


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
    per_sample = check_mode(mode) == 'elem'
    n_classes = check_n_classes(n_classes)
    n, _, _ = check_input(X)
    check_targets(y, n, n_classes)
    alpha = check_alpha(alpha)
    lam = None if lam is None else check_lam(lam, n, per_sample)
    indices = None if indices is None else check_indices(indices, n)

    params = None
    if lam is None or indices is None:
        params = draw_mixup(n, alpha, per_sample=per_sample, generator=check_generator(generator))
    if lam is not None or indices is not None:
        lam = params.lam if lam is None else lam
        params = MixParams('mixup', params.indices if indices is None else indices, lam, blend=lam)
    return apply(X, params, inplace=inplace), mix_targets(y, params, n_classes)


def resizemix_batch(
    X: Tensor,
    y: Tensor,
    n_classes: int,
    *,
    scale: tuple[float, float] = (0.1, 0.8),
    bbox: Optional[Sequence[int]] = None,
    indices: Optional[Union[Tensor, Sequence[int]]] = None,
    generator: Optional[torch.Generator] = None,
    inplace: bool = False,
    interpolation: str = 'bilinear',
) -> tuple[Tensor, Tensor]:
    """ResizeMix one batch: shrink each image's partner, whole, into a box of the image; mix the labels by area.

    The box is drawn as in the paper (:func:`~composer_cutmix.mixing.draw_resizemix`: side ratio
    ``tau ~ U(scale)``, the box placed whole inside the image). An image paired with itself gets a shrunken copy of
    itself and keeps its one-hot target; a batch of one passes through unchanged (nothing to mix with).

    Args:
        X: ``(N, ..., H, W)`` inputs, float of any precision or uint8, any device, contiguous or channels_last.
            Float32 and float64 are resized in their precision, half precision and integers in float32 and cast
            back (integers rounded to the nearest value).
        y: ``(N,)`` integer labels in ``[0, n_classes)``, or ``(N, n_classes)`` dense targets (mixed alike).
        n_classes: number of classes.
        scale: ``(lo, hi)``, ``0 < lo <= hi <= 1``: the range of the side ratio ``tau``. Ignored when ``bbox`` is
            given.
        bbox: ``(y0, x0, y1, x1)``, half-open, where the shrunken partners go; ``None`` draws one.
        indices: ``(N,)`` permutation; sample ``i`` receives sample ``indices[i]``, shrunk. ``None`` draws one.
        generator: CPU ``torch.Generator`` for the draws; ``None`` uses torch's global RNG.
        inplace: write into ``X`` and return ``X`` itself. By default the arguments are never modified.
        interpolation: the ``F.interpolate`` mode: ``'nearest'``, ``'bilinear'`` (default), ``'bicubic'``,
            ``'area'`` or ``'nearest-exact'`` (``align_corners=False`` for the modes that take it).

    Returns:
        ``(X_mixed, y_dense)``: the mixed inputs and ``(N, n_classes)`` targets
        ``lam * onehot(y) + (1 - lam) * onehot(y[indices])`` with ``lam = 1 - box area / image area``.

    Raises:
        MixingError: (a ``ValueError`` and ``TypeError``) for bad inputs, before anything is modified.

    Example:
        >>> X = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
        >>> Xm, ym = resizemix_batch(X, torch.tensor([0, 1]), 2, bbox=(0, 0, 2, 2), indices=torch.tensor([1, 0]))
        >>> Xm[0, 0].tolist()
        [[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
        >>> ym.tolist()
        [[0.75, 0.25], [0.25, 0.75]]
    """
    n_classes = check_n_classes(n_classes)
    n, img_h, img_w = check_input(X)
    check_targets(y, n, n_classes)
    scale = check_scale(scale)
    interpolation = check_interpolation(interpolation)
    bbox = None if bbox is None else check_bbox(bbox, img_h, img_w)
    indices = None if indices is None else check_indices(indices, n)

    params = None
    if bbox is None or indices is None:
        params = draw_resizemix(n, img_h, img_w, scale, interpolation=interpolation,
                                generator=check_generator(generator))
    if bbox is not None or indices is not None:
        y0, x0, y1, x1 = params.bbox if bbox is None else bbox
        lam = 1.0 - (y1 - y0) * (x1 - x0) / (img_h * img_w)
        params = MixParams('resizemix', params.indices if indices is None else indices, lam, (y0, x0, y1, x1),
                           interpolation=interpolation)
    return apply(X, params, inplace=inplace), mix_targets(y, params, n_classes)


def fmix_batch(
    X: Tensor,
    y: Tensor,
    n_classes: int,
    alpha: float = 1.0,
    *,
    decay_power: float = 3.0,
    mask: Optional[Tensor] = None,
    indices: Optional[Union[Tensor, Sequence[int]]] = None,
    generator: Optional[torch.Generator] = None,
    inplace: bool = False,
) -> tuple[Tensor, Tensor]:
    """FMix one batch: a low-frequency binary mask says which pixels each image keeps and which its partner gives.

    The mask is drawn as in the paper (:func:`~composer_cutmix.mixing.draw_fmix`): ``lam ~ Beta(alpha, alpha)``,
    the ``round(lam * H * W)`` largest pixels of a random image with a power-law spectrum are kept. One mask for
    the batch and all channels; each image's own label weight is the mask's mean, exactly.

    Args:
        X: ``(N, ..., H, W)`` inputs, float of any precision or integer (pixels are copied, never computed), any
            device, contiguous or channels_last.
        y: ``(N,)`` integer labels in ``[0, n_classes)``, or ``(N, n_classes)`` dense targets (mixed alike).
        n_classes: number of classes.
        alpha: ``Beta(alpha, alpha)`` concentration for the share of own pixels, ``> 0`` (the paper: 1.0). Ignored
            when ``mask`` is given.
        decay_power: how fast the spectrum decays with frequency, ``> 0`` (the paper: 3.0; larger gives larger,
            smoother blobs). Ignored when ``mask`` is given.
        mask: ``(H, W)`` bool or 0/1 tensor, True (1) where each image keeps its own pixel; ``None`` draws one.
        indices: ``(N,)`` permutation; sample ``i`` takes its masked-out pixels from ``indices[i]``. ``None`` draws
            one.
        generator: CPU ``torch.Generator`` for the draws; ``None`` uses torch's global RNG.
        inplace: write into ``X`` and return ``X`` itself. By default the arguments are never modified.

    Returns:
        ``(X_mixed, y_dense)``: the mixed inputs and ``(N, n_classes)`` targets
        ``lam * onehot(y) + (1 - lam) * onehot(y[indices])`` with ``lam`` the mask's mean.

    Raises:
        MixingError: (a ``ValueError`` and ``TypeError``) for bad inputs, before anything is modified.

    Example:
        >>> X = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
        >>> mask = torch.tensor([[1, 1], [1, 0]])
        >>> Xm, ym = fmix_batch(X, torch.tensor([0, 1]), 2, mask=mask, indices=torch.tensor([1, 0]))
        >>> Xm[0, 0].tolist(), ym.tolist()
        ([[0.0, 0.0], [0.0, 1.0]], [[0.75, 0.25], [0.25, 0.75]])
    """
    n_classes = check_n_classes(n_classes)
    n, img_h, img_w = check_input(X)
    check_targets(y, n, n_classes)
    alpha = check_alpha(alpha)
    decay_power = check_decay_power(decay_power)
    mask = None if mask is None else check_fmix_mask(mask, img_h, img_w)
    indices = None if indices is None else check_indices(indices, n)

    params = None
    if mask is None or indices is None:
        params = draw_fmix(n, img_h, img_w, alpha, decay_power=decay_power, generator=check_generator(generator))
    if mask is not None or indices is not None:
        mask = params.mask if mask is None else mask
        params = MixParams('fmix', params.indices if indices is None else indices,
                           mask_share(int(mask.count_nonzero()), mask.numel()), mask=mask)
    return apply(X, params, inplace=inplace), mix_targets(y, params, n_classes)
