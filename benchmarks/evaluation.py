"""What the accuracy studies measure beyond the error, in one place: the expected calibration error and the blanked
squares of the occlusion test. ``benchmarks/accuracy_study.py`` (the CPU study, through Composer's Trainer) and
``benchmarks/gpu_study.py`` (the GPU study, without Composer) both use them; plain PyTorch, no Composer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ['expected_calibration_error', 'occlude', 'occlusion_mask']


def expected_calibration_error(probs: Tensor, labels: Tensor, bins: int = 15) -> float:
    """The L1 expected calibration error of class probabilities, as a fraction (0 to 1).

    The top-1 confidences are binned in ``bins`` equal bins ``[lo, hi)`` of [0, 1] (a confidence of exactly 1 in
    a bin of its own), and the ECE is the sum over bins of ``|mean confidence - accuracy|`` weighted by the share
    of samples in the bin: torchmetrics' ``MulticlassCalibrationError(n_bins=bins, norm='l1')``, which the stored
    runs of the accuracy study were scored with, in one pass on the probabilities' device.

    Args:
        probs: ``(N, C)`` probabilities (a softmax).
        labels: ``(N,)`` the true classes.
        bins: how many equal bins.

    Returns:
        float: the ECE; 0 for a perfectly calibrated model.

    Example:
        >>> probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
        >>> round(expected_calibration_error(probs, torch.tensor([0, 1, 1]), bins=10), 4)  # |0.9-1| + |0.6-0| + |0.7-1|
        0.3333
    """
    conf, pred = probs.float().max(1)
    correct = (pred == labels).float()
    edges = torch.linspace(0, 1, bins + 1, device=conf.device)
    index = torch.bucketize(conf, edges, right=True) - 1
    gap = torch.zeros(bins + 1, device=conf.device).scatter_add_(0, index, conf - correct)
    return float(gap.abs().sum() / conf.numel())


def occlusion_mask(n: int, img_h: int, img_w: int, fraction: float, generator: torch.Generator) -> Tensor:
    """One square per image covering ``fraction`` of it, at a uniformly random place inside the image.

    The square's sides are ``round(img_h * sqrt(fraction))`` by ``round(img_w * sqrt(fraction))``; its top rows
    then its left columns are drawn from ``generator``, on the generator's device, so the same generator seed gives
    every model the same squares.

    Args:
        n: images.
        img_h: image height.
        img_w: image width.
        fraction: the share of each image to cover, in (0, 1].
        generator: draws the places.

    Returns:
        Tensor: ``(n, img_h, img_w)`` bool, True inside the square, on the generator's device.

    Example:
        >>> mask = occlusion_mask(3, 28, 28, 0.25, torch.Generator().manual_seed(0))
        >>> mask.shape, mask.sum((1, 2)).tolist()
        (torch.Size([3, 28, 28]), [196, 196, 196])
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'occlusion_mask: fraction must be in (0, 1], got {fraction}')
    device = generator.device
    side_h, side_w = round(img_h * math.sqrt(fraction)), round(img_w * math.sqrt(fraction))
    y0 = torch.randint(0, img_h - side_h + 1, (n,), generator=generator, device=device)
    x0 = torch.randint(0, img_w - side_w + 1, (n,), generator=generator, device=device)
    rows, cols = torch.arange(img_h, device=device), torch.arange(img_w, device=device)
    inside_rows = (rows >= y0[:, None]) & (rows < y0[:, None] + side_h)
    inside_cols = (cols >= x0[:, None]) & (cols < x0[:, None] + side_w)
    return inside_rows[:, :, None] & inside_cols[:, None, :]


def occlude(X: Tensor, fraction: float, generator: torch.Generator, fill: float = 0.0) -> Tensor:
    """``X`` ``(N, C, H, W)`` with one square per image (:func:`occlusion_mask`) set to ``fill`` in every channel.

    The default 0 is the data set's mean once the images are normalised. Returns a new tensor on ``X``'s device.
    """
    mask = occlusion_mask(X.shape[0], X.shape[-2], X.shape[-1], fraction, generator)
    return X.masked_fill(mask[:, None].to(X.device), fill)
