"""MDS shards and MosaicML streaming: ``convert`` writes the data sets as stored, ``name: streaming`` reads them back
batch for batch like the in-memory path, two ranks split every epoch, a run killed mid-epoch resumes with the same
samples mixed the same way, and a bad ``remote`` is one paragraph before training."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

pytest.importorskip('streaming')

from streaming import StreamingDataset  # noqa: E402

from composer_cutmix.runner.cli import main  # noqa: E402
from composer_cutmix.runner.config import ConfigError, config_from_dict, load_config  # noqa: E402
from composer_cutmix.runner.convert import convert  # noqa: E402
from composer_cutmix.runner.data import build_dataloader, build_dataset  # noqa: E402
from composer_cutmix.runner.errors import DataNotFoundError  # noqa: E402
from composer_cutmix.runner.streaming import SHARD_INFO_FILE, ShardInfo  # noqa: E402
from composer_cutmix.runner.train import train  # noqa: E402
from tests.test_runner_errors import same_threads_env  # noqa: E402
from tools import forked  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = str(ROOT / 'yamls' / 'synthetic.yaml')
QUIET = ['loggers.progress_bar=false', 'loggers.console_log_interval=100ep', 'loggers.speed_monitor=false']


def _streaming(shards: Path, *extra: str, train_local=None, eval_local=None) -> list[str]:
    args = ['train_data.name=streaming', f'train_data.remote={shards}/train', 'eval_data.name=streaming',
            f'eval_data.remote={shards}/eval', *extra]
    if train_local:
        args.append(f'train_data.local={train_local}')
    if eval_local:
        args.append(f'eval_data.local={eval_local}')
    return args


# ----------------------------------------------------------------------------------------------------- convert


def test_convert_writes_the_data_sets_as_stored_and_prints_the_overrides(shards, tmp_path, capsys):
    cfg = load_config(SYNTHETIC)
    for key, split in (('train_data', 'train'), ('eval_data', 'eval')):
        ds = build_dataset(cfg[key], train=(split == 'train'), seed=cfg.seed)
        raw = StreamingDataset(local=str(shards / split), batch_size=1)  # streaming's own reader, in place
        assert len(raw) == len(ds) == {'train': 64, 'eval': 32}[split]
        for i in (0, 1, len(ds) - 1):
            assert torch.equal(torch.tensor(raw[i]['x']), ds.images[i]) and raw[i]['y'] == int(ds.labels[i])
        info = ShardInfo.from_json((shards / split / SHARD_INFO_FILE).read_text(), split)
        assert (info.source, info.split, info.num_samples, info.layout) == ('synthetic', split, len(ds), 'tensor')
        assert (info.classes, info.mean, info.std, info.image_size) == \
            (ds.info.classes, ds.info.mean, ds.info.std, ds.info.image_size)
        assert info.columns == {'x': 'ndarray:uint8:1,16,16', 'y': 'int'}

    assert main(['convert', SYNTHETIC, str(tmp_path / 'o'), '--no-progress', 'train_data.num_samples=24']) == 0
    out = capsys.readouterr().out
    assert 'wrote 24 train samples of synthetic' in out and 'wrote 32 eval samples' in out
    assert (f'composer-cutmix train {SYNTHETIC} train_data.name=streaming train_data.remote={tmp_path}/o/train '
            f'eval_data.name=streaming eval_data.remote={tmp_path}/o/eval') in out
    assert main(['convert', SYNTHETIC, str(tmp_path / 'o'), '--no-progress']) == 2  # not over existing shards
    assert 'is not empty' in ' '.join(capsys.readouterr().err.split())
    assert main(['convert', SYNTHETIC, str(tmp_path / 'o'), '--no-progress', '--overwrite']) == 0
    assert len(StreamingDataset(local=str(tmp_path / 'o' / 'train'), batch_size=1)) == 64

    (tmp_path / 'a_file').write_text('x')
    for out_dir, expected in ((tmp_path / 'a_file', "is a file; OUT_DIR must be a folder"),
                              (tmp_path / 'a_file' / 'sub', 'cannot make the folder')):
        assert main(['convert', SYNTHETIC, str(out_dir), '--no-progress']) == 2  # one paragraph, no traceback
        err = ' '.join(capsys.readouterr().err.split())
        assert err.startswith('composer-cutmix: error: convert:') and expected in err and 'Traceback' not in err


def test_convert_keeps_image_files_as_stored_and_streaming_decodes_them(tmp_path):
    g = torch.Generator().manual_seed(0)
    for split in ('train', 'val'):
        for cls in ('ant', 'bee'):
            (tmp_path / 'tree' / split / cls).mkdir(parents=True)
            for i in range(3):
                pixels = torch.randint(0, 256, (20, 24, 3), generator=g, dtype=torch.uint8).numpy()
                Image.fromarray(pixels).save(tmp_path / 'tree' / split / cls / f'{i}.png')
    data = {'name': 'imagefolder', 'root': str(tmp_path / 'tree'), 'image_size': 16, 'batch_size': 6}
    cfg = config_from_dict({'train_data': data, 'eval_data': data})
    written = convert(cfg, str(tmp_path / 'out'), progress=False)
    assert {k: (v.layout, v.num_samples, v.classes) for k, v in written.items()} == \
        {'train_data': ('encoded', 6, ('ant', 'bee')), 'eval_data': ('encoded', 6, ('ant', 'bee'))}
    raw = StreamingDataset(local=str(tmp_path / 'out' / 'eval'), batch_size=1)
    assert raw[0]['x'] == (tmp_path / 'tree' / 'val' / 'ant' / '0.png').read_bytes()  # the file's bytes

    # Evaluation batches of the shards are exactly those of the ImageFolder path (resize, center crop, normalise).
    folder = next(iter(build_dataloader(data, train=False)))
    remote = {'name': 'streaming', 'remote': str(tmp_path / 'out' / 'eval'), 'batch_size': 6}
    streamed = next(iter(build_dataloader(remote, train=False, local_root=str(tmp_path / 'cache'))))
    torch.testing.assert_close(streamed[0], folder[0])
    assert streamed[1].tolist() == folder[1].tolist() == [0, 0, 0, 1, 1, 1]
    # Training crops are random per sample, drawn from (seed, epoch, sample id): two readers agree.
    passes = [next(iter(build_dataloader({**remote, 'remote': str(tmp_path / 'out' / 'train')}, train=True, seed=3)))
              for _ in range(2)]
    assert passes[0][0].shape == (6, 3, 16, 16) and torch.equal(passes[0][0], passes[1][0])


# ----------------------------------------------------------------------------------------------------- reading


def test_streaming_batches_are_the_in_memory_batches(shards):
    cfg = load_config(SYNTHETIC, _streaming(shards, 'train_data.augment=false', 'train_data.shuffle=false'))
    memory = load_config(SYNTHETIC, ['train_data.augment=false', 'train_data.shuffle=false'])
    dl = build_dataloader(cfg.train_data, train=True, seed=cfg.seed)
    ref = build_dataloader(memory.train_data, train=True, seed=cfg.seed)
    batches, expected = list(dl), list(ref)
    assert len(batches) == len(expected) == len(dl) == 4
    for (X, y), (X0, y0) in zip(batches, expected):
        assert X.dtype == torch.float32 and X.shape == (16, 1, 16, 16)
        assert torch.equal(X, X0) and torch.equal(y, y0)
    info, info0 = dl.dataset.info, ref.dataset.info
    assert info.name == 'streaming' and (info.classes, info.mean, info.std, info.channels, info.image_size) == \
        (info0.classes, info0.mean, info0.std, info0.channels, info0.image_size)


def test_augmentation_is_drawn_from_the_seed_the_epoch_and_the_samples(shards, tmp_path):
    def epochs(local: str, seed: int = 17) -> list[torch.Tensor]:
        cfg = load_config(SYNTHETIC, _streaming(shards, f'train_data.local={local}', f'seed={seed}'))
        dl = build_dataloader(cfg.train_data, train=True, seed=seed)
        return [torch.cat([X for X, _ in dl]) for _ in range(2)]

    first, again, other_seed = epochs(tmp_path / 'a'), epochs(tmp_path / 'b'), epochs(tmp_path / 'c', seed=18)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])  # another reader, the same batches
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[0], other_seed[0])
    # The crop pads with zeros (normalised: -mean/std): augmentation did happen.
    pad_value = -0.5 / 0.289
    assert bool(((first[0] - pad_value).abs() < 1e-4).flatten(1).any(1).float().mean() > 0.3)


def test_the_same_samples_are_augmented_anew_each_epoch(shards, tmp_path):
    """Without shuffling each epoch holds the same samples in the same batches: only the epoch in the seed tells the
    augmentation of one epoch from the next (a seed that left it out would crop and flip them the same way)."""
    cfg = load_config(SYNTHETIC, _streaming(shards, f'train_data.local={tmp_path}', 'train_data.shuffle=false'))
    dl = build_dataloader(cfg.train_data, train=True, seed=cfg.seed)
    (x0, y0), (x1, y1) = ([torch.cat(part) for part in zip(*list(dl))] for _ in range(2))
    assert torch.equal(y0, y1) and len(y0) == 64  # the same samples, in the same order
    differs = (x0 != x1).flatten(1).any(1).float().mean().item()
    assert differs > 0.8, differs  # each image drawn anew: the same crop and flip has odds 1/50


@pytest.mark.parametrize('case', ['missing', 'no_index', 'no_info', 'corrupt_info', 'unknown_scheme'])
def test_a_bad_remote_is_one_paragraph_before_training(shards, tmp_path, capsys, case):
    remote = tmp_path / 'remote'
    if case != 'missing':
        remote.mkdir()
    if case in ('no_info', 'corrupt_info'):
        for f in (shards / 'train').iterdir():
            if f.name != SHARD_INFO_FILE:
                (remote / f.name).write_bytes(f.read_bytes())
    if case == 'corrupt_info':
        (remote / SHARD_INFO_FILE).write_text('{"format": "composer_cutmix/mds-images", "version": 1}')
    if case == 'unknown_scheme':
        remote = 'nosuchscheme://bucket/train'
    rc = main(['train', SYNTHETIC, *QUIET, f'run_folder={tmp_path}/run', 'train_data.name=streaming',
               f'train_data.remote={remote}'])
    err = ' '.join(capsys.readouterr().err.split())
    assert rc == 2 and f"train_data.remote: '{remote}'" in err, err
    assert {'missing': 'is not a folder', 'no_index': 'no index.json', 'no_info': f'no {SHARD_INFO_FILE}',
            'corrupt_info': 'lacks source', 'unknown_scheme': 'cannot be read'}[case] in err
    assert 'composer-cutmix convert' in err and 'Traceback' not in err
    assert not (tmp_path / 'run' / 'metrics.jsonl').exists()  # refused before training


def test_streaming_config_mistakes_are_one_paragraph(shards, tmp_path):
    with pytest.raises(ConfigError, match=r'train_data.remote: train_data.name=streaming reads MDS shards'):
        load_config(SYNTHETIC, ['train_data.name=streaming'])
    with pytest.raises(ConfigError, match=r'train_data.subset is not supported with streaming'):
        build_dataloader({'name': 'streaming', 'remote': str(shards / 'train'), 'subset': 8}, train=True)
    # One cache folder for two live data sets: streaming refuses, and says so in a paragraph naming the key.
    cfg = load_config(SYNTHETIC, _streaming(shards, *QUIET, f'run_folder={tmp_path}', 'max_duration=1ba',
                                            train_local=tmp_path / 'c', eval_local=tmp_path / 'c'))
    with pytest.raises(DataNotFoundError, match=r"eval_data.local: the cache folder '.*c' is in use"):
        train(cfg, print_table=False)


def test_a_missing_streaming_extra_says_how_to_install_it(shards, monkeypatch):
    import composer_cutmix.runner

    monkeypatch.setitem(sys.modules, 'streaming', None)  # as if mosaicml-streaming were not installed
    monkeypatch.delitem(sys.modules, 'composer_cutmix.runner.streaming')
    monkeypatch.delattr(composer_cutmix.runner, 'streaming')
    with pytest.raises(ConfigError, match=r"pip install 'composer-cutmix\[streaming\]'"):
        build_dataloader({'name': 'streaming', 'remote': str(shards / 'train')}, train=True)


# ------------------------------------------------------------------------------------------------ scale tests


def _records(folder: Path, rank: int = 0) -> dict[int, dict]:
    """The probe's record of each batch (the last one wins: a resumed run redoes the batch it was killed in)."""
    out = {}
    for line in (folder / f'rank{rank}.jsonl').read_text().splitlines():
        rec = json.loads(line)
        out[rec['batch']] = rec
    return out


