"""Time one CutMix, MixUp, ResizeMix or FMix batch-mixing step, side by side in one process: ours, Composer's,
timm's, torchvision's, kornia's and mmpretrain's, against the least any implementation must do.

Usage::

    python benchmarks/mix_speed.py [--op cutmix|mixup|resizemix|fmix|all] [--quick|--tiny]
                                   [--device cpu|cuda|all] [--dtypes float32,uint8] [--shapes imagenet,cifar]
                                   [--no-peers] [--repeats N] [--threads N] [--json out.json]

For every (op, shape, dtype, device) it prints one table. For CutMix each row is one way of mixing one batch:

* ours, out of place: ``composer_cutmix.cutmix_batch(X, y, ...)`` (input untouched);
* ours, in place: ``cutmix_batch(..., inplace=True)`` on a batch it owns, and the Algorithm's per-step work
  (``apply(..., inplace=True)`` + ``mix_targets`` of the one pipeline, no argument checks);
* Composer's built-in: ``composer.functional.cutmix_batch`` plus its dense targets (``ensure_targets_one_hot``
  and the ``lam`` interpolation of its ``Event.BEFORE_LOSS`` branch);
* the peers, each optional (a note replaces the row when it cannot be imported or cannot take the dtype):
  timm ``Mixup`` (cutmix only, batch mode; mutates its input), torchvision ``v2.CutMix``, kornia
  ``RandomCutMixV2`` (one box per sample and no dense targets: a different method, shown for scale);
* floors: copying only the box from the permuted batch through a box-sized buffer (the least any in-place CutMix
  must do in one gather), the same with a buffer reused across calls, a plain ``X.clone()``, a clone with the box
  gathered straight into it (the least any out-of-place CutMix must do), and the box copied sample by sample
  along the permutation's cycles through a buffer of one box (the least memory an in-place CutMix needs).

For MixUp (``X_mixed = lam * X + (1 - lam) * X[perm]``, one ``lam`` per batch) the rows are:

* ours: ``mixup_batch`` out of place and ``inplace=True``, and the Algorithm's per-step work (``apply(...,
  inplace=True)`` + ``mix_targets``);
* Composer's ``composer.functional.mixup_batch`` plus its dense targets (its ``Event.BEFORE_LOSS`` branch);
* timm ``Mixup(mixup_alpha=1.0, cutmix_alpha=0)`` (batch mode; mutates its input), torchvision ``v2.MixUp``;
* floors: gathering the permuted batch once and one in-place ``lerp`` (the least an in-place MixUp must do in one
  gather, float types only: ``lerp`` takes no integers), the gather alone, ``X.clone()``, and the lerp sample by
  sample along the permutation's cycles through a buffer of one sample.

For ResizeMix (each image's box receives its partner, whole, shrunk to the box) the rows are:

* ours: ``resizemix_batch`` out of place and ``inplace=True``, and the Algorithm's per-step work;
* mmpretrain's ``ResizeMix`` (``mmpretrain.models.utils.batch_augments``; it mutates its input and takes one-hot
  scores), with ``lam_min = lam_max = 0.75`` so that its box side is half the image's as ours; its box centre
  (clipped at the border) and permutation are its own draws, so its pixels are not compared;
* floors: resizing the batch to the box once and gathering the shrunk partners straight into the boxes (the least
  an in-place ResizeMix does in one gather; the reference), the permuted batch gathered whole, then resized and
  copied into the boxes (mmpretrain's order), ``X.clone()``, and the partners resized one at a time and
  written into their boxes along the permutation's cycles with a buffer of one sample.

For FMix (where the mask is False each image takes its partner's pixel) the rows are:

* ours: ``fmix_batch`` out of place and ``inplace=True``, the Algorithm's per-step work, and ``draw_fmix`` alone at
  the case's size (a fresh mask each call: the Beta draw, the low-frequency image, its top pixels, the
  permutation), timed in turn with the others;
* floors: gathering the permuted batch once and one ``torch.where(mask, X, X[perm], out=X)`` (the least an in-place
  FMix does in one gather; the reference), the gather alone, ``X.clone()``, and the masked write sample by sample
  along the permutation's cycles with a buffer of one sample.

No peer has FMix that installs from the package registry next to torch 2.7: timm, torchvision, kornia, Composer and
mmpretrain have none, and OpenMixup (``openmixup`` 0.2.9, which has both ops) requires ``mmcv-full`` 1.4.7-1.7.2,
published there only as a source archive whose C++/CUDA operators must be compiled against the installed torch
(its ``__init__`` refuses mmcv 2). mmpretrain 1.2.0 does install as pure-Python wheels; it is not in the
``bench`` extra (it brings mmengine, mmcv-lite and opencv-python), so install it into the environment that runs
this script to get its row::

    pip install mmpretrain==1.2.0 mmengine==0.10.7 mmcv-lite==2.2.0

(``mmcv-lite`` is mmcv without its compiled operators, which ``ResizeMix`` does not use; mmpretrain's ``__init__``
accepts mmcv 2.0-2.3.) Without it the row says why it is skipped.

Ours, Composer's and the floors use the same pinned box (half the side, centred: 25% of the area; ResizeMix resizes
bilinearly), the same pinned ``lam`` (0.7), or the same pinned FMix mask (a seeded ``draw_fmix`` at the case's
``(H, W)`` with ``alpha`` = 1000, a mean near 0.5), and the same permutation; the peers draw their own. Each
repetition starts from a fresh copy of a master batch, made outside the timed region, so in-place methods always mix
unmixed data. The methods take turns within each repetition, and on the CPU a call during which other processes
took the CPU is run again (up to 5 tries; the table notes calls that stayed disturbed). Columns:

* ``ms``, ``min ms``: median and fastest wall time of one call (CUDA: ``torch.cuda.Event`` pairs).
* ``t/floor``, ``t/Composer``: time divided by the reference floor's (CutMix: the box copy; MixUp: gather + lerp,
  or the gather alone for integer images; ResizeMix: resize + box copy; FMix: gather + masked select), and by
  Composer's (CutMix and MixUp only).
* ``MB moved``: an estimate of bytes read + written by the method's tensor work (see ``BYTES_MOVED``,
  ``mixup_bytes``, ``RESIZEMIX_BYTES`` and ``FMIX_BYTES``).
* ``extra MB``: peak memory the call allocated beyond its input, outputs included (CPU: the allocations
  recorded by ``torch.profiler``; CUDA: ``torch.cuda.max_memory_allocated`` delta).
* ``in place``: whether the input batch was modified.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import Tensor

if __package__ in (None, ''):  # run as a file: the repository root on the path, as `python -m` would have it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import Contention, OtherLoad, load_functional, positive_int, threads_line  # noqa: E402

__all__ = ['Case', 'Row', 'main', 'run_case']

# timm, torchvision, kornia and mmcv warn about defaults, deprecations and missing ops; the benchmark is not the place.
warnings.filterwarnings('ignore', module=r'(timm|torchvision|kornia|composer|mmcv|mmengine|mmpretrain)(\.|$)')

OPS = ('cutmix', 'mixup', 'resizemix', 'fmix')
TARGET_INPLACE_VS_BOX = 1.5  # CutMix in place: at most 1.5x the box-copy floor
TARGET_SPEEDUP_VS_COMPOSER = 5.0  # CutMix in place: at least 5x faster than Composer's, ImageNet shape
TARGET_OOP_VS_CLONE = 1.2  # CutMix out of place: at most 1.2x a plain clone()
TARGET_MIXUP_VS_FLOOR = 1.3  # MixUp in place: at most 1.3x gather + in-place lerp
TARGET_MIXUP_SPEEDUP = 2.0  # MixUp in place: at least 2x faster than Composer's, ImageNet shape
TARGET_VS_CYCLE = 1.3  # CPU, in place, 224x224 batches: at most 1.3x the walk along the permutation's cycles
TARGET_RESIZEMIX_VS_FLOOR = 1.5  # ResizeMix in place: at most 1.5x the resize + box-copy floor
TARGET_FMIX_VS_FLOOR = 1.5  # FMix in place: at most 1.5x gather + masked select
TARGET_FMIX_DRAW_SHARE = 0.10  # FMix: the mask draw under 10% of the in-place step, ImageNet shape
MIXUP_LAM = 0.7  # the pinned weight of each sample's own image
OP_NAMES = {'cutmix': 'CutMix', 'mixup': 'MixUp', 'resizemix': 'ResizeMix', 'fmix': 'FMix'}
FMIX_ALPHA_PINNED = 1000.0  # the Beta(alpha, alpha) of the pinned FMix mask: a mean within a few % of 0.5

# Estimated bytes read + written, in units of F (the whole batch), B (the box of the batch), M (a bool mask the
# size of the batch in elements) and T (the dense (N, n_classes) float32 targets). Gathering through a buffer
# costs 4B (read box, write buffer, read buffer, write box); a clone 2F.
BYTES_MOVED: dict[str, tuple[str, Callable[[float, float, float, float], float]]] = {
    'ours_oop': ('2F+4B+T', lambda F, B, M, T: 2 * F + 4 * B + T),
    'ours_inplace': ('4B+T', lambda F, B, M, T: 4 * B + T),
    'ours_algo': ('4B+T', lambda F, B, M, T: 4 * B + T),
    'composer': ('2F+4B+5T', lambda F, B, M, T: 2 * F + 4 * B + 5 * T),
    'timm': ('2F+2B+3T', lambda F, B, M, T: 2 * F + 2 * B + 3 * T),
    'torchvision': ('4F+2B+3T', lambda F, B, M, T: 4 * F + 2 * B + 3 * T),
    'kornia': ('>=4F+3M', lambda F, B, M, T: 4 * F + 3 * M),
    'floor_box': ('4B', lambda F, B, M, T: 4 * B),
    'floor_box_reused': ('4B', lambda F, B, M, T: 4 * B),
    'floor_clone': ('2F', lambda F, B, M, T: 2 * F),
    'floor_oop': ('2F+2B', lambda F, B, M, T: 2 * F + 2 * B),
    'floor_cycle': ('2B', lambda F, B, M, T: 2 * B),
}


def mixup_bytes(key: str, F: float, T: float, W: float, dtype: torch.dtype) -> tuple[str, Optional[float]]:
    """MixUp's estimated bytes read + written, with ``W`` the batch in float32 (the working copy of integer and
    half-precision inputs, which ours blends in float32: convert, gather, two scalings, the sum, rounding for
    integers, the cast back)."""
    fast = dtype in (torch.float32, torch.float64)  # the one-lerp path
    floating = dtype.is_floating_point
    table: dict[str, tuple[str, float]] = {
        'ours_oop': ('5F+T', 5 * F + T) if fast else ('2F+11W+T' if floating else '2F+15W+T',
                                                      2 * F + (11 if floating else 15) * W + T),
        'composer': ('9F+5T', 9 * F + 5 * T) if floating else ('4F+5W+5T', 4 * F + 5 * W + 5 * T),
        'timm': ('9F+3T', 9 * F + 3 * T),
        'torchvision': ('9F+3T', 9 * F + 3 * T),
        'floor_mix': ('5F', 5 * F),
        'floor_gather': ('2F', 2 * F),
        'floor_clone': ('2F', 2 * F),
        'floor_cycle': ('3F', 3 * F),
    }
    table['ours_inplace'] = table['ours_algo'] = table['ours_oop']
    return table.get(key, ('?', None))


# ResizeMix, float32/float64 (other dtypes are resized in float32: not estimated): resizing reads the batch (F)
# and writes a box (B); the batch path then gathers the shrunk partners (2B) and copies them into the boxes (2B).
# Ours on the CPU with large samples resizes one partner at a time and copies it into its box (2B): 2B less.
RESIZEMIX_BYTES: dict[str, tuple[str, Callable[[float, float, float], float]]] = {
    'ours_oop': ('3F+5B+T', lambda F, B, T: 3 * F + 5 * B + T),
    'ours_inplace': ('F+5B+T', lambda F, B, T: F + 5 * B + T),
    'ours_algo': ('F+5B+T', lambda F, B, T: F + 5 * B + T),
    'ours_oop_by_sample': ('3F+3B+T', lambda F, B, T: 3 * F + 3 * B + T),
    'ours_inplace_by_sample': ('F+3B+T', lambda F, B, T: F + 3 * B + T),
    'mmpretrain': ('3F+3B+3T', lambda F, B, T: 3 * F + 3 * B + 3 * T),
    'floor_resize': ('F+3B', lambda F, B, T: F + 3 * B),
    'floor_gathered': ('3F+3B', lambda F, B, T: 3 * F + 3 * B),
    'floor_clone': ('2F', lambda F, B, T: 2 * F),
    'floor_cycle': ('F+3B', lambda F, B, T: F + 3 * B),
}
# FMix: the gather (2F), then one masked select reading both and writing one batch (3F); the mask is negligible.
# Ours in place on the CPU with large samples writes along the cycles (3F). The mask draw alone (ours_draw) touches
# no batch: no estimate.
FMIX_BYTES: dict[str, tuple[str, Callable[[float, float], float]]] = {
    'ours_oop': ('5F+T', lambda F, T: 5 * F + T),
    'ours_inplace': ('5F+T', lambda F, T: 5 * F + T),
    'ours_algo': ('5F+T', lambda F, T: 5 * F + T),
    'ours_inplace_by_sample': ('3F+T', lambda F, T: 3 * F + T),
    'floor_mask': ('5F', lambda F, T: 5 * F),
    'floor_gather': ('2F', lambda F, T: 2 * F),
    'floor_clone': ('2F', lambda F, T: 2 * F),
    'floor_cycle': ('3F', lambda F, T: 3 * F),
}


def bytes_moved(op: str, key: str, dtype: torch.dtype, F: float, B: float, M: float, T: float,
                W: float, by_sample: bool = False) -> tuple[str, Optional[float]]:
    """``(formula, bytes)`` estimated for one method of one op (``'?', None`` where there is no estimate);
    ``by_sample``: ours goes sample by sample (the CPU, large samples)."""
    if op == 'mixup':
        return mixup_bytes(key, F, T, W, dtype)
    if op in ('resizemix', 'fmix'):
        table = RESIZEMIX_BYTES if op == 'resizemix' else FMIX_BYTES
        if by_sample and f'{key.replace("_algo", "_inplace")}_by_sample' in table:
            key = f'{key.replace("_algo", "_inplace")}_by_sample'
        if key not in table or (op == 'resizemix' and dtype not in (torch.float32, torch.float64)):
            return '?', None
        formula, fn = table[key]
        return formula, (fn(F, B, T) if op == 'resizemix' else fn(F, T))
    formula, fn = BYTES_MOVED[key]
    return formula, fn(F, B, M, T)

LABELS = {
    'ours_oop': 'ours cutmix_batch (out of place)',
    'ours_inplace': 'ours cutmix_batch(inplace=True)',
    'ours_algo': 'ours Algorithm step (in place)',
    'composer': "Composer's cutmix_batch + targets",
    'timm': 'timm Mixup (cutmix, batch mode)',
    'torchvision': 'torchvision v2.CutMix',
    'kornia': 'kornia RandomCutMixV2 (per sample)',
    'floor_box': 'floor: box copy (fresh buffer)',
    'floor_box_reused': 'floor: box copy (reused buffer)',
    'floor_clone': 'floor: X.clone()',
    'floor_oop': 'floor: clone + box gathered into it',
    'floor_cycle': 'floor: box copy by cycles (1 box)',
}
MIXUP_LABELS = {
    'ours_oop': 'ours mixup_batch (out of place)',
    'ours_inplace': 'ours mixup_batch(inplace=True)',
    'ours_algo': 'ours Algorithm step (in place)',
    'composer': "Composer's mixup_batch + targets",
    'timm': 'timm Mixup (mixup, batch mode)',
    'torchvision': 'torchvision v2.MixUp',
    'floor_mix': 'floor: gather + in-place lerp',
    'floor_gather': 'floor: gather the permuted batch',
    'floor_clone': 'floor: X.clone()',
    'floor_cycle': 'floor: blend by cycles (1 sample)',
}
RESIZEMIX_LABELS = {
    'ours_oop': 'ours resizemix_batch (out of place)',
    'ours_inplace': 'ours resizemix_batch(inplace=True)',
    'ours_algo': 'ours Algorithm step (in place)',
    'mmpretrain': 'mmpretrain ResizeMix (side 0.5)',
    'floor_resize': 'floor: resize + box copy',
    'floor_gathered': 'floor: gather, resize, box copy',
    'floor_clone': 'floor: X.clone()',
    'floor_cycle': 'floor: resize + box by cycles',
}
FMIX_LABELS = {
    'ours_oop': 'ours fmix_batch (out of place)',
    'ours_inplace': 'ours fmix_batch(inplace=True)',
    'ours_algo': 'ours Algorithm step (in place)',
    'ours_draw': 'ours draw_fmix (the mask draw alone)',
    'floor_mask': 'floor: gather + masked select',
    'floor_gather': 'floor: gather the permuted batch',
    'floor_clone': 'floor: X.clone()',
    'floor_cycle': 'floor: masked copy by cycles',
}


@dataclass
class Case:
    """One table: the op, a batch shape, a dtype, a device, the number of classes and how many repetitions."""

    name: str
    shape: tuple[int, int, int, int]
    dtype: str
    device: str
    n_classes: int
    repeats: int
    warmup: int
    op: str = 'cutmix'

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)


@dataclass
class Row:
    """The measurements of one method on one case; ``note`` replaces them when the method was skipped."""

    key: str
    label: str
    median_ms: Optional[float] = None
    min_ms: Optional[float] = None
    times_ms: list[float] = field(default_factory=list)
    contended: int = 0  # kept calls during which other processes were busy on the CPU
    vs_floor: Optional[float] = None
    vs_composer: Optional[float] = None
    bytes_formula: str = ''
    bytes_moved: Optional[float] = None
    extra_bytes: Optional[float] = None
    inplace: Optional[bool] = None
    out_dtype: str = ''
    note: str = ''


# ------------------------------------------------------------------------------------------------- environment


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return 'not installed'
    except Exception as e:  # installed, but it will not import next to this torch
        return f'not importable ({type(e).__name__})'


def header_lines(devices: list[str]) -> list[str]:
    lines = [
        f'python {platform.python_version()}, torch {torch.__version__}, composer {_version("composer")}, '
        f'timm {_version("timm")}, torchvision {_version("torchvision")}, kornia {_version("kornia")}, '
        f'mmpretrain {_version("mmpretrain")}',
        threads_line(),
    ]
    if 'cuda' in devices:
        lines.append(f'CUDA: {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})')
    return lines


# ------------------------------------------------------------------------------------------------- the methods


def centred_box(img_h: int, img_w: int) -> tuple[int, int, int, int]:
    """``(y0, x0, y1, x1)`` of half the side, centred: a quarter of the area."""
    bh, bw = img_h // 2, img_w // 2
    y0, x0 = (img_h - bh) // 2, (img_w - bw) // 2
    return y0, x0, y0 + bh, x0 + bw


#: ``--no-peers``: measure ours and the floors only (the CPU-floor targets need nothing else, in a fraction of the time).
PEERS = {'on': True}


def _peer(name: str, make: Callable[[], Any]) -> Any:
    """``make()``, or the reason it failed (an import error, a version that lacks the class) as the skip note."""
    if not PEERS['on']:
        return 'not measured (--no-peers)'
    try:
        return make()
    except Exception as e:  # a peer that will not import next to this torch is skipped, not fatal
        return f'not importable ({_first_line(e)})'


def library_peers(op: str, y: Tensor, nc: int) -> dict[str, Any]:
    """timm's ``Mixup`` with the other op's alpha at 0, and torchvision's ``v2.CutMix``/``v2.MixUp``: name ->
    ``fn(X)``, or why the peer is skipped."""

    def timm_method():
        from timm.data import Mixup

        alphas = {'mixup_alpha': 0.0, 'cutmix_alpha': 1.0} if op == 'cutmix' else {'mixup_alpha': 1.0,
                                                                                   'cutmix_alpha': 0.0}
        mixer = Mixup(**alphas, mode='batch', label_smoothing=0.0, num_classes=nc)
        return lambda X: mixer(X, y)

    def torchvision_method():
        from torchvision.transforms import v2

        mixer = (v2.CutMix if op == 'cutmix' else v2.MixUp)(num_classes=nc, alpha=1.0)
        return lambda X: mixer(X, y)

    return {'timm': 'needs an even batch size' if y.shape[0] % 2 else _peer('timm', timm_method),
            'torchvision': _peer('torchvision', torchvision_method)}


def build_methods(case: Case, y: Tensor, bbox, idx) -> dict[str, Callable[[Any], Any]]:
    """CutMix: name -> ``fn(X)``; a value that is a string instead of a callable is why the method is skipped."""
    F = load_functional()
    apply, cutmix_batch, mix_targets = F.apply, F.cutmix_batch, F.mix_targets

    n, nc, dev = case.shape[0], case.n_classes, torch.device(case.device)
    y0, x0, y1, x1 = bbox
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (case.shape[2] * case.shape[3])
    params = F.MixParams('cutmix', idx, lam, tuple(bbox))  # the draw the Algorithm would apply
    methods: dict[str, Any] = {
        'ours_oop': lambda X: cutmix_batch(X, y, nc, bbox=bbox, indices=idx),
        'ours_inplace': lambda X: cutmix_batch(X, y, nc, bbox=bbox, indices=idx, inplace=True),
        'ours_algo': lambda X: (apply(X, params, inplace=True), mix_targets(y, params, nc)),
    }

    def composer_method():
        from composer.functional import cutmix_batch as composer_cutmix_batch
        from composer.loss.utils import ensure_targets_one_hot

        logits = torch.zeros(n, nc, device=dev)  # the model's outputs, which Composer reads n_classes from

        def composer(X):
            # composer.algorithms.CutMix: cutmix_batch at BEFORE_FORWARD, dense targets at BEFORE_LOSS.
            X_mixed, y_perm, adjusted_lam, _ = composer_cutmix_batch(X, y, bbox=bbox, indices=idx)
            t, t_perm = ensure_targets_one_hot(logits, y), ensure_targets_one_hot(logits, y_perm)
            return X_mixed, adjusted_lam * t + (1 - adjusted_lam) * t_perm

        return composer

    methods['composer'] = _peer('composer', composer_method)

    methods.update(library_peers('cutmix', y, nc))

    def kornia_method():
        from kornia.augmentation import RandomCutMixV2

        k_cutmix = RandomCutMixV2(data_keys=['input', 'class'], use_correct_lambda=True)
        return lambda X: k_cutmix(X, y)

    methods['kornia'] = _peer('kornia', kornia_method)

    idx_dev = idx.to(dev)
    box_shape = (n, case.shape[1], y1 - y0, x1 - x0)
    buf = torch.empty(box_shape, dtype=case.torch_dtype, device=dev)

    def floor_box(X):
        box = X[..., y0:y1, x0:x1]
        box.copy_(box.index_select(0, idx_dev))

    def floor_box_reused(X):
        box = X[..., y0:y1, x0:x1]
        torch.index_select(box, 0, idx_dev, out=buf)
        box.copy_(buf)

    methods['floor_box'] = floor_box
    methods['floor_box_reused'] = floor_box_reused
    methods['floor_clone'] = lambda X: X.clone()

    def floor_oop(X):
        # Out of place needs no buffer: the box is gathered from the untouched input straight into the copy.
        out = X.clone(memory_format=torch.preserve_format)
        torch.index_select(X[..., y0:y1, x0:x1], 0, idx_dev, out=out[..., y0:y1, x0:x1])
        return out

    methods['floor_oop'] = floor_oop
    def floor_cycle(X):
        by_cycles(idx, X[..., y0:y1, x0:x1], lambda dst, src: dst.copy_(src))
        return X

    methods['floor_cycle'] = floor_cycle
    return methods


def by_cycles(indices: Tensor, X: Tensor, op: Callable[[Tensor, Tensor], Any]) -> Tensor:
    """``X[i] = op(X[i], X[indices[i]])`` for every sample, in place, with a buffer of one sample: the permutation
    is walked cycle by cycle, so each sample is read before it is overwritten and only the first of each cycle needs
    keeping. Another floor: in place needs no buffer the size of the batch (or of the box), one sample suffices."""
    perm = indices.tolist()
    seen = [False] * len(perm)
    buf = torch.empty_like(X[0])
    for start in range(len(perm)):
        if seen[start]:
            continue
        buf.copy_(X[start])
        i = start
        while True:
            seen[i] = True
            j = perm[i]
            if j == start:
                op(X[i], buf)
                break
            op(X[i], X[j])
            i = j
    return X


def build_mixup_methods(case: Case, y: Tensor, lam: float, idx: Tensor) -> dict[str, Callable[[Any], Any]]:
    """MixUp: name -> ``fn(X)``, or the reason the method is skipped."""
    F = load_functional()
    apply, mixup_batch, mix_targets = F.apply, F.mixup_batch, F.mix_targets
    params = F.MixParams('mixup', idx, lam, blend=lam)  # the draw the Algorithm would apply

    n, nc, dev = case.shape[0], case.n_classes, torch.device(case.device)
    methods: dict[str, Any] = {
        'ours_oop': lambda X: mixup_batch(X, y, nc, lam=lam, indices=idx),
        'ours_inplace': lambda X: mixup_batch(X, y, nc, lam=lam, indices=idx, inplace=True),
        'ours_algo': lambda X: (apply(X, params, inplace=True), mix_targets(y, params, nc)),
    }

    def composer_method():
        from composer.functional import mixup_batch as composer_mixup_batch
        from composer.loss.utils import ensure_targets_one_hot

        logits = torch.zeros(n, nc, device=dev)

        def composer(X):
            # composer.algorithms.MixUp: mixup_batch at BEFORE_FORWARD (``mixing`` is the partner's weight), dense
            # targets at BEFORE_LOSS.
            X_mixed, y_perm, mixing = composer_mixup_batch(X, y, mixing=1.0 - lam, indices=idx)
            t, t_perm = ensure_targets_one_hot(logits, y), ensure_targets_one_hot(logits, y_perm)
            return X_mixed, (1 - mixing) * t + mixing * t_perm

        return composer

    methods['composer'] = _peer('composer', composer_method)

    methods.update(library_peers('mixup', y, nc))

    idx_dev = idx.to(dev)

    def floor_mix(X):
        # The least an in-place MixUp does: gather the permuted batch once, then one lerp into X.
        return X.lerp_(X.index_select(0, idx_dev), 1.0 - lam)

    lerps = case.torch_dtype.is_floating_point

    def floor_cycle(X):
        if lerps:
            return by_cycles(idx, X, lambda dst, src: dst.lerp_(src, 1.0 - lam))
        # Integer images: each step blends one sample in float32 (two one-sample buffers) and rounds it back, the
        # least any exact integer MixUp does per sample.
        own, other = torch.empty_like(X[0], dtype=torch.float32), torch.empty_like(X[0], dtype=torch.float32)

        def step(dst, src):
            own.copy_(dst).mul_(lam)
            other.copy_(src).mul_(1 - lam)
            dst.copy_(own.add_(other).round_().clamp_(0, 255))
        return by_cycles(idx, X, step)

    methods['floor_mix'] = floor_mix if lerps else 'lerp takes floating-point tensors only'
    methods['floor_gather'] = lambda X: X.index_select(0, idx_dev)
    methods['floor_clone'] = lambda X: X.clone()
    methods['floor_cycle'] = floor_cycle if case.device == 'cpu' else 'a Python loop over samples; CPU only'
    return methods


def shrink(x: Tensor, size: tuple[int, int]) -> Tensor:
    """``x`` ``(N, C, H, W)`` resized to ``size`` as ResizeMix resizes (bilinear, ``align_corners=False``): float32
    and float64 in their precision, other dtypes in float32, rounded and clamped for integers, then cast back."""
    if x.dtype in (torch.float32, torch.float64):
        return torch.nn.functional.interpolate(x, size=size, mode='bilinear', align_corners=False)
    out = torch.nn.functional.interpolate(x.float(), size=size, mode='bilinear', align_corners=False)
    if not x.dtype.is_floating_point:
        info = torch.iinfo(x.dtype)
        out.round_().clamp_(info.min, info.max)
    return out.to(x.dtype)


def build_resizemix_methods(case: Case, y: Tensor, params, idx: Tensor) -> dict[str, Callable[[Any], Any]]:
    """ResizeMix: name -> ``fn(X)``, or the reason the method is skipped. ``params`` is the pinned draw (a centred
    box of half the side, bilinear)."""
    F = load_functional()
    apply, resizemix_batch, mix_targets = F.apply, F.resizemix_batch, F.mix_targets
    nc, dev = case.n_classes, torch.device(case.device)
    y0, x0, y1, x1 = bbox = params.bbox
    size = (y1 - y0, x1 - x0)
    methods: dict[str, Any] = {
        'ours_oop': lambda X: resizemix_batch(X, y, nc, bbox=bbox, indices=idx),
        'ours_inplace': lambda X: resizemix_batch(X, y, nc, bbox=bbox, indices=idx, inplace=True),
        'ours_algo': lambda X: (apply(X, params, inplace=True), mix_targets(y, params, nc)),
    }

    def mmpretrain_method():
        from mmpretrain.models.utils.batch_augments import ResizeMix

        # lam_min = lam_max = 0.75 pins its side ratio at sqrt(1 - 0.75) = 0.5, as ours; its centre (the box
        # clipped at the border) and its permutation are its own draws. It takes one-hot scores.
        mixer = ResizeMix(alpha=1.0, lam_min=0.75, lam_max=0.75, interpolation='bilinear')
        scores = torch.nn.functional.one_hot(y, nc).float()
        return lambda X: mixer(X, scores)

    methods['mmpretrain'] = _peer('mmpretrain', mmpretrain_method)

    idx_dev = idx.to(dev)

    def floor_resize(X):
        # The least an in-place ResizeMix does in one gather: the batch shrunk to the box once (a box-sized
        # buffer), the permutation applied as the shrunk partners are copied into the boxes.
        torch.index_select(shrink(X, size), 0, idx_dev, out=X[..., y0:y1, x0:x1])
        return X

    def floor_gathered(X):
        # The permuted batch gathered whole, then shrunk and copied into the boxes (mmpretrain's order).
        X[..., y0:y1, x0:x1] = shrink(X.index_select(0, idx_dev), size)
        return X

    def floor_cycle(X):
        return by_cycles(idx, X, lambda dst, src: dst[..., y0:y1, x0:x1].copy_(shrink(src.unsqueeze(0), size)[0]))

    methods['floor_resize'] = floor_resize
    methods['floor_gathered'] = floor_gathered
    methods['floor_clone'] = lambda X: X.clone()
    methods['floor_cycle'] = floor_cycle if case.device == 'cpu' else 'a Python loop over samples; CPU only'
    return methods


def pinned_fmix_mask(img_h: int, img_w: int) -> Tensor:
    """The benchmark's FMix mask: one seeded :func:`draw_fmix` at ``(img_h, img_w)`` whose Beta draw is pinned
    near 0.5 (``alpha`` = 1000), so about half the pixels come from the partner."""
    draw_fmix = load_functional().mixing.draw_fmix
    return draw_fmix(2, img_h, img_w, FMIX_ALPHA_PINNED, generator=torch.Generator().manual_seed(0)).mask


def build_fmix_methods(case: Case, y: Tensor, params, idx: Tensor) -> dict[str, Callable[[Any], Any]]:
    """FMix: name -> ``fn(X)``, or the reason the method is skipped. ``params`` is the pinned draw (a seeded mask of
    mean about 0.5)."""
    F = load_functional()
    apply, fmix_batch, mix_targets, draw_fmix = F.apply, F.fmix_batch, F.mix_targets, F.mixing.draw_fmix
    n, _, h, w = case.shape
    nc, dev = case.n_classes, torch.device(case.device)
    mask = params.mask
    g = torch.Generator().manual_seed(1)
    methods: dict[str, Any] = {
        'ours_oop': lambda X: fmix_batch(X, y, nc, mask=mask, indices=idx),
        'ours_inplace': lambda X: fmix_batch(X, y, nc, mask=mask, indices=idx, inplace=True),
        'ours_algo': lambda X: (apply(X, params, inplace=True), mix_targets(y, params, nc)),
        # The draw alone (lam, the low-frequency image, its top pixels, the permutation): a fresh mask every call.
        'ours_draw': lambda X: draw_fmix(n, h, w, 1.0, generator=g),
    }
    keep = mask.to(dev)
    idx_dev = idx.to(dev)

    def floor_mask(X):
        # The least an in-place FMix does in one gather: the permuted batch gathered once, one masked select
        # written into X.
        return torch.where(keep, X, X.index_select(0, idx_dev), out=X)

    methods['floor_mask'] = floor_mask
    methods['floor_gather'] = lambda X: X.index_select(0, idx_dev)
    methods['floor_clone'] = lambda X: X.clone()
    methods['floor_cycle'] = (
        (lambda X: by_cycles(idx, X, lambda dst, src: torch.where(keep, dst, src, out=dst)))
        if case.device == 'cpu' else 'a Python loop over samples; CPU only')
    return methods


def reference_floor(case: Case, rows: list[Row]) -> str:
    """The floor the ``t/floor`` column divides by: the box copy (CutMix), gather + lerp (MixUp), or the gather
    alone where a lerp cannot run (integer images), resize + box copy (ResizeMix), gather + masked select (FMix)."""
    if case.op in ('cutmix', 'resizemix', 'fmix'):
        return {'cutmix': 'floor_box', 'resizemix': 'floor_resize', 'fmix': 'floor_mask'}[case.op]
    measured = {r.key for r in rows if r.median_ms is not None}
    return 'floor_mix' if 'floor_mix' in measured else 'floor_gather'


# ------------------------------------------------------------------------------------------------- measuring


def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def time_call(fn: Callable, master: Tensor, X: Tensor, device: str) -> float:
    """Milliseconds of one ``fn(X)``, ``X`` refreshed from ``master`` first (not timed)."""
    X.copy_(master)
    _sync(device)
    if device == 'cuda':
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn(X)
        end.record()
        end.synchronize()
        dt = start.elapsed_time(end)
    else:
        t0 = time.perf_counter()
        out = fn(X)
        dt = (time.perf_counter() - t0) * 1e3
    del out  # freed outside the timed region
    return dt


def time_round_robin(fns: dict[str, Callable], master: Tensor, X: Tensor, case: Case,
                     tries: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Milliseconds per call of each ``fn(X)``, and how many of the kept calls still overlapped other processes.

    The methods take turns within every repetition (in a rotating order), so slow drifts of the machine touch
    them alike. On the CPU a call during which other processes took the CPU (see :class:`machine.Contention`)
    is run again, up to ``tries`` times in all; the last try is kept whatever happened.
    """
    contention = Contention()
    check = case.device == 'cpu' and contention.available
    keys = list(fns)
    times: dict[str, list[float]] = {k: [] for k in keys}
    contended = dict.fromkeys(keys, 0)
    gc.collect()
    gc.disable()
    try:
        for rep in range(case.warmup + case.repeats):
            shift = rep % len(keys)
            for key in keys[shift:] + keys[:shift]:
                for _ in range(tries):
                    mark = contention.mark() if check else None
                    dt = time_call(fns[key], master, X, case.device)
                    busy = contention.busy(mark, dt / 1e3)
                    if not busy:
                        break
                if rep >= case.warmup:
                    times[key].append(dt)
                    contended[key] += busy
    finally:
        gc.enable()
    return times, contended


