"""``train(cfg)``: a YAML run, wired from the builders into :class:`composer.Trainer`.

Each builder makes one kind of object (:func:`~composer_cutmix.runner.models.build_model`,
:func:`~composer_cutmix.runner.data.build_dataloader`, :func:`~composer_cutmix.runner.registry.build_algorithms`,
:func:`~composer_cutmix.runner.optim.build_optimizer`, :func:`~composer_cutmix.runner.optim.build_scheduler`,
:func:`~composer_cutmix.runner.loggers.build_loggers`); this module only connects them, writes the resolved config to
``{run_folder}/config.yaml``, and prints the final table of train and eval metrics.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from composer import Trainer
from composer.callbacks import SpeedMonitor
from composer.core import Callback
from composer.utils import dist, reproducibility
from omegaconf import DictConfig, OmegaConf

from composer_cutmix.mixing import MixingError
from composer_cutmix.runner.config import ConfigError, RunConfig, config_from_dict, resolve_device
from composer_cutmix.runner.data import DatasetInfo, build_dataloader
from composer_cutmix.runner.errors import RunError
from composer_cutmix.runner.loggers import (
    JSONLinesLogger,
    build_loggers,
    build_logging_callbacks,
    format_metrics_table,
    summarize_metrics,
)
from composer_cutmix.runner.models import build_model
from composer_cutmix.runner.optim import build_optimizer, build_scheduler
from composer_cutmix.runner.registry import build_algorithms

__all__ = ['build_trainer', 'train']

log = logging.getLogger(__name__)


def _as_config(cfg: Any) -> DictConfig:
    if isinstance(cfg, DictConfig) and OmegaConf.get_type(cfg) is RunConfig:
        return cfg
    if isinstance(cfg, (Mapping, DictConfig, RunConfig)):
        return config_from_dict(cfg)
    raise ConfigError(
        f'train() takes a run config (from load_config, a dict or a RunConfig), got {type(cfg).__name__}.',
    )


def _check_data_fits_model(cfg: DictConfig, info: DatasetInfo) -> None:
    if info.channels != cfg.model.in_channels:
        raise ConfigError(
            f'model.in_channels is {cfg.model.in_channels} but {cfg.train_data.name} images have {info.channels} '
            f'channel(s). Set model.in_channels={info.channels}.',
        )
    if len(info.classes) > cfg.model.num_classes:
        raise ConfigError(
            f'model.num_classes is {cfg.model.num_classes} but {cfg.train_data.name} has {len(info.classes)} classes. '
            f'Set model.num_classes={len(info.classes)}.',
        )


def _autoresume_checkpoint(cfg: DictConfig) -> Any:
    """The checkpoint Composer's autoresume will load (``save_folder/latest-rank{rank}.pt``), or None."""
    if not cfg.autoresume or not cfg.save_folder:
        return None
    path = os.path.join(cfg.save_folder, f'latest-rank{dist.get_global_rank()}.pt')
    return path if os.path.exists(path) else None


_CHECKPOINT_NAME = re.compile(r'ep(\d+)-ba(\d+)-rank(\d+)\.pt')


def _restore_latest_link(cfg: DictConfig) -> None:
    """Points a missing ``latest-rank{rank}.pt`` back at the newest checkpoint of this rank that loads.

    Composer moves the link after each save by removing it and making it anew; a run killed between the two leaves
    no link, and autoresume would then start from scratch and overwrite the run's checkpoints. A checkpoint cut
    short by the kill does not load and is passed over.
    """
    folder, rank = cfg.save_folder, dist.get_global_rank()
    if not cfg.autoresume or not folder or '://' in folder or not os.path.isdir(folder):
        return
    link = os.path.join(folder, f'latest-rank{rank}.pt')
    if os.path.lexists(link):
        return
    found = [(int(m[2]), name) for name in os.listdir(folder)
             if (m := _CHECKPOINT_NAME.fullmatch(name)) and int(m[3]) == rank]
    for _, name in sorted(found, reverse=True):
        try:
            torch.load(os.path.join(folder, name), map_location='cpu', weights_only=False, mmap=True)
        except Exception:  # noqa: BLE001 - any unreadable file is one the kill cut short
            log.warning('autoresume: %s cannot be read (cut short when the run was killed?); trying an older one.',
                        name)
            continue
        os.symlink(name, link)
        log.warning('autoresume: %s was missing (the run was killed while Composer moved it); resuming from %s.',
                    os.path.basename(link), name)
        return


