"""See what CutMix feeds the model: one mixed training batch drawn as a grid, each box outlined, each label weighed.

Like fastai's ``show_batch`` for its CutMix callback: every tile is a training image after augmentation and
CutMix, upscaled so its caption fits, with the pasted box outlined in red and two caption lines: the image's own
label with its weight ``lam`` (white) and the label of the image the box came from with ``1 - lam`` (red, the
box's colour), e.g. ``T-shirt 0.62`` / ``Bag 0.38``. Pure PIL and torch: no matplotlib.

Example:
    >>> img = preview_batch({'train_data': {'name': 'synthetic', 'num_samples': 8}}, n=8)
    >>> img.mode, img.width > 0
    ('RGB', True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from composer_cutmix.functional import cutmix_batch, sample_params, sample_params_elem
from composer_cutmix.runner.config import RunConfig, config_from_dict, load_config
from composer_cutmix.runner.data import build_dataloader

__all__ = ['BOX_COLOR', 'MixedBatch', 'draw_mixed_batch', 'mix_preview_batch', 'preview_batch']

BOX_COLOR = (255, 48, 48)
_BG = (24, 24, 24)
_PAD = 6


@dataclass
class MixedBatch:
    """One CutMix'ed batch and everything needed to draw it.

    Attributes:
        images: ``(N, C, H, W)`` mixed, still normalised.
        labels: ``(N,)`` each image's own label.
        indices: ``(N,)`` sample ``i``'s box came from sample ``indices[i]``.
        bboxes: ``(N, 4)`` ``(y0, x0, y1, x1)`` of each image's box (the same row repeated in batch mode).
        lam: ``(N,)`` weight of each image's own label.
        targets: ``(N, num_classes)`` the dense targets CutMix produced.
        class_names: names for the labels.
        mean: per-channel mean to undo the normalisation.
        std: per-channel standard deviation likewise.
    """

    images: Tensor
    labels: Tensor
    indices: Tensor
    bboxes: Tensor
    lam: Tensor
    targets: Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]


def _cutmix_kwargs(cfg: Any) -> dict[str, Any]:
    algos = cfg.get('algorithms') or {}
    kw = dict(algos.get('cutmix') or {})
    return {k: kw[k] for k in ('alpha', 'uniform_sampling', 'mode') if k in kw}


def _first_batch(source: Any, n: int, seed: int) -> tuple[Tensor, Tensor, Any, dict[str, Any]]:
    """``(X, y, info, cutmix kwargs)`` from a run config, a YAML path, a DataLoader, or an ``(X, y)`` pair."""
    if isinstance(source, (tuple, list)) and len(source) == 2 and isinstance(source[0], Tensor):
        return source[0][:n], source[1][:n], None, {}
    if isinstance(source, (str, os.PathLike, dict, DictConfig)):
        if isinstance(source, (str, os.PathLike)):
            cfg = load_config(source)
        elif isinstance(source, DictConfig) and OmegaConf.get_type(source) is RunConfig:
            cfg = source
        else:
            cfg = config_from_dict(source)
        data = dict(cfg.train_data)
        data.update(batch_size=n, num_workers=0)
        loader = build_dataloader(data, train=True, seed=seed)
        X, y = next(iter(loader))
        return X, y, loader.dataset.info, _cutmix_kwargs(cfg)
    if hasattr(source, '__iter__'):  # a DataLoader or any iterable of (X, y) batches
        batch = next(iter(source))
        X, y = batch[0], batch[1]
        info = getattr(getattr(source, 'dataset', None), 'info', None)
        return X[:n], y[:n], info, {}
    raise TypeError(f'preview_batch takes a run config, a YAML path, a DataLoader or an (X, y) batch, '
                    f'got {type(source).__name__}.')


def mix_preview_batch(
    source: Any,
    *,
    n: int = 16,
    alpha: Optional[float] = None,
    uniform_sampling: Optional[bool] = None,
    mode: Optional[str] = None,
    seed: int = 0,
    num_classes: Optional[int] = None,
    class_names: Optional[Sequence[str]] = None,
) -> MixedBatch:
    """Takes one training batch (augmented as in training) and CutMixes it as the algorithm would.

    Args:
        source: a run config (or the path of its YAML), a DataLoader, or an ``(X, y)`` batch.
        n: images to show (at most one batch).
        alpha: Beta concentration; default: the config's ``algorithms.cutmix.alpha``, else 1.0.
        uniform_sampling: default: the config's, else False.
        mode: ``'batch'`` (one box, as in the paper) or ``'elem'``; default: the config's, else ``'batch'``.
        seed: seeds the batch order, the augmentation and the CutMix draw.
        num_classes: default: the data set's class count, else ``max(y) + 1``.
        class_names: default: the data set's (Fashion-MNIST, CIFAR...), else the label numbers.

    Returns:
        MixedBatch: the mixed images and their parameters.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f'n must be a positive number of images, got {n!r}.')
    torch.manual_seed(seed)  # the augmentation of the batch
    X, y, info, cm = _first_batch(source, n, seed)
    alpha = cm.get('alpha', 1.0) if alpha is None else alpha
    uniform_sampling = cm.get('uniform_sampling', False) if uniform_sampling is None else uniform_sampling
    mode = cm.get('mode', 'batch') if mode is None else mode
    names = tuple(class_names) if class_names is not None else (tuple(info.classes) if info is not None else None)
    k = num_classes or (len(names) if names else int(y.max()) + 1)
    names = names or tuple(str(i) for i in range(k))
    n, img_h, img_w = X.shape[0], X.shape[-2], X.shape[-1]
    g = torch.Generator().manual_seed(seed)
    if mode == 'elem':
        p = sample_params_elem(n, img_h, img_w, alpha, uniform_sampling=uniform_sampling, generator=g)
        bboxes, lam, indices = p.bboxes, p.lam, p.indices
        Xm, ym = cutmix_batch(X, y, k, bbox=bboxes, indices=indices, mode='elem')
    elif mode == 'batch':
        p = sample_params(n, img_h, img_w, alpha, uniform_sampling=uniform_sampling, generator=g)
        bboxes, lam, indices = torch.tensor([p.bbox] * n), torch.full((n,), p.lam), p.indices
        Xm, ym = cutmix_batch(X, y, k, bbox=p.bbox, indices=indices)
    else:
        raise ValueError(f"mode must be 'batch' or 'elem', got {mode!r}.")
    c = X.shape[1]
    mean = tuple(info.mean) if info is not None else (0.0,) * c
    std = tuple(info.std) if info is not None else (1.0,) * c
    return MixedBatch(Xm, y, indices, bboxes, lam, ym, names, mean, std)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _to_rgb_uint8(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Undo the normalisation: ``(N, C, H, W)`` float -> ``(N, 3, H, W)`` uint8."""
    x = images.detach().float().cpu()
    c = x.shape[1]
    m = torch.tensor(mean[:c] if len(mean) >= c else list(mean) * c).view(1, c, 1, 1)
    s = torch.tensor(std[:c] if len(std) >= c else list(std) * c).view(1, c, 1, 1)
    x = (x * s + m).clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    if c == 1:
        x = x.expand(-1, 3, -1, -1)
    elif c != 3:
        x = x[:, :3] if c > 3 else torch.cat([x, x[:, -1:].expand(-1, 3 - c, -1, -1)], 1)
    return x.contiguous()


def draw_mixed_batch(batch: MixedBatch, *, ncols: Optional[int] = None, min_size: int = 140,
                     font_size: int = 13) -> Image.Image:
    """Draws a :class:`MixedBatch` as a grid of captioned tiles.

    Each image is upscaled by the smallest integer factor that makes it at least ``min_size`` pixels wide
    (nearest neighbour, so pixels stay sharp); its box is outlined in :data:`BOX_COLOR` along the inside of
    the pasted region.

    Returns:
        PIL.Image.Image: RGB. ``image.info['cutmix_boxes']`` lists, per image, the outlined rectangle
        ``(left, top, right, bottom)`` in the picture's pixels (inclusive), or ``None`` for an empty box;
        ``image.info['cutmix_tiles']`` the ``(left, top)`` of each image.
    """
    rgb = _to_rgb_uint8(batch.images, batch.mean, batch.std)
    n, _, h, w = rgb.shape
    scale = max(1, math.ceil(min_size / max(h, w)))
    th, tw = h * scale, w * scale
    font = _font(font_size)
    line_h = font_size + 4
    ncols = ncols or min(n, 8)
    nrows = math.ceil(n / ncols)
    header_h = line_h + _PAD
    cell_h = th + 2 * line_h + _PAD
    canvas = Image.new('RGB', (ncols * (tw + _PAD) + _PAD, header_h + nrows * cell_h + _PAD), _BG)
    draw = ImageDraw.Draw(canvas)
    lam = batch.lam.tolist()
    if bool((batch.bboxes == batch.bboxes[0]).all()):
        y0, x0, y1, x1 = batch.bboxes[0].tolist()
        title = f'CutMix: box (y0, x0, y1, x1) = ({y0}, {x0}, {y1}, {x1}), own label weight lam = {lam[0]:.2f}'
    else:
        title = f'CutMix (one box per image): mean lam = {sum(lam) / n:.2f}'
    draw.text((_PAD, _PAD // 2), title, fill=(230, 230, 230), font=font)
    boxes, tiles = [], []
    for i in range(n):
        left = _PAD + (i % ncols) * (tw + _PAD)
        top = header_h + (i // ncols) * cell_h
        tile = rgb[i].repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        canvas.paste(Image.fromarray(tile.permute(1, 2, 0).numpy(), 'RGB'), (left, top))
        tiles.append((left, top))
        y0, x0, y1, x1 = batch.bboxes[i].tolist()
        if y1 > y0 and x1 > x0:
            rect = (left + x0 * scale, top + y0 * scale, left + x1 * scale - 1, top + y1 * scale - 1)
            draw.rectangle(rect, outline=BOX_COLOR, width=max(1, min(2, scale // 2)))
            boxes.append(rect)
        else:
            boxes.append(None)
        own = batch.class_names[int(batch.labels[i])]
        other = batch.class_names[int(batch.labels[int(batch.indices[i])])]
        draw.text((left, top + th + 2), f'{own} {lam[i]:.2f}', fill=(240, 240, 240), font=font)
        second = f'{other} {1 - lam[i]:.2f}' if boxes[-1] is not None else '(no box)'
        draw.text((left, top + th + 2 + line_h), second, fill=BOX_COLOR, font=font)
    canvas.info['cutmix_boxes'] = boxes
    canvas.info['cutmix_tiles'] = tiles
    canvas.info['cutmix_scale'] = scale
    return canvas


def preview_batch(
    source: Any,
    *,
    n: int = 16,
    out: Optional[Union[str, os.PathLike]] = None,
    alpha: Optional[float] = None,
    uniform_sampling: Optional[bool] = None,
    mode: Optional[str] = None,
    seed: int = 0,
    ncols: Optional[int] = None,
    min_size: int = 140,
    class_names: Optional[Sequence[str]] = None,
) -> Image.Image:
    """Draws one CutMix'ed training batch as a grid; optionally saves it as a PNG.

    Args:
        source: a run config (:func:`~composer_cutmix.runner.config.load_config`'s result, a mapping, or a YAML path),
            a DataLoader (its ``dataset.info`` gives class names and normalisation when it has one), or an
            ``(X, y)`` batch.
        n: number of images.
        out: where to save the PNG (folders are created); ``None`` only returns the image.
        alpha, uniform_sampling, mode: CutMix's; default to the config's ``algorithms.cutmix``.
        seed: seeds the batch, its augmentation and the draw.
        ncols: tiles per row (default ``min(n, 8)``).
        min_size: upscale images to at least this many pixels wide so the captions fit.
        class_names: overrides the data set's names.

    Returns:
        PIL.Image.Image: the grid (RGB), for a notebook or further drawing.
    """
    batch = mix_preview_batch(source, n=n, alpha=alpha, uniform_sampling=uniform_sampling, mode=mode, seed=seed,
                              class_names=class_names)
    img = draw_mixed_batch(batch, ncols=ncols, min_size=min_size)
    if out is not None:
        folder = os.path.dirname(os.fspath(out))
        if folder:
            os.makedirs(folder, exist_ok=True)
        img.save(out, format='PNG')
    return img