def extra_memory(fn: Callable, master: Tensor, X: Tensor, case: Case) -> Optional[int]:
    """Peak bytes allocated by one call beyond what existed before it (outputs included)."""
    X.copy_(master)
    if case.device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = fn(X)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        del out
        return peak
    # CPU: torch's allocations are invisible to tracemalloc and RSS is noisy; torch.profiler records each
    # allocation and free (a '[memory]' event with signed nbytes), which we replay in order.
    try:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = fn(X)
        events = [e for e in prof.profiler.kineto_results.events()
                  if e.name() == '[memory]' and e.device_type() == torch.autograd.DeviceType.CPU]
        cur = peak = 0
        for e in sorted(events, key=lambda e: e.start_ns()):
            cur += e.nbytes()
            peak = max(peak, cur)
        del out
        return peak
    except Exception:  # relies on profiler internals; no number rather than a crash
        return None


def _first_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f'{type(e).__name__}: {msg[0][:90] if msg else ""}'


def run_case(case: Case, tries: int = 5) -> tuple[list[Row], dict[str, Any]]:
    """Measures every method on one case; returns the rows and facts about the case (box or lam, pixel
    agreement)."""
    F_ = load_functional()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    n, c, h, w = case.shape
    dev, dtype = torch.device(case.device), case.torch_dtype
    if dtype.is_floating_point:
        master = torch.rand(case.shape, generator=g).to(dtype=dtype, device=dev)
    else:
        master = torch.randint(0, 256, case.shape, generator=g, dtype=torch.uint8).to(dtype=dtype, device=dev)
    y = torch.randint(0, case.n_classes, (n,), generator=g).to(dev)
    idx = torch.randperm(n, generator=g)
    bbox = centred_box(h, w)
    y0, x0, y1, x1 = bbox
    itemsize = master.element_size()
    F = master.numel() * itemsize
    B = n * c * (y1 - y0) * (x1 - x0) * itemsize
    M = master.numel()
    T = n * case.n_classes * 4
    W = master.numel() * 4  # the batch in float32
    X = torch.empty_like(master)
    # Ours goes sample by sample on the CPU where a sample holds CYCLE_MIN_BYTES or more (the in-place cycle walk).
    by_sample = case.device == 'cpu' and c * h * w * itemsize >= F_.mixing.CYCLE_MIN_BYTES

    mask = None
    if case.op == 'mixup':
        methods = build_mixup_methods(case, y, MIXUP_LAM, idx)
        labels, exact_keys = MIXUP_LABELS, ('ours_oop', 'ours_inplace', 'ours_algo', 'floor_mix', 'floor_cycle')
        reference = F_.apply(master, F_.MixParams('mixup', idx, MIXUP_LAM, blend=MIXUP_LAM))
    elif case.op == 'resizemix':
        params = F_.MixParams('resizemix', idx, 1.0 - (y1 - y0) * (x1 - x0) / (h * w), bbox, interpolation='bilinear')
        methods = build_resizemix_methods(case, y, params, idx)
        labels, exact_keys = RESIZEMIX_LABELS, ('ours_oop', 'ours_inplace', 'ours_algo', 'floor_resize',
                                                'floor_gathered', 'floor_cycle')
        reference = F_.apply(master, params)
    elif case.op == 'fmix':
        mask = pinned_fmix_mask(h, w)
        params = F_.MixParams('fmix', idx, float(mask.float().mean()), mask=mask)
        methods = build_fmix_methods(case, y, params, idx)
        labels, exact_keys = FMIX_LABELS, ('ours_oop', 'ours_inplace', 'ours_algo', 'floor_mask', 'floor_cycle')
        reference = F_.apply(master, params)
    else:
        methods = build_methods(case, y, bbox, idx)
        labels, exact_keys = LABELS, ('ours_oop', 'ours_inplace', 'composer', 'floor_box', 'floor_oop', 'floor_cycle')
        reference = F_.apply(master, F_.MixParams('cutmix', idx, 0.0, tuple(bbox)))
    rows: list[Row] = []
    outputs: dict[str, Tensor] = {}
    for key, fn in methods.items():
        formula, moved = bytes_moved(case.op, key, dtype, F, B, M, T, W, by_sample)
        row = Row(key=key, label=labels[key], bytes_formula=formula)
        rows.append(row)
        if isinstance(fn, str):
            row.note = fn
            continue
        try:
            X.copy_(master)
            out = fn(X)
            _sync(case.device)
        except Exception as e:  # a peer that cannot take this dtype or device is skipped
            row.note = f'skipped: {_first_line(e)}'
            continue
        row.inplace = not torch.equal(X, master)
        first = out[0] if isinstance(out, (tuple, list)) else (X if out is None else out)
        if isinstance(first, Tensor) and first.dtype != dtype:
            row.out_dtype = str(first.dtype).replace('torch.', '')
        if key in exact_keys + ('composer',):
            outputs[key] = first.clone()
            if key in ('ours_oop', 'composer'):
                outputs[key + '_targets'] = out[1].float().clone()
        del out, first
        row.bytes_moved = moved
        row.extra_bytes = extra_memory(fn, master, X, case)

    by_key = {r.key: r for r in rows}
    runnable = {r.key: methods[r.key] for r in rows if not r.note}
    times, contended = time_round_robin(runnable, master, X, case, tries)
    for key in runnable:
        row = by_key[key]
        row.times_ms, row.contended = times[key], contended[key]
        row.median_ms, row.min_ms = statistics.median(row.times_ms), min(row.times_ms)
    floor = reference_floor(case, rows)
    floor_ms = by_key[floor].median_ms
    composer_ms = by_key['composer'].median_ms if 'composer' in by_key else None
    for r in rows:
        if r.median_ms is not None:
            r.vs_floor = r.median_ms / floor_ms if floor_ms else None
            r.vs_composer = r.median_ms / composer_ms if composer_ms else None

    same = all(torch.equal(outputs[k], reference) for k in exact_keys if k in outputs)
    composer_pixels = None
    if case.op == 'mixup' and 'composer' in outputs:
        # Composer blends with the formula (1 - m) * X + m * X[perm] in the input's precision and returns float
        # for integer images: the same blend up to float rounding (integers: before rounding to the nearest).
        theirs, ours = outputs['composer'].float(), reference.float()
        tol = 0.5 + 1e-3 if not dtype.is_floating_point else (1e-5 if dtype == torch.float32 else 1e-2)
        composer_pixels = bool((theirs - ours).abs().max() <= tol)
    same_targets = None
    if 'ours_oop_targets' in outputs and 'composer_targets' in outputs:
        same_targets = bool(torch.allclose(outputs['ours_oop_targets'], outputs['composer_targets']))
    facts = {'op': case.op, 'bbox': bbox, 'lam': MIXUP_LAM if case.op == 'mixup' else None, 'floor': floor,
             'mask_mean': None if mask is None else float(mask.float().mean()),
             'box_bytes': B, 'batch_bytes': F, 'targets_bytes': T, 'same_pixels': same,
             'composer_pixels': composer_pixels, 'same_targets': same_targets,
             'cycle_pixels': (torch.equal(outputs['ours_inplace'], outputs['floor_cycle'])
                              if {'ours_inplace', 'floor_cycle'} <= outputs.keys() else None)}
    return rows, facts