def _is_checkpoint_problem(e: BaseException) -> bool:
    if isinstance(e, (EOFError, pickle.UnpicklingError)):
        return True
    text = str(e)
    return any(s in text for s in ('Error(s) in loading state_dict', 'size mismatch', 'Missing key', 'Unexpected key',
                                   'parameter group', 'failed reading zip archive', 'invalid load key'))


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return ' '.join(lines[:2])[:300] if lines else type(e).__name__


def _device_and_precision(cfg: DictConfig) -> tuple[str, str]:
    device = resolve_device(cfg.device)
    if device == 'gpu':
        if not torch.cuda.is_available():
            raise ConfigError('device=gpu but no CUDA device is available here. Use device=auto (gpu when there is '
                              'one, else cpu) or device=cpu.')
    precision = cfg.precision
    if device == 'cpu' and precision != 'fp32':
        if cfg.device != 'auto':
            raise ConfigError(f'precision={precision} needs a GPU; with device=cpu use precision=fp32.')
        log.warning('precision=%s needs a GPU and none is available: training in fp32 on the CPU.', precision)
        precision = 'fp32'
    return device, precision


def build_trainer(cfg: Any, *, callbacks: Sequence[Callback] = ()) -> tuple[Trainer, JSONLinesLogger]:
    """Builds the :class:`composer.Trainer` of a run without training.

    Args:
        cfg: a run config (:func:`~composer_cutmix.runner.config.load_config`'s result, a mapping, or a RunConfig).
        callbacks: extra Composer callbacks.

    Returns:
        ``(trainer, metrics)``: ``metrics.latest`` holds the last value of every logged metric.

    Raises:
        ConfigError, DataNotFoundError: a bad config or missing data, before anything is trained.
    """
    cfg = _as_config(cfg)
    device, precision = _device_and_precision(cfg)
    reproducibility.seed_all(cfg.seed)  # the model's initialisation, before the Trainer seeds the rest
    if dist.get_world_size() > 1:  # streaming data sets coordinate the ranks at construction (the Trainer reuses it)
        dist.initialize_dist(device)
    cache = os.path.join(cfg.run_folder, 'streaming')  # default caches of streaming data sets read from URLs
    train_dl = build_dataloader(cfg.train_data, train=True, seed=cfg.seed, local_root=cache)
    _check_data_fits_model(cfg, train_dl.dataset.info)
    eval_dl = (build_dataloader(cfg.eval_data, train=False, seed=cfg.seed, local_root=cache)
               if cfg.eval_data is not None else None)
    model = build_model(cfg.model)
    algorithms = build_algorithms(cfg.algorithms)  # our mixers take num_classes from the model at INIT
    optimizer = build_optimizer(cfg.optimizer, model)
    scheduler = build_scheduler(cfg.scheduler)

    _restore_latest_link(cfg)
    autoresume_from = _autoresume_checkpoint(cfg)
    resuming = (cfg.load_path is not None and not cfg.load_weights_only) or autoresume_from is not None
    destinations, console = build_loggers(cfg.loggers, cfg.run_folder, append=resuming)
    metrics = next((d for d in destinations if isinstance(d, JSONLinesLogger)), None)
    if metrics is None:  # keep the final values for the table even without metrics.jsonl
        metrics = JSONLinesLogger(None)
        destinations.append(metrics)
    extra = [SpeedMonitor(window_size=50)] if cfg.loggers.speed_monitor else []
    extra += build_logging_callbacks(cfg.loggers, cfg, train_dl.dataset.info)

    if cfg.load_path is not None and not os.path.exists(cfg.load_path) and '://' not in cfg.load_path:
        raise ConfigError(f'load_path: no checkpoint at {cfg.load_path!r}. Point it at a .pt file that a run saved '
                          f'(e.g. runs/<run_name>/checkpoints/latest-rank0.pt).')
    if dist.get_global_rank() == 0:
        os.makedirs(cfg.run_folder, exist_ok=True)
        OmegaConf.save(cfg, os.path.join(cfg.run_folder, 'config.yaml'), resolve=True)

    kwargs = dict(
        model=model,
        train_dataloader=train_dl,
        eval_dataloader=eval_dl,
        max_duration=cfg.max_duration,
        eval_interval=cfg.eval_interval if eval_dl is not None else 1,
        optimizers=optimizer,
        schedulers=scheduler,
        algorithms=algorithms,
        loggers=destinations,
        callbacks=[*extra, *callbacks],
        run_name=cfg.run_name,
        seed=cfg.seed,
        device=device,
        precision=precision,
        device_train_microbatch_size=cfg.device_train_microbatch_size,
        save_folder=cfg.save_folder,
        save_interval=cfg.save_interval,
        save_num_checkpoints_to_keep=cfg.save_num_checkpoints_to_keep,
        # Autoresume continues from the latest complete checkpoint: what the interrupted attempt wrote after it
        # (a checkpoint cut short by the kill) is overwritten when the resumed run reaches that batch.
        save_overwrite=cfg.save_overwrite or cfg.autoresume,
        load_path=cfg.load_path,
        load_weights_only=cfg.load_weights_only,
        load_progress_bar=False,
        autoresume=cfg.autoresume,
        **console,
    )
    try:
        trainer = Trainer(**kwargs)
    except MixingError as e:  # refused at Event.INIT: num_classes, two mixers, a loss that takes no dense targets
        raise ConfigError(f'algorithms: {e}') from e
    except (RuntimeError, KeyError, EOFError, pickle.UnpicklingError) as e:
        checkpoint = kwargs['load_path'] or _autoresume_checkpoint(cfg)
        if checkpoint is None or not _is_checkpoint_problem(e):
            raise
        raise RunError(
            f'the checkpoint {checkpoint!r} does not fit this config or cannot be read ({_first_line(e)}). Resume with '
            f'the config that '
            f'saved it ({os.path.join(cfg.run_folder, "config.yaml")}), or set load_weights_only=true to take only '
            f'matching weights, or point load_path/save_folder elsewhere.',
        ) from e
    if resuming and dist.get_global_rank() == 0:
        ts = trainer.state.timestamp
        source = os.path.realpath(autoresume_from) if autoresume_from is not None else cfg.load_path
        how = 'autoresume: resumed' if autoresume_from is not None else 'resumed'
        print(f'{how} {cfg.run_name} from {source} (epoch {int(ts.epoch)}, batch {int(ts.batch)})', flush=True)
    return trainer, metrics


