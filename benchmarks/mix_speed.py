"""Time one CutMix batch-mixing step, side by side in one process: ours, Composer's, timm's, torchvision's, kornia's.

Usage::

    python benchmarks/mix_speed.py [--quick] [--device cpu|cuda|all] [--threads N] [--json out.json]

For every (shape, dtype, device) it prints one table. Each row is one way of mixing one batch:

* ours, out of place: ``composer_cutmix.cutmix_batch(X, y, ...)`` (input untouched);
* ours, in place: ``cutmix_batch(..., inplace=True)`` on a batch it owns, and the Algorithm's per-step work
  (``apply_cutmix(..., inplace=True)`` + ``mix_targets``, no argument checks);
* Composer's built-in: ``composer.functional.cutmix_batch`` plus its dense targets (``ensure_targets_one_hot``
  and the ``lam`` interpolation of its ``Event.BEFORE_LOSS`` branch);
* the peers, each optional (a note replaces the row when it cannot be imported or cannot take the dtype):
  timm ``Mixup`` (cutmix only, batch mode; mutates its input), torchvision ``v2.CutMix``, kornia
  ``RandomCutMixV2`` (one box per sample and no dense targets: a different method, shown for scale);
* floors: copying only the box from the permuted batch through a box-sized buffer (the least any in-place CutMix
  must do), the same with a buffer reused across calls, a plain ``X.clone()``, and a clone with the box gathered
  straight into it (the least any out-of-place CutMix must do).

Ours, Composer's and the floors use the same pinned box (half the side, centred: 25% of the area) and the same
permutation; the peers draw their own. Each repetition starts from a fresh copy of a master batch, made outside
the timed region, so in-place methods always mix unmixed data. The methods take turns within each repetition, and
on the CPU a call during which other processes took the CPU is run again (up to 5 tries; the table notes calls
that stayed disturbed). Columns:

* ``ms``, ``min ms``: median and fastest wall time of one call (CUDA: ``torch.cuda.Event`` pairs).
* ``t/box``, ``t/Composer``: time divided by the box-copy floor's, and by Composer's.
* ``MB moved``: an estimate of bytes read + written by the method's tensor work (see ``BYTES_MOVED``).
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
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from machine import Contention, OtherLoad, positive_int, threads_line

__all__ = ['Case', 'Row', 'main', 'run_case']

# timm, torchvision and kornia warn about defaults and deprecations on every call; the benchmark is not the place.
warnings.filterwarnings('ignore', module=r'(timm|torchvision|kornia|composer)(\.|$)')

TARGET_INPLACE_VS_BOX = 1.5  # ours in place: at most 1.5x the box-copy floor
TARGET_SPEEDUP_VS_COMPOSER = 5.0  # ours in place: at least 5x faster than Composer's, ImageNet shape
TARGET_OOP_VS_CLONE = 1.2  # ours out of place: at most 1.2x a plain clone()

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
}

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
}


@dataclass
class Case:
    """One table: a batch shape, a dtype, a device, the number of classes and how many repetitions."""

    name: str
    shape: tuple[int, int, int, int]
    dtype: str
    device: str
    n_classes: int
    repeats: int
    warmup: int

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
    vs_box: Optional[float] = None
    vs_composer: Optional[float] = None
    bytes_formula: str = ''
    bytes_moved: Optional[float] = None
    extra_bytes: Optional[float] = None
    inplace: Optional[bool] = None
    note: str = ''


# ------------------------------------------------------------------------------------------------- environment


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # any import failure means "not available"
        return 'not installed'


def header_lines(devices: list[str]) -> list[str]:
    lines = [
        f'python {platform.python_version()}, torch {torch.__version__}, composer {_version("composer")}, '
        f'timm {_version("timm")}, torchvision {_version("torchvision")}, kornia {_version("kornia")}',
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


def build_methods(case: Case, y: Tensor, bbox, idx) -> dict[str, Callable[[Any], Any]]:
    """name -> ``fn(X)``; a value that is a string instead of a callable is why the method is skipped."""
    from composer_cutmix.functional import apply_cutmix, cutmix_batch, mix_targets

    n, nc, dev = case.shape[0], case.n_classes, torch.device(case.device)
    y0, x0, y1, x1 = bbox
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (case.shape[2] * case.shape[3])
    methods: dict[str, Any] = {
        'ours_oop': lambda X: cutmix_batch(X, y, nc, bbox=bbox, indices=idx),
        'ours_inplace': lambda X: cutmix_batch(X, y, nc, bbox=bbox, indices=idx, inplace=True),
        'ours_algo': lambda X: (apply_cutmix(X, bbox, idx, inplace=True), mix_targets(y, lam, idx, nc)),
    }

    try:
        from composer.functional import cutmix_batch as composer_cutmix_batch
        from composer.loss.utils import ensure_targets_one_hot

        logits = torch.zeros(n, nc, device=dev)  # the model's outputs, which Composer reads n_classes from

        def composer(X):
            # composer.algorithms.CutMix: cutmix_batch at BEFORE_FORWARD, dense targets at BEFORE_LOSS.
            X_mixed, y_perm, adjusted_lam, _ = composer_cutmix_batch(X, y, bbox=bbox, indices=idx)
            t, t_perm = ensure_targets_one_hot(logits, y), ensure_targets_one_hot(logits, y_perm)
            return X_mixed, adjusted_lam * t + (1 - adjusted_lam) * t_perm

        methods['composer'] = composer
    except ImportError as e:
        methods['composer'] = f'not importable ({e})'

    if n % 2:
        methods['timm'] = 'needs an even batch size'
    else:
        try:
            from timm.data import Mixup

            mixup = Mixup(mixup_alpha=0.0, cutmix_alpha=1.0, mode='batch', label_smoothing=0.0, num_classes=nc)
            methods['timm'] = lambda X: mixup(X, y)
        except ImportError as e:
            methods['timm'] = f'not importable ({e})'

    try:
        from torchvision.transforms import v2

        tv_cutmix = v2.CutMix(num_classes=nc, alpha=1.0)
        methods['torchvision'] = lambda X: tv_cutmix(X, y)
    except ImportError as e:
        methods['torchvision'] = f'not importable ({e})'

    try:
        from kornia.augmentation import RandomCutMixV2

        k_cutmix = RandomCutMixV2(data_keys=['input', 'class'], use_correct_lambda=True)
        methods['kornia'] = lambda X: k_cutmix(X, y)
    except ImportError as e:
        methods['kornia'] = f'not importable ({e})'

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
    return methods


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
    """Measures every method on one case; returns the rows and facts about the case (box, pixel agreement)."""
    from composer_cutmix.functional import apply_cutmix

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
    X = torch.empty_like(master)

    methods = build_methods(case, y, bbox, idx)
    rows: list[Row] = []
    outputs: dict[str, Tensor] = {}
    for key, fn in methods.items():
        formula, bytes_fn = BYTES_MOVED[key]
        row = Row(key=key, label=LABELS[key], bytes_formula=formula)
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
        if key in ('ours_oop', 'ours_inplace', 'composer', 'floor_box', 'floor_oop'):
            outputs[key] = first.clone()
            if key in ('ours_oop', 'composer'):
                outputs[key + '_targets'] = out[1].float().clone()
        del out, first
        row.bytes_moved = bytes_fn(F, B, M, T)
        row.extra_bytes = extra_memory(fn, master, X, case)

    by_key = {r.key: r for r in rows}
    runnable = {r.key: methods[r.key] for r in rows if not r.note}
    times, contended = time_round_robin(runnable, master, X, case, tries)
    for key in runnable:
        row = by_key[key]
        row.times_ms, row.contended = times[key], contended[key]
        row.median_ms, row.min_ms = statistics.median(row.times_ms), min(row.times_ms)
    box_ms = by_key['floor_box'].median_ms
    composer_ms = by_key['composer'].median_ms
    for r in rows:
        if r.median_ms is not None:
            r.vs_box = r.median_ms / box_ms if box_ms else None
            r.vs_composer = r.median_ms / composer_ms if composer_ms else None

    reference = apply_cutmix(master, bbox, idx)
    same = all(torch.equal(outputs[k], reference) for k in ('ours_oop', 'ours_inplace', 'composer', 'floor_box',
                                                             'floor_oop') if k in outputs)
    same_targets = None
    if 'ours_oop_targets' in outputs and 'composer_targets' in outputs:
        same_targets = bool(torch.allclose(outputs['ours_oop_targets'], outputs['composer_targets']))
    facts = {'bbox': bbox, 'box_bytes': B, 'batch_bytes': F, 'targets_bytes': T,
             'same_pixels': same, 'same_targets': same_targets}
    return rows, facts


# ------------------------------------------------------------------------------------------------- printing


def _fmt(value: Optional[float], spec: str, suffix: str = '') -> str:
    return '-' if value is None else f'{value:{spec}}{suffix}'


TABLE_HEADER = (f'{"method":36s} {"ms":>9s} {"min ms":>9s} {"t/box":>7s} {"t/Composer":>10s} {"MB moved":>15s} '
                f'{"extra MB":>9s} {"in place":>8s}')


def format_table(case: Case, rows: list[Row], facts: dict[str, Any]) -> list[str]:
    mb = 2**20
    y0, x0, y1, x1 = facts['bbox']
    lines = [
        '',
        f'== {case.name} {tuple(case.shape)} {case.dtype} on {case.device}, {case.n_classes} classes: '
        f'median of {case.repeats} (after {case.warmup} warm-up) ==',
        f'pinned box (y0, x0, y1, x1) = {facts["bbox"]} ({(y1 - y0) * (x1 - x0) / (case.shape[2] * case.shape[3]):.0%}'
        f' of the area), box {facts["box_bytes"] / mb:.2f} MB, batch {facts["batch_bytes"] / mb:.2f} MB, '
        f'dense targets {facts["targets_bytes"] / mb:.3f} MB',
        f'ours / Composer / floors give identical pixels: {"yes" if facts["same_pixels"] else "NO"}; '
        f'ours and Composer give the same targets: '
        f'{ {True: "yes", False: "NO", None: "n/a"}[facts["same_targets"]] }',
        TABLE_HEADER,
        '-' * len(TABLE_HEADER),
    ]
    for r in rows:
        if r.median_ms is None:
            lines.append(f'{r.label:36s} {r.note}')
            continue
        moved = f'{r.bytes_formula}={r.bytes_moved / mb:.0f}' if r.bytes_moved >= 10 * mb else \
            f'{r.bytes_formula}={r.bytes_moved / mb:.1f}'
        lines.append(
            f'{r.label:36s} {_fmt(r.median_ms, "9.3f")} {_fmt(r.min_ms, "9.3f")} {_fmt(r.vs_box, "6.2f", "x")} '
            f'{_fmt(r.vs_composer, "9.2f", "x")} {moved:>15s} {_fmt(r.extra_bytes and r.extra_bytes / mb, "9.2f")} '
            f'{"yes" if r.inplace else "no":>8s}',
        )
    timed = [r for r in rows if r.median_ms is not None]
    busy = sum(r.contended for r in timed)
    if busy:
        worst = ', '.join(f'{r.key} {r.contended}' for r in timed if r.contended)
        lines.append(f'note: {busy} of {sum(len(r.times_ms) for r in timed)} timed calls overlapped other '
                     f'processes even after retries ({worst})')
    return lines


def check_targets(results: list[tuple[Case, list[Row], dict[str, Any]]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The issue's targets, one line per case and target."""
    lines = ['', '== targets ==']
    checks = []

    def add(case: Case, name: str, ok: Optional[bool], detail: str) -> None:
        status = 'n/a ' if ok is None else ('MET ' if ok else 'MISSED')
        lines.append(f'[{status:6s}] {case.name} {case.dtype} {case.device}: {name}: {detail}')
        checks.append({'case': case.name, 'dtype': case.dtype, 'device': case.device, 'target': name,
                       'met': ok, 'detail': detail})

    for case, rows, facts in results:
        r = {row.key: row for row in rows}
        ours, oop, box, clone, comp = (r['ours_inplace'], r['ours_oop'], r['floor_box'], r['floor_clone'],
                                       r['composer'])
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


