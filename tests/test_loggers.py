"""Composer's TensorBoard, MLflow and W&B loggers from the YAML runner, read back offline: metrics, the run's config,
and the picture of the mixed batch; a missing extra is one paragraph; own labels are recovered from mixed targets."""

from __future__ import annotations

import glob
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from composer.core import Callback
from PIL import Image

from composer_cutmix.algorithm import is_mixing_algorithm
from composer_cutmix.runner.config import ConfigError, load_config
from composer_cutmix.runner.loggers import build_loggers
from composer_cutmix.runner.preview import draw_batch
from composer_cutmix.runner.train import train

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = str(ROOT / 'yamls' / 'synthetic.yaml')
QUIET = ['loggers.progress_bar=false', 'loggers.console_log_interval=100ep', 'loggers.speed_monitor=false']


class _Seen(Callback):
    """What the model was fed at each batch: the mixed batch and the draw."""

    def __init__(self) -> None:
        self.batches: dict[int, tuple] = {}

    def after_dataloader(self, state, logger) -> None:
        (mixer,) = [a for a in state.algorithms if is_mixing_algorithm(a)]
        X, _ = state.batch
        self.batches[int(state.timestamp.batch)] = (X.clone(), mixer.last_labels.clone(), mixer.last_params)


@pytest.fixture(scope='session')
def run(tmp_path_factory, request):
    """One synthetic run (1 epoch of 4 batches) logging to TensorBoard, a local MLflow store and W&B offline."""
    for module in ('tensorboard', 'mlflow', 'wandb'):
        pytest.importorskip(module)
    tmp = tmp_path_factory.mktemp('loggers')
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    mp.setenv('WANDB_SILENT', 'true')
    mp.setenv('WANDB_DISABLE_GIT', 'true')
    seen = _Seen()
    cfg = load_config(SYNTHETIC, [*QUIET, f'run_folder={tmp}/run', 'max_duration=1ep', 'loggers.tensorboard=true',
                                  f'loggers.mlflow.tracking_uri=file:{tmp}/mlruns', 'loggers.mlflow.experiment_name=tests',
                                  'loggers.wandb.project=cutmix-tests', 'loggers.wandb.mode=offline',
                                  'loggers.log_mixed_images=2ba', 'loggers.mixed_images_n=8'])
    train(cfg, callbacks=[seen], print_table=False)
    lines = [json.loads(x) for x in (tmp / 'run' / 'metrics.jsonl').read_text().splitlines()]
    losses = [x['loss/train/total'] for x in lines if 'loss/train/total' in x]
    accuracy = [x['metrics/eval/MulticlassAccuracy'] for x in lines if 'metrics/eval/MulticlassAccuracy' in x]
    # The pictures the callback should have sent: batches 0 and 2, first 8 images, drawn from the draw that mixed them.
    info = {'classes': tuple(f'class {i}' for i in range(10)), 'mean': (0.5,), 'std': (0.289,)}
    pictures = {b: np.asarray(draw_batch(X[:8], labels, p, info['classes'], info['mean'], info['std']))
                for b, (X, labels, p) in seen.batches.items() if b in (0, 2)}
    return {'tmp': tmp, 'cfg': cfg, 'losses': losses, 'accuracy': accuracy, 'pictures': pictures}


def test_tensorboard_events_hold_the_metrics_and_the_mixed_batch_pictures(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert glob.glob(str(run['tmp'] / 'run' / 'tensorboard' / 'synthetic' / 'events.out.tfevents.*'))
    events = EventAccumulator(str(run['tmp'] / 'run' / 'tensorboard' / 'synthetic'), size_guidance={'images': 0})
    events.Reload()
    loss = events.Scalars('loss/train/total')
    assert [e.step for e in loss] == [0, 1, 2, 3]
    np.testing.assert_allclose([e.value for e in loss], run['losses'], rtol=1e-6)
    assert [e.value for e in events.Scalars('metrics/eval/MulticlassAccuracy')] == pytest.approx(run['accuracy'])
    images = events.Images('mixed_batch')
    assert [e.step for e in images] == [0, 2]
    for e in images:  # pixel for pixel the picture of the batch the model was fed
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert('RGB')),
                              run['pictures'][e.step])


