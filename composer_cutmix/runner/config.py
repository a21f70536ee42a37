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
from collections.abc import Sequence
from typing import Any, Union

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from composer_cutmix.runner import schema
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
# Validating, with the names the builders own.
# --------------------------------------------------------------------------------------------------------------


def validate(cfg: DictConfig) -> DictConfig:
    """Checks the names and values of a typed run config (:func:`composer_cutmix.runner.schema.validate`, given
    the builders' name checks); returns it unchanged.

    Raises:
        ConfigError: naming the first bad key, the value given and what is accepted.
    """
    return schema.validate(cfg, check_model_name=check_model_name, check_dataset_name=check_dataset_name,
                           check_algorithm_names=check_algorithm_names)


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
    """Loads a run's YAML file (or a built-in recipe), merges ``key=value`` overrides and validates the result.

    Args:
        path: the YAML file, or the name of a built-in recipe (``fashion_mnist``: ``yamls/fashion_mnist.yaml``
            as installed with the package, see :mod:`~composer_cutmix.runner.recipes`); a file of that name in the
            working folder wins. Its stem is the default ``run_name``.
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
        >>> load_config('synthetic').train_data.name  # the built-in recipe of that name
        'synthetic'
    """
    from composer_cutmix.runner.recipes import find_recipe, recipe_names

    path = os.fspath(path)
    recipe = None if os.path.isfile(path) else find_recipe(path)
    if recipe is None and not os.path.isfile(path):
        raise ConfigError(
            f'config file {path!r} not found. Pass the path of a YAML file, e.g. yamls/fashion_mnist.yaml, or the '
            f'name of a built-in recipe ({", ".join(recipe_names()) or "none installed"}; composer-cutmix recipes '
            f'lists them).',
        )
    try:
        raw = OmegaConf.create(recipe.read_text(encoding='utf-8')) if recipe is not None else OmegaConf.load(path)
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
