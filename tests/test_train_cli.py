"""Every YAML smoke-runs with ``max_duration=2ba``; metrics.jsonl, config.yaml, the final table; save and resume."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch
from composer.core import Callback
from omegaconf import OmegaConf

from composer_cutmix.runner.cli import main
from composer_cutmix.runner.config import ConfigError, config_from_dict, load_config
from composer_cutmix.runner.train import train

ROOT = Path(__file__).resolve().parents[1]
YAMLS = sorted((ROOT / 'yamls').glob('*.yaml'))
SYNTHETIC = str(ROOT / 'yamls' / 'synthetic.yaml')
SMOKE = [
    'max_duration=2ba',
    'train_data.batch_size=8',
    'train_data.subset=64',
    'train_data.num_workers=0',
    'eval_data.batch_size=16',
    'eval_data.subset=32',
    'eval_data.num_workers=0',
    'loggers.progress_bar=false',
]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_yamls_are_the_expected_ones():
    assert {p.stem for p in YAMLS} >= {'fashion_mnist', 'fashion_mnist_baseline', 'cifar10_resnet',
                                       'imagenet_resnet50', 'synthetic', 'fashion_mnist_random_mix'}


@pytest.mark.parametrize('yaml', YAMLS, ids=[p.stem for p in YAMLS])
def test_every_yaml_smoke_runs(yaml, tmp_path, capsys):
    run = tmp_path / 'run'
    rc = main(['train', str(yaml), *SMOKE, f'run_folder={run}'])
    out, err = capsys.readouterr()
    if rc == 2 and ('not found' in err or 'not a folder' in err):
        pytest.skip(f'{yaml.name}: its data is not on this machine: {err.strip()}')
    assert rc == 0, err

    cfg = OmegaConf.load(run / 'config.yaml')  # the resolved config
    assert cfg.max_duration == '2ba' and cfg.train_data.batch_size == 8

    lines = _jsonl(run / 'metrics.jsonl')
    train_lines = [x for x in lines if 'loss/train/total' in x]
    assert [x['batch'] for x in train_lines] == [1, 2]
    assert all(math.isfinite(x['loss/train/total']) for x in train_lines)
    (final_eval,) = [x for x in lines if 'metrics/eval/MulticlassAccuracy' in x]
    assert 0.0 <= final_eval['metrics/eval/MulticlassAccuracy'] <= 1.0

    assert f'final metrics of {yaml.stem}' in out
    table = out[out.index('final metrics of'):].splitlines()
    assert table[1].split() == ['metric', 'train', 'eval']
    assert any(row.split()[0] == 'MulticlassAccuracy' and len(row.split()) == 3 for row in table[2:])
    assert '[epoch 0 | batch 2 |' in out  # the plain console line (stdout is not a terminal here)


class _Ops(Callback):
    """Records the op of each training batch (None: not mixed) from the run's mixer."""

    def __init__(self) -> None:
        self.ops: list = []
        self.mixer = None

    def after_dataloader(self, state, logger) -> None:
        (self.mixer,) = [a for a in state.algorithms if type(a).__name__ in ('ResizeMix', 'FMix', 'RandomMix')]
        self.ops.append(getattr(self.mixer.last_params, 'op', None))


RANDOM_MIX = ['algorithms.random_mix.ops.mixup.alpha=0.8', 'algorithms.random_mix.ops.cutmix.alpha=1.0',
              'algorithms.random_mix.ops.resizemix={}', 'algorithms.random_mix.ops.fmix={}',
              'algorithms.random_mix.probs=[0.25,0.25,0.25,0.25]']


@pytest.mark.parametrize('overrides,ops', [
    (['algorithms.resizemix.scale=[0.2,0.6]', "algorithms.resizemix.interpolation='nearest'"], {'resizemix'}),
    (['algorithms.fmix.alpha=0.5', 'algorithms.fmix.decay_power=4.0'], {'fmix'}),
    (RANDOM_MIX, {'mixup', 'cutmix', 'resizemix', 'fmix'}),
], ids=['resizemix', 'fmix', 'random_mix'])
def test_the_new_mixers_smoke_run_from_yaml(overrides, ops, tmp_path):
    """``algorithms: {resizemix: ...}``, ``{fmix: ...}`` and ``{random_mix: {ops: ..., probs: ...}}`` on the
    synthetic recipe (its CutMix turned off): the run trains with the mixer built as written."""
    seen = _Ops()
    cfg = load_config(SYNTHETIC, [*SMOKE, 'eval_data=null', 'algorithms.cutmix=false', *overrides,
                                  f'run_folder={tmp_path}'])
    result = train(cfg, callbacks=[seen], print_table=False)
    assert math.isfinite(result['train/loss'])
    assert len(seen.ops) == 2 and set(seen.ops) <= ops and None not in seen.ops
    if type(seen.mixer).__name__ == 'RandomMix':
        assert [type(op).__name__ for op in seen.mixer.ops] == ['MixUp', 'CutMix', 'ResizeMix', 'FMix']
        assert seen.mixer.probs == (0.25,) * 4 and seen.mixer.ops[0].alpha == 0.8
    else:
        assert repr(seen.mixer) in ("ResizeMix(num_classes=None, scale=(0.2, 0.6), interpolation='nearest')",
                                    'FMix(num_classes=None, alpha=0.5, decay_power=4.0)')


