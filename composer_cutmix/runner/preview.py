"""See what the mixer feeds the model: mixed training batches drawn as grids, each box outlined, each label weighed.

Like fastai's ``show_batch`` for its CutMix/MixUp callbacks: every tile is a training image after augmentation and
mixing, upscaled so its caption fits, with two caption lines: the image's own label with its weight ``lam`` (white)
and the partner's label with ``1 - lam``: in red with ``box`` when a box was pasted (CutMix, outlined in red on the
image), ``resized`` when the whole partner was shrunk into the box (ResizeMix, the box outlined likewise) or ``mask``
when the partner came through a mask (FMix, the edge of the partner's region traced in red); in blue with ``blend``
when the image was blended (MixUp), e.g. ``T-shirt 0.62`` / ``Bag 0.38 box``. A title line says which op the batch
(or, in ``mode='elem'``, each image) went through, and which op MixUpCutMix or RandomMix picked. Pure PIL and torch:
no matplotlib.

Example:
    >>> img = preview_batch({'train_data': {'name': 'synthetic', 'num_samples': 8}}, n=8)
    >>> img.mode, img.width > 0
    ('RGB', True)
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from composer_cutmix.algorithm import MixingAlgorithm, MixUpCutMix, RandomMix
from composer_cutmix.mixer import BatchMixer, RandomMixer
from composer_cutmix.mixing import MixParams, apply, mix_targets
from composer_cutmix.runner.config import RunConfig, config_from_dict, load_config
from composer_cutmix.runner.data import build_dataloader
from composer_cutmix.runner.registry import build_algorithms

__all__ = [
    'BLEND_COLOR',
    'BOX_COLOR',
    'MixedBatch',
    'PREVIEW_MIXERS',
    'describe',
    'draw_batch',
    'draw_mixed_batch',
    'mask_outline',
    'mix_preview_batch',
    'preview_batch',
]

BOX_COLOR = (255, 48, 48)
BLEND_COLOR = (80, 190, 255)
_BG = (24, 24, 24)
_PAD = 6


@dataclass
class MixedBatch:
    """One mixed batch and everything needed to draw it.

    Attributes:
        images: ``(N, C, H, W)`` mixed, still normalised.
        labels: ``(N,)`` each image's own label.
        indices: ``(N,)`` sample ``i`` was mixed with sample ``indices[i]``.
        bboxes: ``(N, 4)`` ``(y0, x0, y1, x1)`` of each image's pasted (or ResizeMix's) box (empty rows for blended
            or unmixed images).
        lam: ``(N,)`` weight of each image's own label.
        targets: ``(N, num_classes)`` the dense targets the mixer produced.
        class_names: names for the labels.
        mean: per-channel mean to undo the normalisation.
        std: per-channel standard deviation likewise.
        ops: per image, ``'cutmix'`` (a box was pasted), ``'mixup'`` (the image was blended), ``'resizemix'`` (the
            shrunken partner fills the box), ``'fmix'`` (the partner fills the mask's False pixels) or ``'none'``.
        title: the line drawn above the grid.
        mask: FMix's ``(H, W)`` mask (True: the image kept its own pixel), or None.
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
    ops: tuple[str, ...] = ()
    title: str = ''
    mask: Optional[Tensor] = None


_OP_NAMES = {'cutmix': 'CutMix', 'mixup': 'MixUp', 'mixup_cutmix': 'MixUp/CutMix', 'resizemix': 'ResizeMix',
             'fmix': 'FMix', 'none': 'unmixed'}


def describe(params: Optional[MixParams], n: int) -> tuple[Tensor, Tensor, Tensor, tuple[str, ...], str]:
    """Any draw -> per-image ``(bboxes (N, 4), lam (N,), indices (N,), ops, title)`` for drawing."""
    if params is None:
        return (torch.zeros(n, 4, dtype=torch.int64), torch.ones(n), torch.arange(n), ('none',) * n,
                'not mixed (prob, or stop_at reached)')
    ops, lam, name = params.ops(), params.weights(), _OP_NAMES.get(params.op, params.op)
    if params.per_sample:
        counts = ', '.join(f'{ops.count(op)} {_OP_NAMES[op]}' for op in ('cutmix', 'mixup', 'none') if op in ops)
        title = f'{name}, one draw per image ({counts}): mean lam = {float(lam.mean()):.2f}'
    elif params.op == 'resizemix':
        title = (f'{name}: each partner shrunk into the box (y0, x0, y1, x1) = {params.bbox}, own label weight '
                 f'lam = {params.lam:.2f}')
    elif params.op == 'fmix':
        title = f'{name}: one mask for the batch, own pixels and own label weight lam = {params.lam:.2f}'
    elif params.bbox is not None:
        title = f'{name}: box (y0, x0, y1, x1) = {params.bbox}, own label weight lam = {params.lam:.2f}'
    else:
        title = f'{name}: every image blended with its partner, own weight lam = {params.lam:.2f}'
    return params.boxes(), lam, params.indices, ops, title


#: the mixers the preview draws, in the order it prefers them when a run names several.
PREVIEW_MIXERS = ('random_mix', 'mixup_cutmix', 'resizemix', 'fmix', 'mixup', 'cutmix')


def _preview_algorithm(cfg: Any, alpha: Optional[float], uniform_sampling: Optional[bool],
                       mode: Optional[str], num_classes: int) -> MixingAlgorithm:
    """The run's mixer (the first of :data:`PREVIEW_MIXERS` in ``algorithms:``), else CutMix, built by the registry;
    explicit ``alpha``/``uniform_sampling``/``mode`` arguments override the config's."""
    algos = dict((cfg or {}).get('algorithms') or {})
    name = next((k for k in PREVIEW_MIXERS if k in algos and algos[k] is not False), 'cutmix')
    kwargs = {k: v for k, v in dict(algos.get(name) or {}).items()
              if k not in ('num_classes', 'log_params', 'check_loss', 'stop_at', 'prob', 'input_key', 'target_key')}
    for key, value in (('alpha', alpha), ('uniform_sampling', uniform_sampling), ('mode', mode)):
        if value is not None:
            kwargs[key] = value
    return build_algorithms({name: kwargs}, num_classes=num_classes)[0]


def _always_mixing(mixer: BatchMixer, generator: torch.Generator) -> BatchMixer:
    """A copy of ``mixer`` that mixes every batch (``prob`` 1; a RandomMixer's chances scaled to sum to 1, each of
    its mixers mixing every batch it gets), drawing from ``generator``; ``mixer`` itself is left as it was."""
    if isinstance(mixer, RandomMixer):
        total = sum(mixer.probs)
        probs = [p / total for p in mixer.probs] if total > 0 else None
        return RandomMixer([_always_mixing(m, generator) for m in mixer.mixers], probs,
                           label_smoothing=mixer.label_smoothing, generator=generator)
    copied = copy.copy(mixer)
    copied.prob, copied.generator = 1.0, generator
    return copied


def _first_batch(source: Any, n: int, seed: int) -> tuple[Tensor, Tensor, Any, Any]:
    """``(X, y, info, run config or None)`` from a run config, a YAML path, a DataLoader, or an ``(X, y)`` pair."""
    if isinstance(source, (tuple, list)) and len(source) == 2 and isinstance(source[0], Tensor):
        return source[0][:n], source[1][:n], None, None
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
        return X, y, loader.dataset.info, OmegaConf.to_container(cfg, resolve=True)
    if hasattr(source, '__iter__'):  # a DataLoader or any iterable of (X, y) batches
        batch = next(iter(source))
        X, y = batch[0], batch[1]
        info = getattr(getattr(source, 'dataset', None), 'info', None)
        return X[:n], y[:n], info, None
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
    algorithm: Optional[MixingAlgorithm] = None,
) -> MixedBatch:
    """Takes one training batch (augmented as in training) and mixes it as the run's algorithm would.

    The mixer is the run's ``random_mix``, ``mixup_cutmix``, ``resizemix``, ``fmix``, ``mixup`` or ``cutmix`` (in
    that order of preference), or CutMix when the run has none, or ``algorithm`` when given; it draws once with a
    generator seeded by ``seed`` (its ``prob`` is ignored so the picture always shows a mix; RandomMix's ``probs``
    are scaled to sum to 1).

    Args:
        source: a run config (or the path of its YAML), a DataLoader, or an ``(X, y)`` batch.
        n: images to show (at most one batch).
        alpha: CutMix's/MixUp's Beta concentration; default: the config's, else the algorithm's default.
        uniform_sampling: CutMix's; default: the config's, else False.
        mode: ``'batch'`` or ``'elem'``; default: the config's, else ``'batch'``.
        seed: seeds the batch order, the augmentation and the draw.
        num_classes: default: the data set's class count, else ``max(y) + 1``.
        class_names: default: the data set's (Fashion-MNIST, CIFAR...), else the label numbers.
        algorithm: a mixer to use instead of the config's (e.g. ``MixUp(alpha=0.4)``).

    Returns:
        MixedBatch: the mixed images, their parameters and the op each image went through.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f'n must be a positive number of images, got {n!r}.')
    torch.manual_seed(seed)  # the augmentation of the batch
    X, y, info, cfg = _first_batch(source, n, seed)
    names = tuple(class_names) if class_names is not None else (tuple(info.classes) if info is not None else None)
    k = num_classes or (len(names) if names else int(y.max()) + 1)
    names = names or tuple(str(i) for i in range(k))
    algo = algorithm if algorithm is not None else _preview_algorithm(cfg, alpha, uniform_sampling, mode, k)
    mixer = _always_mixing(algo.mixer, torch.Generator().manual_seed(seed))  # every batch of the preview is mixed
    params = mixer.draw(X.shape[0], X.shape[-2], X.shape[-1])
    Xm = apply(X, params)
    ym = mix_targets(y, params, k, smoothing=mixer.label_smoothing)
    bboxes, lam, indices, ops, title = describe(params, X.shape[0])
    if isinstance(algo, (MixUpCutMix, RandomMix)) and params is not None and not params.per_sample:
        title = f'{type(algo).__name__} picked {_OP_NAMES[params.op]} for this batch. {title}'
    c = X.shape[1]
    mean = tuple(info.mean) if info is not None else (0.0,) * c
    std = tuple(info.std) if info is not None else (1.0,) * c
    return MixedBatch(Xm, y, indices, bboxes, lam, ym, names, mean, std, ops, title,
                      None if params is None else params.mask)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def mask_outline(mask: Tensor, scale: int) -> Tensor:
    """The edge of the partner's region of an FMix ``mask`` ``(H, W)`` (True: own pixel), upscaled ``scale`` times:
    ``(H*scale, W*scale)`` bool, True on the partner's pixels that touch an own pixel (4-neighbours)."""
    m = mask.bool().cpu().repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    p = F.pad(m[None, None].float(), (1, 1, 1, 1), mode='replicate')[0, 0].bool()  # the border is no edge
    return ~m & (p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:])


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
    the pasted region (CutMix) or of the shrunken partner (ResizeMix); an FMix image has the edge of its partner's
    region (:func:`mask_outline`) drawn in that colour.

    Returns:
        PIL.Image.Image: RGB. ``image.info['cutmix_boxes']`` lists, per image, the outlined rectangle
        ``(left, top, right, bottom)`` in the picture's pixels (inclusive), or ``None`` for an empty box;
        ``image.info['cutmix_tiles']`` the ``(left, top)`` of each image; ``image.info['mix_ops']`` each image's op.
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
    ops = batch.ops or ('cutmix',) * n
    draw.text((_PAD, _PAD // 2), batch.title or describe(None, n)[-1], fill=(230, 230, 230), font=font)
    boxes, tiles = [], []
    outline = None if batch.mask is None else mask_outline(batch.mask, scale)
    for i in range(n):
        left = _PAD + (i % ncols) * (tw + _PAD)
        top = header_h + (i // ncols) * cell_h
        tile = rgb[i].repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        if ops[i] == 'fmix' and outline is not None:
            tile = tile.clone()
            tile[:, outline] = torch.tensor(BOX_COLOR, dtype=torch.uint8).view(3, 1)
        canvas.paste(Image.fromarray(tile.permute(1, 2, 0).numpy(), 'RGB'), (left, top))
        tiles.append((left, top))
        y0, x0, y1, x1 = batch.bboxes[i].tolist()
        if ops[i] in ('cutmix', 'resizemix') and y1 > y0 and x1 > x0:
            rect = (left + x0 * scale, top + y0 * scale, left + x1 * scale - 1, top + y1 * scale - 1)
            draw.rectangle(rect, outline=BOX_COLOR, width=max(1, min(2, scale // 2)))
            boxes.append(rect)
        else:
            boxes.append(None)
        own, other = _label_name(batch, i), _label_name(batch, int(batch.indices[i]))
        draw.text((left, top + th + 2), f'{own} {lam[i]:.2f}', fill=(240, 240, 240), font=font)
        if ops[i] == 'mixup':
            draw.text((left, top + th + 2 + line_h), f'{other} {1 - lam[i]:.2f} blend', fill=BLEND_COLOR, font=font)
        elif ops[i] == 'fmix' or boxes[-1] is not None:
            how = {'fmix': 'mask', 'resizemix': 'resized'}.get(ops[i], 'box')
            draw.text((left, top + th + 2 + line_h), f'{other} {1 - lam[i]:.2f} {how}', fill=BOX_COLOR, font=font)
        else:
            draw.text((left, top + th + 2 + line_h), '(not mixed)' if ops[i] == 'none' else '(no box)',
                      fill=(150, 150, 150), font=font)
    canvas.info['cutmix_boxes'] = boxes
    canvas.info['cutmix_tiles'] = tiles
    canvas.info['cutmix_scale'] = scale
    canvas.info['mix_ops'] = list(ops)
    return canvas


def _label_name(batch: MixedBatch, i: int) -> str:
    if batch.labels is None:
        return '?'
    label = int(batch.labels[i])
    return batch.class_names[label] if 0 <= label < len(batch.class_names) else str(label)


def draw_batch(
    images: Tensor,
    labels: Optional[Tensor],
    params: Optional[MixParams],
    class_names: Optional[Sequence[str]] = None,
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    **kwargs: Any,
) -> Image.Image:
    """Draws an already mixed batch from the draw that mixed it (e.g. an algorithm's ``last_params``).

    Args:
        images: ``(N, C, H, W)`` mixed images, normalised with ``mean``/``std``, on any device.
        labels: ``(N,)`` each image's own label (or its dominant label, once targets are dense), or None.
        params: the draw (:class:`~composer_cutmix.mixing.MixParams`), or None for an unmixed batch.
        class_names: names for the labels; default: the label numbers.
        mean, std: the normalisation to undo.
        kwargs: passed to :func:`draw_mixed_batch` (``ncols``, ``min_size``, ``font_size``).

    Returns:
        PIL.Image.Image: the grid (RGB).
    """
    n = images.shape[0]
    bboxes, lam, indices, ops, title = describe(params, n)
    labels = None if labels is None else labels.detach().cpu()
    k = len(class_names) if class_names else (int(labels.max()) + 1 if labels is not None else 1)
    names = tuple(class_names) if class_names else tuple(str(i) for i in range(k))
    batch = MixedBatch(images.detach().cpu(), labels, indices.cpu(), bboxes.cpu(), lam.cpu(), torch.empty(0),
                       names, tuple(mean), tuple(std), ops, title, None if params is None else params.mask)
    return draw_mixed_batch(batch, **kwargs)


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
    batches: int = 1,
    algorithm: Optional[MixingAlgorithm] = None,
) -> Image.Image:
    """Draws mixed training batches as grids, one under the other; optionally saves them as a PNG.

    Args:
        source: a run config (:func:`~composer_cutmix.runner.config.load_config`'s result, a mapping, or a YAML path),
            a DataLoader (its ``dataset.info`` gives class names and normalisation when it has one), or an
            ``(X, y)`` batch.
        n: number of images.
        out: where to save the PNG (folders are created); ``None`` only returns the image.
        alpha, uniform_sampling, mode: the mixer's; default to the config's ``algorithms.<mixer>``.
        seed: seeds the batch, its augmentation and the draw (batch ``b`` uses ``seed + b``).
        ncols: tiles per row (default ``min(n, 8)``).
        min_size: upscale images to at least this many pixels wide so the captions fit.
        class_names: overrides the data set's names.
        batches: how many draws to show, one grid each (e.g. to see MixUpCutMix or RandomMix switch between ops).
        algorithm: a mixer to use instead of the config's.

    Returns:
        PIL.Image.Image: the grid (RGB), for a notebook or further drawing; ``info`` describes the first grid.
    """
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f'batches must be a positive number of grids, got {batches!r}.')
    grids = [draw_mixed_batch(mix_preview_batch(source, n=n, alpha=alpha, uniform_sampling=uniform_sampling, mode=mode,
                                                seed=seed + b, class_names=class_names, algorithm=algorithm),
                              ncols=ncols, min_size=min_size) for b in range(batches)]
    img = grids[0]
    if batches > 1:
        img = Image.new('RGB', (max(g.width for g in grids), sum(g.height for g in grids)), _BG)
        top = 0
        for g in grids:
            img.paste(g, (0, top))
            top += g.height
        img.info.update(grids[0].info)
        img.info['mix_ops_per_grid'] = [g.info['mix_ops'] for g in grids]
    if out is not None:
        folder = os.path.dirname(os.fspath(out))
        if folder:
            os.makedirs(folder, exist_ok=True)
        img.save(out, format='PNG')
    return img
