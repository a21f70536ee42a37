"""What reading Fashion-MNIST from MDS shards costs against the in-memory path: one epoch of data loading, both ways.

Usage::

    python benchmarks/streaming_cost.py [--quick] [--rounds R] [--batch-size B] [--workers W] [--threads N]
                                        [--shards DIR] [--json out.json]

The training split of Fashion-MNIST (60,000 images of 1x28x28; ``--quick``: the first 4,096) is converted once with
``composer-cutmix convert`` (or read from ``--shards DIR``, a folder ``convert`` wrote). Then four loaders of the
same batches (``batch_size`` 128, augmentation on: random crop and flip, then normalisation) take turns, in a
rotating order, one whole epoch each per round, so the slow drifts of a shared machine touch them alike:

* ``in-memory``: the runner's ``fashion_mnist`` loader: a uint8 tensor, one gather per batch, ``BatchTransform``.
* ``streaming, in place``: ``train_data.name=streaming`` reading the shard folder where it is (``local`` unset).
* ``streaming, cached``: the same through a ``local`` cache folder (copied on the first epoch, before timing).
* ``streaming, samples only``: the ``StreamingDataset`` iterated without the collate (decoding each sample from
  the shard: what the streaming path adds before the shared ``BatchTransform``).

An epoch is timed from ``iter(loader)`` to its last batch, so it includes streaming's start of an epoch
(partitioning, its download and ready threads). The table gives the median epoch over the rounds, per batch, per
image, and the ratio to the in-memory epoch; the rounds' spread (min..max) says how much to trust it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

if __package__ in (None, ''):  # run as a file: the repository root on the path, as `python -m` would have it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import OtherLoad, positive_int, threads_line  # noqa: E402
from composer_cutmix.runner.config import load_config  # noqa: E402
from composer_cutmix.runner.convert import convert  # noqa: E402
from composer_cutmix.runner.data import build_dataloader  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _epoch(loader: Any, batched: bool = True) -> tuple[float, int]:
    """Seconds for one pass over ``loader`` (of ``(X, y)`` batches, or of single samples), and the samples it gave."""
    n = 0
    t0 = time.perf_counter()
    for item in loader:
        n += len(item[0]) if batched else 1
    return time.perf_counter() - t0, n


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='4,096 images and 2 rounds (a smoke run)')
    parser.add_argument('--rounds', type=positive_int, default=None, help='rounds of one epoch each (default 5)')
    parser.add_argument('--batch-size', type=positive_int, default=128)
    parser.add_argument('--workers', type=int, default=0, help='DataLoader workers for every loader (default 0)')
    parser.add_argument('--threads', type=positive_int, default=None, help='torch threads (default: torch default)')
    parser.add_argument('--shards', default=None, help='a folder `composer-cutmix convert` wrote (else made here)')
    parser.add_argument('--json', default=None, help='also write the results here')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (2 if args.quick else 5)
    subset = 4096 if args.quick else None

    base = ['eval_data=null', f'train_data.batch_size={args.batch_size}', f'train_data.num_workers={args.workers}']
    if subset:
        base.append(f'train_data.subset={subset}')
    cfg = load_config(ROOT / 'yamls' / 'fashion_mnist.yaml', base)
    tmp = tempfile.mkdtemp(prefix='streaming_cost_')
    shards = args.shards
    if shards is None:
        shards = os.path.join(tmp, 'shards')
        t0 = time.perf_counter()
        convert(cfg, shards, progress=False)
        print(f'converted {len(build_dataloader(cfg.train_data, train=True).dataset)} images to {shards} in '
              f'{time.perf_counter() - t0:.1f} s')
    remote = os.path.join(shards, 'train')
    stream = ['train_data.name=streaming', f'train_data.remote={remote}', 'train_data.subset=null']

    memory = build_dataloader(cfg.train_data, train=True, seed=cfg.seed)
    in_place = build_dataloader(load_config(ROOT / 'yamls' / 'fashion_mnist.yaml', [*base, *stream]).train_data,
                                train=True, seed=cfg.seed)
    cached_cfg = load_config(ROOT / 'yamls' / 'fashion_mnist.yaml',
                             [*base, *stream, f'train_data.local={os.path.join(tmp, "cache")}'])
    cached = build_dataloader(cached_cfg.train_data, train=True, seed=cfg.seed)
    _epoch(cached)  # fills the cache: later epochs read the local copy
    loaders: dict[str, Callable[[], tuple[float, int]]] = {
        'in-memory': lambda: _epoch(memory),
        'streaming, in place': lambda: _epoch(in_place),
        'streaming, cached': lambda: _epoch(cached),
        'streaming, samples only': lambda: _epoch(in_place.dataset, batched=False),
    }
    for run in loaders.values():  # warm-up epoch each
        run()

    load = OtherLoad()
    times: dict[str, list[float]] = {name: [] for name in loaders}
    counts: dict[str, int] = {}
    names = list(loaders)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            seconds, n = loaders[name]()
            times[name].append(seconds)
            counts[name] = n
    print(threads_line())
    print(f'batch_size {args.batch_size}, {args.workers} DataLoader workers, augmentation on, {rounds} rounds')
    print(load.report())
    ref = statistics.median(times['in-memory'])
    print(f'{"loader":<26}{"epoch s":>9}{"ms/batch":>10}{"us/image":>10}{"x in-memory":>13}   min..max s')
    results = {}
    for name, ts in times.items():
        med, n = statistics.median(ts), counts[name]
        batches = max(1, n // args.batch_size)
        results[name] = {'epoch_s': med, 'images': n, 'rounds_s': ts}
        print(f'{name:<26}{med:>9.2f}{1e3 * med / batches:>10.2f}{1e6 * med / n:>10.1f}{med / ref:>13.2f}'
              f'   {min(ts):.2f}..{max(ts):.2f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'machine': threads_line(), 'load': load.report(), 'batch_size': args.batch_size,
                       'workers': args.workers, 'results': results}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