# ------------------------------------------------------------------------------------------------- printing


def _fmt(value: Optional[float], spec: str, suffix: str = '') -> str:
    return '-' if value is None else f'{value:{spec}}{suffix}'


TABLE_HEADER = (f'{"method":36s} {"ms":>9s} {"min ms":>9s} {"t/floor":>7s} {"t/Composer":>10s} {"MB moved":>15s} '
                f'{"extra MB":>9s} {"in place":>8s}')
_YES = {True: 'yes', False: 'NO', None: 'n/a'}


def format_table(case: Case, rows: list[Row], facts: dict[str, Any]) -> list[str]:
    mb = 2**20
    y0, x0, y1, x1 = facts['bbox']
    size = (f'batch {facts["batch_bytes"] / mb:.2f} MB, dense targets {facts["targets_bytes"] / mb:.3f} MB')
    if case.op == 'mixup':
        pinned = f'pinned lam = {facts["lam"]} (each sample\'s own weight), {size}'
        agree = (f'ours / floor give identical pixels: {_YES[facts["same_pixels"]]}; Composer\'s pixels agree up to '
                 f'float rounding: {_YES[facts["composer_pixels"]]}; ours and Composer give the same targets: '
                 f'{_YES[facts["same_targets"]]}')
    elif case.op == 'fmix':
        pinned = (f'pinned mask: a seeded draw_fmix at {case.shape[2]}x{case.shape[3]}, mean {facts["mask_mean"]:.3f} '
                  f'(the share of own pixels), {size}')
        agree = f'ours / floors give identical pixels: {_YES[facts["same_pixels"]]}'
    else:
        pinned = (f'pinned box (y0, x0, y1, x1) = {facts["bbox"]} '
                  f'({(y1 - y0) * (x1 - x0) / (case.shape[2] * case.shape[3]):.0%} of the area), box '
                  f'{facts["box_bytes"] / mb:.2f} MB, {size}')
        if case.op == 'resizemix':
            pinned = pinned.replace('pinned box', 'pinned box (bilinear)', 1)
            agree = f'ours / floors give identical pixels: {_YES[facts["same_pixels"]]}'
        else:
            agree = (f'ours / Composer / floors give identical pixels: {_YES[facts["same_pixels"]]}; '
                     f'ours and Composer give the same targets: {_YES[facts["same_targets"]]}')
    lines = [
        '',
        f'== {case.op} {case.name} {tuple(case.shape)} {case.dtype} on {case.device}, {case.n_classes} classes: '
        f'median of {case.repeats} (after {case.warmup} warm-up); t/floor = t / {facts["floor"]} ==',
        pinned,
        agree,
        TABLE_HEADER,
        '-' * len(TABLE_HEADER),
    ]
    for r in rows:
        if r.median_ms is None:
            lines.append(f'{r.label:36s} {r.note}')
            continue
        moved = '-' if r.bytes_moved is None else (
            f'{r.bytes_formula}={r.bytes_moved / mb:.0f}' if r.bytes_moved >= 10 * mb else
            f'{r.bytes_formula}={r.bytes_moved / mb:.1f}')
        lines.append(
            f'{r.label:36s} {_fmt(r.median_ms, "9.3f"):>9s} {_fmt(r.min_ms, "9.3f"):>9s} '
            f'{_fmt(r.vs_floor, "6.2f", "x"):>7s} {_fmt(r.vs_composer, "9.2f", "x"):>10s} {moved:>15s} '
            f'{_fmt(r.extra_bytes and r.extra_bytes / mb, "9.2f"):>9s} '
            f'{"yes" if r.inplace else "no":>8s}',
        )
    for r in rows:
        if r.out_dtype:
            lines.append(f'note: {r.label} returns {r.out_dtype} for {case.dtype} input')
    timed = [r for r in rows if r.median_ms is not None]
    busy = sum(r.contended for r in timed)
    if busy:
        worst = ', '.join(f'{r.key} {r.contended}' for r in timed if r.contended)
        lines.append(f'note: {busy} of {sum(len(r.times_ms) for r in timed)} timed calls overlapped other '
                     f'processes even after retries ({worst})')
    return lines


