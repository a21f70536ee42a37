"""Two CPU processes under Composer's launcher (gloo): each rank trains on its own shard and mixes only it, from
memory and from streaming shards (one launch runs both).

The launcher runs as ``composer -n 2`` runs it, with one change: it starts its ranks as forks of this test worker
(:mod:`tools.forked`) instead of new interpreters, which would each import Composer again (about 15 s of CPU each
here). Ranks, environment (``RANK``, ``WORLD_SIZE``, ``MASTER_PORT``...), output files, monitoring and exit codes are
the launcher's own; `make ddp` starts the ranks as new interpreters."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from composer_cutmix.runner.config import load_config
from composer_cutmix.runner.data import BatchTransform, build_dataset
from tests.test_streaming import QUIET, SYNTHETIC, _records, _streaming
from tools import forked

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ('import subprocess, sys, types; from tools import forked; from composer.cli import launcher; '
            'launcher.subprocess = types.SimpleNamespace(**{**vars(subprocess), "Popen": forked.Popen}); '
            'sys.exit(launcher.main())')  # only the launcher's own Popen calls fork
OVERRIDES = ['max_duration=2ba', 'train_data.batch_size=8', 'train_data.augment=false', 'eval_data.batch_size=8',
             'loggers.progress_bar=false', 'device=cpu']


@pytest.fixture(scope='session')
def launch(tmp_path_factory, shards):
    """Both runs in one launch of two ranks: the in-memory one (2 batches), then the streaming one (2 epochs)."""
    tmp = tmp_path_factory.mktemp('ddp')
    streaming = _streaming(shards, *QUIET, 'max_duration=2ep', 'train_data.batch_size=8', 'train_data.augment=false',
                           'eval_data.batch_size=8', 'device=cpu', f'run_folder={tmp}/stream_run',
                           train_local=tmp / 'cache' / 'train', eval_local=tmp / 'cache' / 'eval')
    jobs = [['probe', str(tmp / 'out'), [*OVERRIDES, f'run_folder={tmp}/run']],
            ['stream_probe', str(tmp / 'stream_out'), streaming]]
    (tmp / 'jobs.json').write_text(json.dumps(jobs))
    cmd = [sys.executable, '-c', LAUNCHER, '-n', '2', '--stdout', str(tmp / 'stdout{rank}.txt'),
           '--stderr', str(tmp / 'stderr{rank}.txt'), str(ROOT / 'tests' / 'ddp_worker.py'), str(tmp / 'jobs.json')]
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
    proc = forked.run(cmd, capture_output=True, cwd=tmp, timeout=300, env=env)  # the launcher: a fork too
    logs = '\n'.join(p.read_text()[-2000:] for p in sorted(tmp.glob('std*.txt')))
    assert proc.returncode == 0, f'{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}\n{logs}'
    return proc.stdout, tmp


@pytest.fixture(scope='session')
def ranks(launch):
    stdout, tmp = launch
    out = [torch.load(tmp / 'out' / f'rank{r}.pt') for r in range(2)]
    return out, stdout, tmp


def _ids(X: torch.Tensor, dataset_X: torch.Tensor) -> list[int]:
    """The dataset index of each image of a batch (the synthetic images are all distinct)."""
    diff = (X.flatten(1)[:, None, :] - dataset_X.flatten(1)[None, :, :]).abs().amax(-1)
    assert bool((diff.min(1).values < 1e-5).all())
    return diff.argmin(1).tolist()


def test_each_rank_sees_its_own_shard(ranks):
    out, _, _ = ranks
    cfg = load_config(ROOT / 'yamls' / 'synthetic.yaml', OVERRIDES)
    ds = build_dataset(cfg.train_data, train=True, seed=cfg.seed)
    all_X = BatchTransform(ds.info.mean, ds.info.std)((ds.images, ds.labels))[0]
    seen = []
    for r, rank in enumerate(out):
        assert (rank['rank'], rank['world_size']) == (r, 2)
        assert len(rank['records']) == 2
        ids = [i for rec in rank['records'] for i in _ids(rec['raw_X'], all_X)]
        # exactly the indices Composer's DistributedSampler assigns to this rank (seeded by the run's seed)
        sampler = torch.utils.data.DistributedSampler(ds, num_replicas=2, rank=r, shuffle=True, seed=cfg.seed,
                                                      drop_last=True)
        assert ids == list(sampler)[:16]
        seen.append(set(ids))
    assert len(seen[0]) == len(seen[1]) == 16 and not seen[0] & seen[1]  # disjoint shards


def test_each_rank_mixes_only_its_own_batch(ranks):
    out, _, _ = ranks
    for rank in out:
        for rec in rank['records']:
            X, y, raw_X, raw_y, perm, lam = rec['X'], rec['y'], rec['raw_X'], rec['raw_y'], rec['indices'], rec['lam']
            y0, x0, y1, x1 = rec['bbox']
            assert raw_y.ndim == 1 and y.shape == (8, 10)  # the probe saw the batch before CutMix, the model after
            expected = torch.zeros(8, 10)
            expected[torch.arange(8), raw_y] += lam
            expected[torch.arange(8), raw_y[perm]] += 1 - lam
            assert torch.allclose(y, expected, atol=1e-6)
            assert torch.equal(X[..., y0:y1, x0:x1], raw_X[perm][..., y0:y1, x0:x1])
            outside = torch.ones(X.shape[-2:], dtype=torch.bool)
            outside[y0:y1, x0:x1] = False
            assert torch.equal(X[..., outside], raw_X[..., outside])


def test_ranks_draw_their_own_boxes_and_rank0_reports(ranks):
    out, stdout, tmp = ranks
    draws = [[(rec['bbox'], rec['indices'].tolist()) for rec in rank['records']] for rank in out]
    assert draws[0] != draws[1]  # CutMix seeds its generator with the rank
    assert 'final metrics of synthetic' in stdout  # rank 0's table; the launcher shows rank 0's stdout
    assert (tmp / 'run' / 'metrics.jsonl').is_file() and (tmp / 'run' / 'config.yaml').is_file()


def test_two_ranks_see_disjoint_streaming_samples_that_cover_each_epoch(launch, shards):
    stdout, tmp = launch
    cfg = load_config(SYNTHETIC)
    ds = build_dataset(cfg.train_data, train=True, seed=cfg.seed)
    images = BatchTransform(ds.info.mean, ds.info.std)((ds.images, ds.labels))[0]
    ranks = [_records(tmp / 'stream_out', r) for r in range(2)]
    for epoch in (0, 1):
        seen = []
        for recs in ranks:
            batches = [rec for rec in recs.values() if rec['epoch'] == epoch]
            assert len(batches) == 4  # 64 samples / (2 ranks x 8)
            ids = [i for rec in batches for i in _ids(torch.tensor(rec['raw']), images)]
            assert [ds.labels[i].item() for i in ids] == [y for rec in batches for y in rec['labels']]
            seen.append(ids)
        assert len(set(seen[0])) == len(set(seen[1])) == 32 and not set(seen[0]) & set(seen[1])  # disjoint...
        assert set(seen[0]) | set(seen[1]) == set(range(64))  # ...and together the whole epoch
    orders = [[i for rec in sorted(recs.values(), key=lambda r: r['batch']) for i in _ids(torch.tensor(rec['raw']), images)]
              for recs in ranks]
    assert orders[0][:32] != orders[0][32:]  # each epoch in a new order
    table = stdout[stdout.rindex('final metrics of synthetic'):].splitlines()  # the second run's
    assert table[1].split() == ['metric', 'train', 'eval']  # evaluated on the eval shards too
    for split in ('train', 'eval'):  # each split's shards were copied into its cache, shared by the two ranks
        assert sorted(p.name for p in (tmp / 'cache' / split).iterdir() if p.suffix == '.mds') == \
            sorted(p.name for p in (shards / split).iterdir() if p.suffix == '.mds')
