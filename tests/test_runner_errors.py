"""User errors found after start-up end a YAML run with one paragraph and exit code 2 (``--traceback`` shows the
trace); autoresume continues a killed run exactly; and three behaviours the suite did not pin before."""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from composer_cutmix import cutmix_batch
from composer_cutmix.metrics import DominantLabel, present_labels
from composer_cutmix.runner.cli import main
from composer_cutmix.runner.data import build_dataloader, build_dataset
from composer_cutmix.runner.errors import RunError
from tools import forked

ROOT = Path(__file__).resolve().parents[1]


def same_threads_env() -> dict[str, str]:
    """The environment for a child that must compute as this process does, should it be a new interpreter (see
    tools/forked.py: one when torch runs more than one thread here)."""
    return {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': str(torch.get_num_threads())}
SYNTHETIC = str(ROOT / 'yamls' / 'synthetic.yaml')
QUIET = ['loggers.progress_bar=false', 'loggers.console_log_interval=100ep']


def write_idx(folder: Path, prefix: str, images: torch.Tensor, labels: torch.Tensor, gz: bool = True) -> None:
    """Fashion-MNIST's idx format: a magic number, big-endian int32 sizes, then uint8 data."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    blobs = {f'{prefix}-images-idx3-ubyte': struct.pack('>IIII', 0x803, n, h, w) + images.numpy().tobytes(),
             f'{prefix}-labels-idx1-ubyte': struct.pack('>II', 0x801, n) + labels.to(torch.uint8).numpy().tobytes()}
    for name, blob in blobs.items():
        if gz:
            (folder / f'{name}.gz').write_bytes(gzip.compress(blob))
        else:
            (folder / name).write_bytes(blob)


def tiny_fashion_mnist(folder: Path, bad_label_at: int = -1, n: int = 64) -> Path:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    if bad_label_at >= 0:
        labels[bad_label_at] = 12
    for prefix in ('train', 't10k'):
        write_idx(folder, prefix, torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8), labels, gz=False)
    return folder


def fmnist_run(root: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ['train', str(ROOT / 'yamls' / 'fashion_mnist.yaml'), f'train_data.root={root}', f'eval_data.root={root}',
            'train_data.batch_size=16', 'train_data.augment=false', 'max_duration=4ba', 'eval_data=null',
            'model.width=4', f'run_folder={tmp_path}/run', *QUIET, *extra]


def test_a_label_outside_num_classes_mid_run_ends_with_one_paragraph(tmp_path, capsys):
    root = tiny_fashion_mnist(tmp_path / 'data', bad_label_at=37)  # batch 3 of 16 (no shuffle needed: it is found)
    rc = main(fmnist_run(root, tmp_path, 'train_data.subset=64'))
    err = ' '.join(capsys.readouterr().err.split())
    assert rc == 2
    assert err.startswith('composer-cutmix: error: training stopped at batch')
    assert 'found label 12' in err and 'num_classes' in err and 'Traceback' not in err
    with pytest.raises(RunError, match='found label 12') as info:
        main(['--traceback', *fmnist_run(root, tmp_path)])
    assert info.value.__cause__ is not None  # the full chain is there for --traceback


@pytest.mark.parametrize('damage', ['truncated', 'not gzip'])
def test_a_corrupt_or_truncated_data_file_is_one_paragraph(tmp_path, capsys, monkeypatch, damage):
    root = tmp_path / 'data'
    write_idx(root, 'train', torch.zeros(64, 28, 28, dtype=torch.uint8), torch.arange(64) % 10)
    write_idx(root, 't10k', torch.zeros(16, 28, 28, dtype=torch.uint8), torch.arange(16) % 10)
    path = root / 'train-images-idx3-ubyte.gz'
    blob = path.read_bytes()
    path.write_bytes(blob[:len(blob) // 2] if damage == 'truncated' else b'not a gzip file at all')
    monkeypatch.setenv('COMPOSER_CUTMIX_CACHE', str(tmp_path / 'cache'))
    rc = main(fmnist_run(root, tmp_path))
    err = ' '.join(capsys.readouterr().err.split())
    assert rc == 2 and 'Traceback' not in err
    assert 'train-images-idx3-ubyte.gz' in err and 'corrupt or truncated' in err and 'reinstall' in err


def test_a_checkpoint_that_does_not_fit_the_config_is_one_paragraph(tmp_path, capsys):
    common = [*QUIET, 'eval_data=null', 'max_duration=2ba', f'run_folder={tmp_path}/run']
    assert main(['train', SYNTHETIC, *common, 'save_folder=${run_folder}/ckpt', 'save_interval=2ba']) == 0
    ckpt = tmp_path / 'run' / 'ckpt' / 'latest-rank0.pt'
    capsys.readouterr()
    rc = main(['train', SYNTHETIC, *common, 'model.width=16', 'max_duration=4ba', f'load_path={ckpt}'])
    err = ' '.join(capsys.readouterr().err.split())
    assert rc == 2 and 'Traceback' not in err
    assert 'does not fit this config' in err and 'latest-rank0.pt' in err and 'size mismatch' in err


def test_a_num_classes_mismatch_in_the_yaml_is_refused_before_training(tmp_path, capsys):
    rc = main(['train', SYNTHETIC, *QUIET, f'run_folder={tmp_path}', 'algorithms.cutmix.num_classes=7'])
    err = ' '.join(capsys.readouterr().err.split())
    assert rc == 2 and 'CutMix(num_classes=7) does not match the model, which has num_classes=10' in err


def test_training_data_too_small_for_one_batch_is_refused_before_anything_is_written(tmp_path, capsys):
    """With the incomplete batch dropped, an epoch has no batches and Composer runs empty epochs for ever."""
    run = tmp_path / 'run'
    rc = main(['train', SYNTHETIC, *QUIET, f'run_folder={run}', 'train_data.num_samples=8'])  # batches of 16
    err = ' '.join(capsys.readouterr().err.split())
    assert rc == 2 and 'Traceback' not in err, err
    assert ('train_data: 8 samples make no full batch of 16, and train_data.drop_last drops the incomplete one, so '
            'an epoch would have no batches and the run would never end. Set train_data.batch_size=8 or less, or '
            'train_data.drop_last=false.') in err
    assert not run.exists()
    tiny = {'name': 'synthetic', 'num_samples': 8, 'batch_size': 16}
    assert len(build_dataloader({**tiny, 'drop_last': False}, train=True)) == 1  # kept: one batch of 8
    assert len(build_dataloader(tiny, train=False)) == 1  # evaluation keeps its incomplete batch


def test_autoresume_needs_a_save_folder(tmp_path, capsys):
    assert main(['train', SYNTHETIC, *QUIET, f'run_folder={tmp_path}', 'autoresume=true']) == 2
    assert 'autoresume: true needs save_folder' in ' '.join(capsys.readouterr().err.split())


# ------------------------------------------------------------------------------------------------ autoresume


def _args(tmp_path: Path, name: str) -> list[str]:
    return ['train', SYNTHETIC, *QUIET, 'eval_data=null', 'train_data.num_samples=160', 'train_data.batch_size=16',
            'max_duration=1ep', 'seed=5', f'run_name={name}', f'run_folder={tmp_path}/{name}',
            'save_folder=${run_folder}/ckpt', 'save_interval=1ba', 'save_num_checkpoints_to_keep=3', 'autoresume=true',
            'algorithms.cutmix.log_params=true']


def _draws(run: Path) -> dict[int, dict]:
    """The CutMix draw logged for each completed batch (the last line wins: a resumed run redoes the batches after
    its checkpoint)."""
    draws = {}
    for line in (run / 'metrics.jsonl').read_text().splitlines():
        rec = json.loads(line)
        if 'cutmix/lam' in rec and not rec.get('incomplete'):
            draws[rec['batch']] = {k: v for k, v in rec.items() if k.startswith('cutmix/') or k == 'loss/train/total'}
    return draws


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / 'ckpt' / 'latest-rank0.pt', map_location='cpu', weights_only=False)
    return state['state']['model']


# The killed attempt runs this in a child process: the CLI plus one callback that, when batch 6 of 10 is about to start
# (batch 5's checkpoint and the latest link are on disk), tells the test and waits to be killed from outside.
# A kill at a random moment could land between Composer removing the old latest link and making the new one, and
# then no checkpoint is found at all; pausing first makes the test the same on every machine.
_PAUSE_AT_BATCH_6 = """
import importlib, sys, time
from composer import Callback
from composer_cutmix.runner.cli import main

class PauseForTheKill(Callback):
    def batch_start(self, state, logger):
        if int(state.timestamp.batch) == 5:
            open(sys.argv[1], 'w').close()
            time.sleep(600)

runner_train = importlib.import_module('composer_cutmix.runner.train')  # the module, not the function it exports
build = runner_train.build_trainer
runner_train.build_trainer = lambda cfg, callbacks=(): build(cfg, callbacks=[*callbacks, PauseForTheKill()])
sys.exit(main(sys.argv[2:]))
"""


def test_autoresume_continues_a_killed_run_exactly(tmp_path):
    assert main(_args(tmp_path, 'whole')) == 0  # the uninterrupted run, in this process

    # The same command in a child process (a fork of this one, no second import of Composer; with this process's
    # thread count either way, so the arithmetic is bit for bit alike), killed from outside with SIGTERM mid-epoch...
    paused, log = tmp_path / 'paused', tmp_path / 'killed.log'
    with open(log, 'wb') as out:
        killed = forked.Popen([sys.executable, '-c', _PAUSE_AT_BATCH_6, str(paused), *_args(tmp_path, 'killed')],
                              cwd=ROOT, env=same_threads_env(), stdout=out, stderr=forked.STDOUT)
        deadline = time.time() + 240
        while time.time() < deadline and not paused.exists() and killed.poll() is None:
            time.sleep(0.05)
        killed.send_signal(signal.SIGTERM)
        killed.wait(timeout=60)
    assert paused.exists(), f'the killed run never reached batch 6:\n{log.read_text()[-3000:]}'
    assert killed.returncode == 128 + signal.SIGTERM  # Composer's engine turns SIGTERM into sys.exit(143)
    ckpt = tmp_path / 'killed' / 'ckpt'
    assert os.readlink(ckpt / 'latest-rank0.pt') == 'ep0-ba5-rank0.pt'
    # A kill during a save leaves the next checkpoint cut short: the resumed run must overwrite it, not trip on it.
    (ckpt / 'ep0-ba6-rank0.pt').write_bytes((ckpt / 'ep0-ba5-rank0.pt').read_bytes()[:1000])

    # ...and the same command again, which resumes it.
    assert main(_args(tmp_path, 'killed')) == 0
    whole, again = _draws(tmp_path / 'whole'), _draws(tmp_path / 'killed')
    assert sorted(whole) == sorted(again) == list(range(1, 11))
    assert again == whole  # every batch mixed the same way, and the same loss on it
    lines = [json.loads(line) for line in (tmp_path / 'killed' / 'metrics.jsonl').read_text().splitlines()]
    assert [rec['batch'] for rec in lines if 'loss/train/total' in rec] == list(range(1, 11))  # each batch once
    assert not [rec for rec in lines if rec.get('incomplete')]  # the killed attempt's batch 6 was redone
    for key, value in _weights(tmp_path / 'whole').items():
        assert torch.equal(value, _weights(tmp_path / 'killed')[key]), key


def test_autoresume_finds_the_run_when_the_kill_took_the_latest_link(tmp_path, caplog, capsys):
    # Composer moves latest-rank0.pt by removing it and linking anew: a kill between the two leaves no link. The
    # rerun must still resume (from the newest checkpoint that loads), not start over and overwrite the run.
    args = [*_args(tmp_path, 'run'), 'max_duration=6ba']
    assert main(args) == 0
    ckpt, run = tmp_path / 'run' / 'ckpt', tmp_path / 'run'
    done = _draws(run)
    weights = _weights(run)
    (ckpt / 'latest-rank0.pt').unlink()
    (ckpt / 'ep0-ba6-rank0.pt').write_bytes((ckpt / 'ep0-ba6-rank0.pt').read_bytes()[:1000])  # cut short
    capsys.readouterr()
    assert main(args) == 0
    assert f'autoresume: resumed run from {ckpt / "ep0-ba5-rank0.pt"} (epoch 0, batch 5)' in capsys.readouterr().out
    assert os.readlink(ckpt / 'latest-rank0.pt') == 'ep0-ba6-rank0.pt'  # batch 6 redone from ba5, saved again
    assert _draws(run) == done and sorted(done) == list(range(1, 7))
    for key, value in weights.items():
        assert torch.equal(value, _weights(run)[key]), key
    assert 'resuming from ep0-ba5-rank0.pt' in caplog.text and 'ep0-ba6-rank0.pt cannot be read' in caplog.text
    lines = [json.loads(line) for line in (run / 'metrics.jsonl').read_text().splitlines()]
    assert [rec['batch'] for rec in lines if 'cutmix/lam' in rec] == [1, 2, 3, 4, 5, 6]  # batch 6 redone, kept once


# ---------------------------------------------------------------------------- three behaviours now pinned


def test_evaluation_loaders_never_augment_even_when_asked():
    cfg = {'name': 'synthetic', 'num_samples': 32, 'image_size': 12, 'channels': 1, 'batch_size': 16,
           'augment': True}
    passes = [[X for X, _ in build_dataloader(cfg, train=False, seed=1)] for _ in range(2)]
    ds = build_dataset(cfg, train=False, seed=1)
    plain = (ds.images.float() / 255 - 0.5) / 0.289
    for first, second, k in zip(*passes, range(2)):
        assert torch.equal(first, second)  # two passes, the same batches...
        torch.testing.assert_close(first, plain[16 * k:16 * k + 16])  # ...and they are the un-augmented images
    train_passes = [torch.cat([X for X, _ in build_dataloader({**cfg, 'subset': 16}, train=True, seed=1)])
                    for _ in range(2)]
    assert not torch.equal(train_passes[0], train_passes[1]), 'the training loader does augment'


def test_subset_of_an_imagefolder_tree(tmp_path):
    g = torch.Generator().manual_seed(0)
    for split in ('train', 'val'):
        for cls in ('ant', 'bee', 'cat'):
            folder = tmp_path / split / cls
            folder.mkdir(parents=True)
            for i in range(4):
                pixels = torch.randint(0, 256, (20, 20, 3), generator=g, dtype=torch.uint8).numpy()
                Image.fromarray(pixels).save(folder / f'{i}.png')
    cfg = {'name': 'imagefolder', 'root': str(tmp_path), 'image_size': 16, 'batch_size': 4, 'subset': 5}
    ds = build_dataset(cfg, train=False)
    assert len(ds) == 5 and ds.info.classes == ('ant', 'bee', 'cat') and ds.info.image_size == (16, 16)
    assert [ds[i][1] for i in range(5)] == [0, 0, 0, 0, 1]  # the first five files, in ImageFolder's order
    X, y = next(iter(build_dataloader(cfg, train=True)))
    assert X.shape == (4, 3, 16, 16) and X.dtype == torch.float32
    assert len(build_dataloader({**cfg, 'subset': None}, train=True).dataset) == 12


def test_a_multilabel_target_mixed_at_exactly_half_counts_as_present():
    from torchmetrics.classification import MultilabelAccuracy

    y = torch.tensor([[1, 0, 0], [0, 1, 1]])
    X = torch.zeros(2, 1, 4, 4)
    _, dense = cutmix_batch(X, y, 3, bbox=(0, 0, 2, 4), indices=torch.tensor([1, 0]))  # half the picture each
    assert dense.tolist() == [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    assert present_labels(dense).tolist() == [[1, 1, 1], [1, 1, 1]]
    metric = DominantLabel(MultilabelAccuracy(num_labels=3))
    metric.update(torch.tensor([[5.0, 5.0, 5.0], [5.0, 5.0, -5.0]]), dense)  # logits: all present but one
    assert float(metric.compute()) == pytest.approx(5 / 6)