def test_each_rank_of_two_gets_its_own_half_of_every_epoch(monkeypatch):
    """The per-rank split in one process: the sampler of the runner's loader as rank 0 and rank 1 of world size 2
    (the two-process streaming run in tests/test_ddp.py checks the whole thing end to end)."""
    from composer.utils import dist

    monkeypatch.setattr(dist, 'get_world_size', lambda: 2)
    cfg = load_config(SYNTHETIC, ['train_data.batch_size=8'])
    orders = []
    for epoch in (0, 1):
        halves = []
        for rank in (0, 1):
            monkeypatch.setattr(dist, 'get_global_rank', lambda rank=rank: rank)
            sampler = build_dataloader(cfg.train_data, train=True, seed=cfg.seed).sampler
            sampler.set_epoch(epoch)
            halves.append(list(sampler))
        assert len(halves[0]) == len(halves[1]) == 32 and not set(halves[0]) & set(halves[1])  # disjoint...
        assert set(halves[0]) | set(halves[1]) == set(range(64))  # ...and together the whole epoch
        orders.append(halves[0])
    assert orders[0] != orders[1]  # a new order every epoch


def test_a_run_killed_mid_epoch_resumes_with_the_same_samples_mixed_the_same_way(shards, tmp_path):
    from composer_cutmix.runner.registry import register_algorithm
    from tests.streaming_worker import Probe

    register_algorithm('probe', Probe)

    def args(name: str) -> list[str]:
        return _streaming(shards, *QUIET, 'eval_data=null', 'max_duration=2ep', 'train_data.batch_size=16',
                          'save_folder=${run_folder}/ckpt', 'save_interval=1ba', 'autoresume=true',
                          'algorithms.cutmix.log_params=true', f'run_name={name}', f'run_folder={tmp_path}/{name}',
                          train_local=tmp_path / name / 'cache')

    assert main(['train', SYNTHETIC, *args('whole'), f'algorithms.probe.out={tmp_path}/whole/probe']) == 0
    # The killed run trains its first batches in a child process (a fork of this one: the same thread count, so bit
    # for bit alike, and no second import of Composer).
    killed = forked.run([sys.executable, ROOT / 'tests' / 'streaming_worker.py', tmp_path / 'k/probe', '--kill-at', '2',
                         *args('k')], cwd=ROOT, env=same_threads_env(), capture_output=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILL in batch 2 of 4 (0-based), nothing cleaned up
    assert os.path.basename(os.readlink(tmp_path / 'k' / 'ckpt' / 'latest-rank0.pt')) == 'ep0-ba2-rank0.pt'
    assert sorted(_records(tmp_path / 'k' / 'probe')) == [0, 1]

    assert main(['train', SYNTHETIC, *args('k'), f'algorithms.probe.out={tmp_path}/k/probe']) == 0  # autoresume
    whole, resumed = _records(tmp_path / 'whole' / 'probe'), _records(tmp_path / 'k' / 'probe')
    assert sorted(whole) == sorted(resumed) == list(range(8))
    for b in range(8):  # the same images (after augmentation), labels, CutMix draw and mixed batch, batch by batch
        assert resumed[b] == whole[b], f'batch {b} differs'
    assert len({tuple(r['images']) for r in whole.values()}) == 8  # (the batches differ from one another)

    def draws(name: str) -> dict[int, dict]:
        lines = [json.loads(x) for x in (tmp_path / name / 'metrics.jsonl').read_text().splitlines()]
        return {x['batch']: {k: v for k, v in x.items() if k.startswith('cutmix/') or k == 'loss/train/total'}
                for x in lines if 'cutmix/lam' in x}

    assert draws('k') == draws('whole')  # the logged draws and the losses on them too