def train(cfg: Any, *, callbacks: Sequence[Callback] = (), print_table: bool = True) -> dict[str, float]:
    """Runs a YAML-configured training run and returns its final metrics.

    Writes ``{run_folder}/config.yaml`` (the resolved config) and ``{run_folder}/metrics.jsonl``; saves
    checkpoints to ``save_folder`` every ``save_interval`` when set, and resumes from ``load_path`` when set.
    On global rank 0 it prints a table of the last train and eval metrics.

    Args:
        cfg: a run config (:func:`~composer_cutmix.runner.config.load_config`'s result, a mapping, or a RunConfig).
        callbacks: extra Composer callbacks.
        print_table: print the final table (rank 0 only).

    Returns:
        dict: ``train/loss`` and ``train/<Metric>`` (means over the last epoch's batches; with CutMix, accuracy
        against each sample's dominant label), ``eval/<Metric>`` (the last evaluation, e.g.
        ``eval/MulticlassAccuracy``) and ``fit_time_s``.

    Raises:
        ConfigError, DataNotFoundError: a bad config or missing data, before anything is trained.
        RunError: a user error found while training (a label outside ``num_classes``), with the batch it was in.

    Example:
        >>> from composer_cutmix.runner.config import load_config
        >>> cfg = load_config('yamls/synthetic.yaml', ['max_duration=2ba', 'loggers.progress_bar=true'])
        >>> 'eval/MulticlassAccuracy' in train(cfg, print_table=False)
        True
    """
    cfg = _as_config(cfg)
    trainer, metrics = build_trainer(cfg, callbacks=callbacks)
    start = time.perf_counter()
    try:
        trainer.fit()
    except MixingError as e:  # e.g. a label outside num_classes, found when its batch came up
        raise RunError(f'training stopped at batch {int(trainer.state.timestamp.batch)} '
                       f'(epoch {int(trainer.state.timestamp.epoch)}): {e}') from e
    finally:
        trainer.close()
    summary = summarize_metrics(metrics.latest, metrics.train_means)
    fit_time = time.perf_counter() - start
    if print_table and dist.get_global_rank() == 0:
        title = f'final metrics of {cfg.run_name} ({trainer.state.timestamp.epoch.value} epochs, ' \
                f'{trainer.state.timestamp.batch.value} batches, {fit_time:.1f} s) -> {cfg.run_folder}'
        print(format_metrics_table(summary, title=title), flush=True)
    return {**summary, 'fit_time_s': fit_time}
