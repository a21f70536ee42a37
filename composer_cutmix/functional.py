"""CutMix and MixUp for plain PyTorch loops: one call mixes a batch and returns dense targets.

Both are the one pipeline of :mod:`composer_cutmix.mixing` (draw, :func:`~composer_cutmix.mixing.apply`,
:func:`~composer_cutmix.mixing.mix_targets`) behind a door that checks every argument first. Randomness enters as
optional arguments (the box or ``lam``, the permutation, a generator), so tests pin it instead of mocking.
For timm's call (``x, y = mixer(x, y)``, MixUp/CutMix switch, label smoothing) see :class:`composer_cutmix.Mixer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Union

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
    check_generator,
    check_indices,
    check_input,
    check_lam,
    check_mask_targets,
    check_mode,
    check_n_classes,
    check_placement,
    check_targets,
    draw_cutmix,
    draw_mixup,
    mix_targets,
)

__all__ = ['MixingError', 'cutmix_batch', 'mixup_batch']


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
        lam = box_lams(boxes if per_sample else torch.tensor([boxes]), img_h, img_w)
        params = MixParams('cutmix', params.indices if indices is None else indices,
                           lam if per_sample else float(lam[0]), boxes)
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