def test_mlflow_file_store_holds_the_metrics_the_config_and_the_pictures(run):
    from mlflow import MlflowClient

    client = MlflowClient(f'file:{run["tmp"]}/mlruns')
    (mlrun,) = client.search_runs([client.get_experiment_by_name('tests').experiment_id])
    assert mlrun.info.status == 'FINISHED' and mlrun.info.run_name == 'synthetic'
    history = client.get_metric_history(mlrun.info.run_id, 'loss/train/total')
    np.testing.assert_allclose([m.value for m in sorted(history, key=lambda m: m.step)], run['losses'], rtol=1e-6)
    params = mlrun.data.params
    assert params['config/train_data.batch_size'] == '16' and params['config/algorithms.cutmix.alpha'] == '1.0'
    assert params['config/loggers.log_mixed_images'] == '2ba'
    pngs = sorted(glob.glob(f'{run["tmp"]}/mlruns/*/{mlrun.info.run_id}/artifacts/images/mixed_batch*.png'))
    assert len(pngs) == 2
    assert {np.asarray(Image.open(p).convert('RGB')).shape for p in pngs} == {run['pictures'][0].shape}


def test_wandb_offline_run_folder_holds_the_metrics_and_the_config(run):
    from wandb.proto import wandb_internal_pb2
    from wandb.sdk.internal import datastore

    (path,) = glob.glob(str(run['tmp'] / 'run' / 'wandb' / 'offline-run-*' / 'run-*.wandb'))
    store = datastore.DataStore()
    store.open_for_scan(path)
    history, config = [], {}
    while (data := store.scan_data()) is not None:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof('record_type')
        if kind == 'history':
            history.append({item.key or '/'.join(item.nested_key): item.value_json for item in record.history.item})
        elif kind == 'config':
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
    losses = [float(h['loss/train/total']) for h in history if 'loss/train/total' in h]
    np.testing.assert_allclose(losses, run['losses'], rtol=1e-6)
    assert config['config/seed'] == 17 and config['config/train_data.name'] == 'synthetic'
    assert len(glob.glob(str(run['tmp'] / 'run' / 'wandb' / 'offline-run-*' / 'files' / 'media' / 'images' /
                             'mixed_batch*.png'))) == 2


@pytest.mark.parametrize('key,override,module', [('tensorboard', 'loggers.tensorboard=true', 'tensorboard'),
                                                 ('mlflow', 'loggers.mlflow.tracking_uri=file:mlruns', 'mlflow'),
                                                 ('wandb', 'loggers.wandb.project=p', 'wandb')])
def test_a_missing_extra_is_one_paragraph_that_says_how_to_install_it(key, override, module, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # as if the package were not installed
    cfg = load_config(SYNTHETIC, [override])
    with pytest.raises(ConfigError) as e:
        build_loggers(cfg.loggers, str(tmp_path))
    message = str(e.value)
    assert message.startswith(f'loggers.{key} needs the {module} package') and '\n' not in message
    assert f"pip install 'composer-cutmix[{key}]'" in message and f".[{key}]'" in message


def test_pictures_need_a_logger_that_shows_them(tmp_path):
    with pytest.raises(ConfigError, match=r'loggers.log_mixed_images=100ba sends pictures to loggers'):
        train(load_config(SYNTHETIC, [*QUIET, f'run_folder={tmp_path}', 'loggers.log_mixed_images=100ba']))
    with pytest.raises(ConfigError, match=r"loggers.log_mixed_images: '3xx' is not a Composer time"):
        load_config(SYNTHETIC, ['loggers.log_mixed_images=3xx'])
