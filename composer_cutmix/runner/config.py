"""Loading a run: YAML + ``key=value`` overrides -> a checked :class:`~composer_cutmix.runner.schema.RunConfig`.

A run is one YAML file whose keys are the fields of :class:`~composer_cutmix.runner.schema.RunConfig`; anything on
the command line of the form ``train_data.batch_size=64`` is merged on top (OmegaConf dotlist syntax). The result
is validated against the schema and against the names the builders know: an unknown key, a value of the wrong
type, or an unknown model, data set, algorithm, optimizer, scheduler or precision raises :class:`ConfigError` with
one paragraph naming the key, the value given and what is accepted.

Example:
    >>> cfg = config_from_dict({'train_data': {'name': 'synthetic'}, 'max_duration': '2ba'})
    >>> cfg.model.name, cfg.train_data.batch_size, cfg.run_folder
    ('cifar_resnet', 128, 'runs/run')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Union

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from composer_cutmix.runner.data import check_dataset_name
from composer_cutmix.runner.errors import ConfigError, DataNotFoundError
from composer_cutmix.runner.models import check_model_name
from composer_cutmix.runner.registry import check_algorithm_names
from composer_cutmix.runner.schema import (
    DEVICES,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULERS,
    DataConfig,
    LoggersConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    SchedulerConfig,
    coerce,
    merge_into,
)

__all__ = [
    'DEVICES',
    'OPTIMIZERS',
    'PRECISIONS',
    'SCHEDULERS',
    'ConfigError',
    'DataConfig',
    'DataNotFoundError',
    'LoggersConfig',
    'ModelConfig',
    'OptimizerConfig',
    'RunConfig',
    'SchedulerConfig',
    'coerce',
    'config_from_dict',
    'load_config',
    'resolve_device',
    'validate',
]

# --------------------------------------------------------------------------------------------------------------
# Checking names and values OmegaConf's types cannot express.
# --------------------------------------------------------------------------------------------------------------


def _one_of(key: str, value: Any, accepted: Sequence[str]) -> None:
    if value not in accepted:
        raise ConfigError(f'{key}: unknown value {value!r}. Accepted: {", ".join(map(str, accepted))}.')


def _time(key: str, value: Any, units: str = 'ep, ba, sp, dur') -> None:
    from composer.core import Time

    try:
        Time.from_timestring(str(value))
    except (ValueError, TypeError):
        raise ConfigError(
            f"{key}: {value!r} is not a Composer time. Write a number and a unit ({units}), e.g. '3ep', '2ba', "
            f"'0.5dur'.",
        ) from None


def _positive(key: str, value: Any, low: int = 1) -> None:
    if value is not None and value < low:
        raise ConfigError(f'{key} must be >= {low}, got {value!r}.')


def validate(cfg: DictConfig) -> DictConfig:
    """Checks the names and values of a typed run config; returns it unchanged.

    Raises:
        ConfigError: naming the first bad key, the value given and what is accepted.
    """

    _one_of('device', cfg.device, DEVICES)
    _one_of('precision', cfg.precision, PRECISIONS)
    _one_of('optimizer.name', cfg.optimizer.name, OPTIMIZERS)
    _one_of('scheduler.name', cfg.scheduler.name, SCHEDULERS)
    check_model_name(cfg.model.name)
    for part in ('train_data', 'eval_data'):
        data = cfg[part]
        if data is None:
            continue
        check_dataset_name(data.name, f'{part}.name')
        if data.name == 'streaming' and not data.remote:
            raise ConfigError(f'{part}.remote: {part}.name=streaming reads MDS shards from remote, and none is set. Set '
                              f'{part}.remote to a folder `composer-cutmix convert CONFIG OUT` wrote (OUT/train or '
                              f'OUT/eval) or to a URL, e.g. {part}.remote=s3://bucket/out/train.')
        _positive(f'{part}.batch_size', data.batch_size)
        _positive(f'{part}.subset', data.subset)
        _positive(f'{part}.num_workers', data.num_workers, 0)
    check_algorithm_names(list(cfg.algorithms.keys()))
    for name, kwargs in cfg.algorithms.items():
        if kwargs is not None and kwargs is not False and not isinstance(kwargs, (Mapping, DictConfig)):
            raise ConfigError(
                f'algorithms.{name}: expected a mapping of keyword arguments (null or {{}} for the defaults, false '
                f'to turn it off), got {kwargs!r}. Example: algorithms: {{cutmix: {{alpha: 1.0}}}}.',
            )
    _time('max_duration', cfg.max_duration)
    _time('eval_interval', cfg.eval_interval)
    _time('save_interval', cfg.save_interval)
    _time('scheduler.t_warmup', cfg.scheduler.t_warmup)
    _time('loggers.console_log_interval', cfg.loggers.console_log_interval, 'ep, ba')
    if cfg.loggers.log_mixed_images is not None:
        _time('loggers.log_mixed_images', cfg.loggers.log_mixed_images, 'ep, ba')
    _positive('loggers.mixed_images_n', cfg.loggers.mixed_images_n)
    if cfg.loggers.wandb is not None and cfg.loggers.wandb.mode not in (None, 'online', 'offline', 'disabled'):
        raise ConfigError(f'loggers.wandb.mode: unknown value {cfg.loggers.wandb.mode!r}. Accepted: online, offline, '
                          f'disabled (or null for W&B\'s default).')
    for i, m in enumerate(cfg.scheduler.milestones):
        _time(f'scheduler.milestones[{i}]', m)
    mb = cfg.device_train_microbatch_size
    if isinstance(mb, str) and mb != 'auto':
        raise ConfigError(f"device_train_microbatch_size must be a positive integer, 'auto' or null, got {mb!r}.")
    if isinstance(mb, int):
        _positive('device_train_microbatch_size', mb)
    if cfg.autoresume and not cfg.save_folder:
        raise ConfigError(
            'autoresume: true needs save_folder: the checkpoints it resumes from. Set save_folder, e.g. '
            "save_folder='${run_folder}/checkpoints', or autoresume=false.",
        )
    if cfg.optimizer.lr <= 0:
        raise ConfigError(f'optimizer.lr must be > 0, got {cfg.optimizer.lr!r}.')
    return cfg


# --------------------------------------------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------------------------------------------


def _finish(cfg: DictConfig, default_name: str) -> DictConfig:
    if cfg.run_name is None:
        cfg.run_name = default_name
    if cfg.run_folder is None:
        cfg.run_folder = os.path.join('runs', cfg.run_name)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as e:
        detail = getattr(e, 'msg', e)
        raise ConfigError(f'config: cannot resolve an interpolation (${{...}}): {detail}') from None
    return validate(cfg)


def config_from_dict(data: Any, overrides: Sequence[str] = (), *, name: str = 'run') -> DictConfig:
    """Builds a checked run config from a mapping (or a :class:`RunConfig`) and ``key=value`` overrides.

    Args:
        data: the run's keys, as in a YAML file.
        overrides: dotted ``key=value`` strings merged on top.
        name: the default ``run_name``.

    Returns:
        DictConfig: typed as :class:`RunConfig`, interpolations resolved.

    Raises:
        ConfigError: see :func:`validate`.
    """
    cfg = coerce(data, RunConfig)
    cfg = _merge_overrides(cfg, overrides)
    return _finish(cfg, name)


def _merge_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    overrides = list(overrides)
    for item in overrides:
        if '=' not in item or item.startswith('='):
            raise ConfigError(
                f'override {item!r} is not of the form key=value. Write dotted keys, e.g. max_duration=2ba or '
                f'train_data.batch_size=64.',
            )
    try:
        dot = OmegaConf.from_dotlist(overrides)
    except OmegaConfBaseException as e:
        raise ConfigError(
            f'cannot parse the overrides {overrides}: {e}. Write dotted keys, e.g. max_duration=2ba.',
        ) from None
    try:
        return merge_into(cfg, dot, '', RunConfig)
    except ConfigError as e:
        raise ConfigError(f'{e} (from the command-line overrides)') from None


def load_config(path: Union[str, os.PathLike], overrides: Sequence[str] = ()) -> DictConfig:
    """Loads a run's YAML file, merges ``key=value`` overrides and validates the result.

    Args:
        path: the YAML file. Its stem is the default ``run_name``.
        overrides: dotted ``key=value`` strings (OmegaConf dotlist), e.g. ``['max_duration=2ba']``.

    Returns:
        DictConfig: typed as :class:`RunConfig`, with ``run_name`` and ``run_folder`` filled in and
        interpolations such as ``${run_folder}`` resolved.

    Raises:
        ConfigError: the file is missing or not YAML, or a key, type or name is wrong.

    Example:
        >>> cfg = load_config('yamls/synthetic.yaml', ['max_duration=2ba', 'train_data.batch_size=8'])
        >>> cfg.max_duration, cfg.train_data.batch_size, cfg.run_folder
        ('2ba', 8, 'runs/synthetic')
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(
            f'config file {path!r} not found. Pass the path of a YAML file, e.g. yamls/fashion_mnist.yaml.',
        )
    try:
        raw = OmegaConf.load(path)
    except Exception as e:  # yaml's ScannerError/ParserError and OmegaConf's errors alike
        raise ConfigError(f'cannot read {path!r} as YAML: {e}'.replace('\n', ' ')) from None
    if not isinstance(raw, DictConfig):
        raise ConfigError(
            f'{path!r} must hold a mapping of keys (model:, train_data:, ...), got a {type(raw).__name__}.',
        )
    stem = os.path.splitext(os.path.basename(path))[0]
    return config_from_dict(raw, overrides, name=stem)


def resolve_device(device: str) -> str:
    """``'auto'`` -> ``'gpu'`` when CUDA is available, else ``'cpu'``; other values pass through."""
    if device == 'auto':
        import torch

        return 'gpu' if torch.cuda.is_available() else 'cpu'
    return device