# ------------------------------------------------------------------------------------------------- main


def make_cases(devices: list[str], quick: bool) -> list[Case]:
    cases = []
    for device in devices:
        dtypes = ['float32', 'uint8'] if device == 'cpu' else ['float32', 'bfloat16']
        for dtype in dtypes:
            if quick:
                cases.append(Case('imagenet', (32, 3, 224, 224), dtype, device, 1000, repeats=3, warmup=0))
                cases.append(Case('cifar', (512, 3, 32, 32), dtype, device, 10, repeats=5, warmup=1))
            else:
                reps = 15 if device == 'cpu' else 50
                cases.append(Case('imagenet', (256, 3, 224, 224), dtype, device, 1000, repeats=reps, warmup=3))
                cases.append(Case('cifar', (512, 3, 32, 32), dtype, device, 10, repeats=4 * reps, warmup=5))
    return cases


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true', help='few repetitions, ImageNet batch of 32: a smoke test')
    p.add_argument('--device', choices=['cpu', 'cuda', 'all'], default='all',
                   help="'all' (default) is the CPU plus CUDA when present")
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
    print('CutMix mixing-step benchmark' + (' (--quick)' if args.quick else ''))
    header = header_lines(devices)
    for line in header:
        print(line)
    print('MB moved: estimated bytes read + written; F = batch, B = box, M = bool mask, T = dense targets. '
          'extra MB: peak allocated by the call, outputs included.')

    load = OtherLoad()
    results = []
    for case in make_cases(devices, args.quick):
        rows, facts = run_case(case, tries=2 if args.quick else 5)
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