def test_train_returns_the_final_metrics(tmp_path):
    result = train(load_config(SYNTHETIC, [*SMOKE, f'run_folder={tmp_path}']), print_table=False)
    assert set(result) >= {'train/loss', 'train/MulticlassAccuracy', 'eval/MulticlassAccuracy', 'eval/CrossEntropy',
                           'fit_time_s'}
    lines = _jsonl(tmp_path / 'metrics.jsonl')
    evals = [x for x in lines if 'metrics/eval/MulticlassAccuracy' in x]
    assert result['eval/MulticlassAccuracy'] == evals[-1]['metrics/eval/MulticlassAccuracy']
    losses = [x['loss/train/total'] for x in lines if 'loss/train/total' in x]
    assert result['train/loss'] == pytest.approx(sum(losses) / 2)  # the mean over the (partial) epoch's 2 batches


class _Draws(Callback):
    """Records, per batch, CutMix's box and permutation and the labels the batch held."""

    def __init__(self) -> None:
        self.draws: list[tuple] = []

    def after_dataloader(self, state, logger) -> None:
        (cutmix,) = [a for a in state.algorithms if type(a).__name__ == 'CutMix']
        p = cutmix.last_params
        self.draws.append((int(state.timestamp.batch), p.bbox, p.indices.tolist(), state.batch[1].argmax(1).tolist()))


def test_checkpoint_and_resume_continue_the_same_run(tmp_path):
    common = ['loggers.progress_bar=false', 'loggers.console_log_interval=100ep', 'eval_data=null',
              'max_duration=4ba', f'run_folder={tmp_path}/run']
    full = _Draws()
    train(load_config(SYNTHETIC, [*common, 'save_folder=${run_folder}/ckpt', 'save_interval=2ba']),
          callbacks=[full], print_table=False)
    ckpt = tmp_path / 'run' / 'ckpt'
    assert (ckpt / 'ep0-ba2-rank0.pt').is_file() and (ckpt / 'latest-rank0.pt').exists()

    resumed = _Draws()
    train(load_config(SYNTHETIC, [*common, f'load_path={ckpt}/ep0-ba2-rank0.pt']), callbacks=[resumed],
          print_table=False)
    # The resumed run picks up at batch 3, with the data order and the CutMix draws of the uninterrupted run.
    assert [d[0] for d in resumed.draws] == [2, 3]
    assert resumed.draws == full.draws[2:]

    lines = [x for x in _jsonl(tmp_path / 'run' / 'metrics.jsonl') if 'loss/train/total' in x]
    assert [x['batch'] for x in lines] == [1, 2, 3, 4]  # kept up to the checkpoint (ba2), then 3 and 4 once more


def test_missing_checkpoint_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match='load_path: no checkpoint'):
        train(load_config(SYNTHETIC, [*SMOKE, f'run_folder={tmp_path}', f'load_path={tmp_path}/none.pt']))


def test_data_and_model_must_agree(tmp_path):
    with pytest.raises(ConfigError, match='model.in_channels is 3 but synthetic images have 1'):
        train(load_config(SYNTHETIC, [*SMOKE, f'run_folder={tmp_path}', 'model.in_channels=3']))
    with pytest.raises(ConfigError, match='model.num_classes is 5 but synthetic has 10 classes'):
        train(load_config(SYNTHETIC, [*SMOKE, f'run_folder={tmp_path}', 'model.num_classes=5']))


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU fallback')
def test_mixed_precision_needs_a_gpu(tmp_path):
    cfg = config_from_dict({'device': 'cpu', 'precision': 'amp_bf16', 'run_folder': str(tmp_path)})
    with pytest.raises(ConfigError, match='precision=amp_bf16 needs a GPU'):
        train(cfg)


def test_no_metrics_file_when_turned_off(tmp_path):
    result = train(load_config(SYNTHETIC, [*SMOKE, f'run_folder={tmp_path}', 'loggers.metrics_jsonl=false']),
                   print_table=False)
    assert not os.path.exists(tmp_path / 'metrics.jsonl')
    assert 'eval/MulticlassAccuracy' in result  # still known for the table