def check_targets(results: list[tuple[Case, list[Row], dict[str, Any]]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The issues' targets, one line per case and target."""
    lines = ['', '== targets ==']
    checks = []

    def add(case: Case, name: str, ok: Optional[bool], detail: str) -> None:
        status = 'n/a ' if ok is None else ('MET ' if ok else 'MISSED')
        lines.append(f'[{status:6s}] {case.op} {case.name} {case.dtype} {case.device}: {name}: {detail}')
        checks.append({'op': case.op, 'case': case.name, 'dtype': case.dtype, 'device': case.device,
                       'target': name, 'met': ok, 'detail': detail})

    for case, rows, facts in results:
        r = {row.key: row for row in rows}
        ours, cycle = r['ours_inplace'], r['floor_cycle']
        if case.device == 'cpu' and case.shape[-2:] == (224, 224) and ours.median_ms and cycle.median_ms:
            ratio = ours.median_ms / cycle.median_ms
            add(case, f'in place <= {TARGET_VS_CYCLE}x cycle-walk floor', ratio <= TARGET_VS_CYCLE,
                f'{ratio:.2f}x ({ours.median_ms:.3f} vs {cycle.median_ms:.3f} ms), same pixels: '
                f'{_YES[facts["cycle_pixels"]]}')
        if case.op in ('mixup', 'resizemix', 'fmix'):
            {'mixup': _mixup_targets, 'resizemix': _new_op_targets, 'fmix': _new_op_targets}[case.op](
                case, r, facts, add)
            continue
        oop, clone, comp, box = r['ours_oop'], r['floor_clone'], r['composer'], r['floor_box']
        if ours.median_ms and box.median_ms:
            ratio = ours.median_ms / box.median_ms
            add(case, f'in place <= {TARGET_INPLACE_VS_BOX}x box-copy floor', ratio <= TARGET_INPLACE_VS_BOX,
                f'{ratio:.2f}x ({ours.median_ms:.3f} vs {box.median_ms:.3f} ms)')
        if case.name == 'imagenet' and ours.median_ms and comp.median_ms:
            speedup = comp.median_ms / ours.median_ms
            add(case, f'in place >= {TARGET_SPEEDUP_VS_COMPOSER:.0f}x faster than Composer',
                speedup >= TARGET_SPEEDUP_VS_COMPOSER,
                f'{speedup:.1f}x faster ({ours.median_ms:.3f} vs {comp.median_ms:.3f} ms); '
                f'out of place {comp.median_ms / oop.median_ms:.2f}x')
        if oop.median_ms and clone.median_ms:
            ratio = oop.median_ms / clone.median_ms
            floor_oop = r['floor_oop'].median_ms
            least = f'; the out-of-place floor is {floor_oop / clone.median_ms:.2f}x' if floor_oop else ''
            add(case, f'out of place <= {TARGET_OOP_VS_CLONE}x clone()', ratio <= TARGET_OOP_VS_CLONE,
                f'{ratio:.2f}x ({oop.median_ms:.3f} vs {clone.median_ms:.3f} ms){least}')
        limit = facts['box_bytes'] + facts['targets_bytes']
        if ours.extra_bytes is None:
            add(case, 'in place extra memory <= box + targets', None, 'not measured')
        else:
            add(case, 'in place extra memory <= box + targets', ours.extra_bytes <= limit,
                f'{ours.extra_bytes / 2**20:.2f} MB vs box {facts["box_bytes"] / 2**20:.2f} MB '
                f'+ targets {facts["targets_bytes"] / 2**20:.3f} MB')
    return lines, checks


def _new_op_targets(case: Case, r: dict[str, Row], facts: dict[str, Any], add: Callable) -> None:
    """ResizeMix and FMix: in place against the op's one-gather floor (every case), and for FMix on the ImageNet-like
    float32 batch the mask draw as a share of the in-place step."""
    ours, floor = r['ours_inplace'], r[facts['floor']]
    limit, name = ((TARGET_RESIZEMIX_VS_FLOOR, 'resize + box-copy floor') if case.op == 'resizemix' else
                   (TARGET_FMIX_VS_FLOOR, 'gather + masked-select floor'))
    if ours.median_ms and floor.median_ms:
        ratio = ours.median_ms / floor.median_ms
        add(case, f'in place <= {limit}x {name}', ratio <= limit,
            f'{ratio:.2f}x ({ours.median_ms:.3f} vs {floor.median_ms:.3f} ms)')
    draw = r.get('ours_draw')
    if case.name == 'imagenet' and case.dtype == 'float32' and draw and draw.median_ms and ours.median_ms:
        share = draw.median_ms / ours.median_ms
        add(case, f'mask draw < {TARGET_FMIX_DRAW_SHARE:.0%} of the in-place step', share < TARGET_FMIX_DRAW_SHARE,
            f'{share:.1%} ({draw.median_ms:.3f} vs {ours.median_ms:.3f} ms)')


def _mixup_targets(case: Case, r: dict[str, Row], facts: dict[str, Any], add: Callable) -> None:
    ours, oop, comp, floor = r['ours_inplace'], r['ours_oop'], r['composer'], r['floor_mix']
    if ours.median_ms and floor.median_ms:
        ratio = ours.median_ms / floor.median_ms
        add(case, f'in place <= {TARGET_MIXUP_VS_FLOOR}x gather + lerp floor', ratio <= TARGET_MIXUP_VS_FLOOR,
            f'{ratio:.2f}x ({ours.median_ms:.3f} vs {floor.median_ms:.3f} ms); out of place '
            f'{oop.median_ms / floor.median_ms:.2f}x')
    elif ours.median_ms:
        gather = r['floor_gather']
        add(case, f'in place <= {TARGET_MIXUP_VS_FLOOR}x gather + lerp floor', None,
            f'no lerp floor for {case.dtype} ({floor.note}); {ours.median_ms / gather.median_ms:.2f}x the gather '
            f'alone ({ours.median_ms:.3f} vs {gather.median_ms:.3f} ms)')
    if case.name == 'imagenet' and ours.median_ms and comp.median_ms:
        speedup = comp.median_ms / ours.median_ms
        add(case, f'in place >= {TARGET_MIXUP_SPEEDUP:.0f}x faster than Composer', speedup >= TARGET_MIXUP_SPEEDUP,
            f'{speedup:.1f}x faster ({ours.median_ms:.3f} vs {comp.median_ms:.3f} ms); out of place '
            f'{comp.median_ms / oop.median_ms:.2f}x')
    limit = facts['batch_bytes'] + facts['targets_bytes']
    if ours.extra_bytes is None:
        add(case, 'in place extra memory <= batch + targets', None, 'not measured')
    elif case.torch_dtype in (torch.float32, torch.float64):
        add(case, 'in place extra memory <= batch + targets', ours.extra_bytes <= limit,
            f'{ours.extra_bytes / 2**20:.2f} MB vs batch {facts["batch_bytes"] / 2**20:.2f} MB '
            f'+ targets {facts["targets_bytes"] / 2**20:.3f} MB')


# ------------------------------------------------------------------------------------------------- main

SHAPES = {  # name -> (shape, classes)
    'imagenet': ((256, 3, 224, 224), 1000),
    'imagenet128': ((128, 3, 224, 224), 1000),
    'cifar': ((512, 3, 32, 32), 10),
}
DEFAULT_SHAPES = ('imagenet', 'cifar')


def make_cases(devices: list[str], ops: list[str], size: str = 'full', dtypes: Optional[list[str]] = None,
               repeats: Optional[int] = None, shapes: Optional[list[str]] = None) -> list[Case]:
    """The tables to measure. ``size``: ``'full'`` (the shapes above), ``'quick'`` (an ImageNet batch of 32, few
    repetitions) or ``'tiny'`` (a few KB per batch, two repetitions: the GPU check's dry run)."""
    cases = []
    for device in devices:
        default = ['float32', 'uint8'] if device == 'cpu' else ['float32', 'bfloat16', 'uint8']
        for op in ops:
            for dtype in dtypes or default:
                for name in shapes or DEFAULT_SHAPES:
                    (shape, classes), large = SHAPES[name], name.startswith('imagenet')
                    if size == 'tiny':
                        shape, reps, warm = ((8, 3, 24, 24) if large else (16, 3, 8, 8)), 2, 0
                    elif size == 'quick':
                        shape = (32, 3, 224, 224) if large else shape
                        reps, warm = (3, 0) if large else (5, 1)
                    else:
                        reps = 15 if device == 'cpu' else 30
                        reps, warm = (reps, 3) if large else (4 * reps, 5)
                    cases.append(Case(name, shape, dtype, device, classes, repeats=repeats or reps, warmup=warm,
                                      op=op))
    return cases


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--op', choices=[*OPS, 'all'], default='all', help="which op (default: 'all')")
    p.add_argument('--quick', action='store_true', help='few repetitions, ImageNet batch of 32: a smoke test')
    p.add_argument('--tiny', action='store_true', help='tiny batches, two repetitions: a dry run of the script')
    p.add_argument('--device', choices=['cpu', 'cuda', 'all'], default='all',
                   help="'all' (default) is the CPU plus CUDA when present")
    p.add_argument('--dtypes', help='comma-separated dtypes (default: float32,uint8 on the CPU, float32,bfloat16,'
                                    'uint8 on CUDA)')
    p.add_argument('--shapes', default=','.join(DEFAULT_SHAPES),
                   help=f'comma-separated batch shapes among {", ".join(SHAPES)} (default: %(default)s; '
                        f'imagenet128 is (128, 3, 224, 224))')
    p.add_argument('--no-peers', action='store_true',
                   help="ours and the floors only (no Composer, timm, torchvision, kornia)")
    p.add_argument('--repeats', type=positive_int, help='timed repetitions per table (overrides the defaults)')
    p.add_argument('--tries', type=positive_int,
                   help='CPU: runs of a call during which other processes took the CPU, the last kept (default 5; '
                        '1 on a machine that is never quiet)')
    p.add_argument('--json', metavar='PATH', help='also write every measurement to this JSON file')
    p.add_argument('--threads', type=positive_int, metavar='N',
                   help="torch.set_num_threads(N); default: torch's own default (reported in the header)")
    return p.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        print('--device cuda: no CUDA device here.', file=sys.stderr)
        return 2
    devices = {'cpu': ['cpu'], 'cuda': ['cuda'], 'all': ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])}
    devices = devices[args.device]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    PEERS['on'] = not args.no_peers
    ops = list(OPS) if args.op == 'all' else [args.op]
    size = 'tiny' if args.tiny else ('quick' if args.quick else 'full')
    names = [OP_NAMES[o] for o in ops]
    print((names[0] if len(names) == 1 else ', '.join(names[:-1]) + ' and ' + names[-1])
          + ' mixing-step benchmark' + ('' if size == 'full' else f' (--{size})'))
    header = header_lines(devices)
    for line in header:
        print(line)
    print('MB moved: estimated bytes read + written; F = batch, B = box, M = bool mask, T = dense targets, W = the '
          'batch in float32. extra MB: peak allocated by the call, outputs included.')

    load = OtherLoad()
    results = []
    dtypes = args.dtypes.split(',') if args.dtypes else None
    shapes = args.shapes.split(',')
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        print(f'--shapes: unknown {", ".join(unknown)}; choose among {", ".join(SHAPES)}.', file=sys.stderr)
        return 2
    for case in make_cases(devices, ops, size, dtypes, args.repeats, shapes):
        rows, facts = run_case(case, tries=args.tries or (2 if size != 'full' else 5))
        for line in format_table(case, rows, facts):
            print(line)
        sys.stdout.flush()
        results.append((case, rows, facts))

    print('\n' + load.report())
    lines, checks = check_targets(results)
    for line in lines:
        print(line)

    if args.json:
        payload = {
            'header': header,
            'other_load': load.report(),
            'argv': sys.argv,
            'cases': [{'case': asdict(case), 'facts': facts, 'rows': [asdict(r) for r in rows]}
                      for case, rows, facts in results],
            'targets': checks,
        }
        with open(args.json, 'w') as f:
            json.dump(payload, f, indent=1, default=str)
        print(f'\nwrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
