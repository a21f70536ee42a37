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
from typing import Any, Callable, Union

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
    'check_algorithms',
    'check_data',
    'check_loggers',
    'check_model',
    'check_optimizer',
    'check_scheduler',
    'checked',
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


def _interval(key: str, value: Any) -> None:
    """A positive number of epochs or batches, what the console logger and the image callback count in."""
    from composer.core import Time, TimeUnit

    _time(key, value, 'ep, ba')
    t = Time.from_timestring(str(value))
    if t.unit not in (TimeUnit.EPOCH, TimeUnit.BATCH) or t.value < 1:
        raise ConfigError(f"{key} must be a positive number of epochs or batches ('1ep', '100ba'), got {value!r}.")


def check_model(m: Any, key: str = 'model') -> None:
    """The checks of a ``model`` section that its types cannot express."""
    check_model_name(m.name)
    _positive(f'{key}.num_classes', m.num_classes)
    _positive(f'{key}.in_channels', m.in_channels)
    if m.name == 'cifar_resnet':
        _positive(f'{key}.width', m.width)
        if m.depth < 8 or (m.depth - 2) % 6:
            near = max(8, m.depth - (m.depth - 2) % 6)
            raise ConfigError(f'{key}.depth: cifar_resnet depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110...), got '
                              f'{m.depth}; the nearest valid depths are {near} and {near + 6}.')
        if m.kwargs:
            raise ConfigError(f'{key}.kwargs: cifar_resnet takes no extra arguments, got {dict(m.kwargs)}. Set '
                              f'{key}.depth, {key}.width and {key}.in_channels instead.')


def check_data(data: Any, key: str) -> None:
    """The checks of a ``train_data``/``eval_data`` section that its types cannot express."""
    check_dataset_name(data.name, f'{key}.name')
    if data.name == 'streaming':
        if not data.remote:
            raise ConfigError(f'{key}.remote: {key}.name=streaming reads MDS shards from remote, and none is set. Set '
                              f'{key}.remote to a folder `composer-cutmix convert CONFIG OUT` wrote (OUT/train or '
                              f'OUT/eval) or to a URL, e.g. {key}.remote=s3://bucket/out/train.')
        if data.subset is not None:
            raise ConfigError(f'{key}.subset is not supported with streaming (shards are read whole). Convert a '
                              f'subset instead (composer-cutmix convert CONFIG OUT {key}.subset=N), or set '
                              f'{key}.subset=null.')
    if data.name == 'imagefolder' and not data.root:
        raise DataNotFoundError(f'{key}.root: imagefolder needs a root, e.g. {key}.root=/data/imagenet (with train/ '
                                f'and val/ folders of class subfolders).')
    if data.name == 'synthetic':
        for k in ('num_samples', 'image_size', 'channels', 'num_classes'):
            if data[k] < 1:
                raise ConfigError(f'{key}.{k}: synthetic data: {k} must be >= 1, got {data[k]!r}.')
    _positive(f'{key}.batch_size', data.batch_size)
    _positive(f'{key}.subset', data.subset)
    _positive(f'{key}.num_workers', data.num_workers, 0)


def check_algorithms(algorithms: Any, key: str = 'algorithms') -> None:
    """The names of an ``algorithms`` section, and that each holds keyword arguments (or null, or false)."""
    check_algorithm_names(list(algorithms.keys()))
    for name, kwargs in algorithms.items():
        if kwargs is not None and kwargs is not False and not isinstance(kwargs, (Mapping, DictConfig)):
            raise ConfigError(
                f'{key}.{name}: expected a mapping of keyword arguments (null or {{}} for the defaults, false '
                f'to turn it off), got {kwargs!r}. Example: algorithms: {{cutmix: {{alpha: 1.0}}}}.',
            )


def check_optimizer(o: Any, key: str = 'optimizer') -> None:
    """The checks of an ``optimizer`` section that its types cannot express."""
    _one_of(f'{key}.name', o.name, OPTIMIZERS)
    if o.lr <= 0:
        raise ConfigError(f'{key}.lr must be > 0, got {o.lr!r}.')
    if o.name == 'sgd' and o.nesterov and o.momentum <= 0:
        raise ConfigError(f'{key}: nesterov=true needs momentum > 0, got momentum={o.momentum}. '
                          f'Set {key}.momentum=0.9 or {key}.nesterov=false.')
    if o.name == 'adamw' and len(o.betas) != 2:
        raise ConfigError(f'{key}.betas must be two numbers [beta1, beta2], got {list(o.betas)}.')


def check_scheduler(s: Any, key: str = 'scheduler') -> None:
    """The checks of a ``scheduler`` section that its types cannot express."""
    _one_of(f'{key}.name', s.name, SCHEDULERS)
    _time(f'{key}.t_warmup', s.t_warmup)
    for i, m in enumerate(s.milestones):
        _time(f'{key}.milestones[{i}]', m)
    if s.name == 'multistep' and not s.milestones:
        raise ConfigError(f"{key}.milestones: multistep needs at least one milestone, e.g. ['150ep', '225ep'].")


def check_loggers(lg: Any, key: str = 'loggers') -> None:
    """The checks of a ``loggers`` section that its types cannot express."""
    _interval(f'{key}.console_log_interval', lg.console_log_interval)
    if lg.log_mixed_images is not None:
        _interval(f'{key}.log_mixed_images', lg.log_mixed_images)
        if not (lg.tensorboard or lg.mlflow is not None or lg.wandb is not None):
            raise ConfigError(
                f'{key}.log_mixed_images={lg.log_mixed_images} sends pictures to loggers that show images, and none '
                f'is on. Turn one on ({key}.tensorboard=true, {key}.mlflow.tracking_uri=..., or '
                f'{key}.wandb.project=...), or use `composer-cutmix preview` for a PNG.',
            )
    _positive(f'{key}.mixed_images_n', lg.mixed_images_n)
    if lg.wandb is not None and lg.wandb.mode not in (None, 'online', 'offline', 'disabled'):
        raise ConfigError(f'{key}.wandb.mode: unknown value {lg.wandb.mode!r}. Accepted: online, offline, '
                          f'disabled (or null for W&B\'s default).')


_SECTION_CHECKS: dict[type, Callable[[Any, str], None]] = {
    ModelConfig: check_model,
    DataConfig: check_data,
    OptimizerConfig: check_optimizer,
    SchedulerConfig: check_scheduler,
    LoggersConfig: check_loggers,
}


def validate(cfg: DictConfig) -> DictConfig:
    """Checks the names and values of a typed run config; returns it unchanged.

    This (with the types of :mod:`~composer_cutmix.runner.schema`) is the runner's one validator: the builders
    trust a section of a run config that went through it (see :func:`checked`).

    Raises:
        ConfigError: naming the first bad key, the value given and what is accepted.
    """
    _one_of('device', cfg.device, DEVICES)
    _one_of('precision', cfg.precision, PRECISIONS)
    check_optimizer(cfg.optimizer)
    check_scheduler(cfg.scheduler)
    check_model(cfg.model)
    for part in ('train_data', 'eval_data'):
        if cfg[part] is not None:
            check_data(cfg[part], part)
    check_algorithms(cfg.algorithms)
    check_loggers(cfg.loggers)
    _time('max_duration', cfg.max_duration)
    _time('eval_interval', cfg.eval_interval)
    _time('save_interval', cfg.save_interval)
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
    return cfg


def checked(cfg: Any, schema: type, key: str) -> Any:
    """What a builder takes: a section of a run config, typed and checked once.

    A DictConfig typed by ``schema`` (for ``algorithms``: any DictConfig) is taken to come from :func:`load_config`
    or :func:`config_from_dict`, which validated the whole run, and is returned as it is; anything else (a mapping,
    a dataclass) is typed with
    :func:`~composer_cutmix.runner.schema.coerce` and given the same checks :func:`validate` gives that section.

    Args:
        cfg: the section.
        schema: its dataclass (:class:`DataConfig`, :class:`ModelConfig`...), or ``dict`` for ``algorithms``.
        key: its key in the run (``train_data``, ``model``...), for messages.

    Returns:
        A DictConfig typed by ``schema``; for ``algorithms``, the mapping as given.

    Raises:
        ConfigError: see :func:`validate`.
    """
    if isinstance(cfg, DictConfig) and (schema is dict or OmegaConf.get_type(cfg) is schema):
        return cfg
    if schema is dict:  # algorithms: kwargs may hold any Python value, so the mapping is checked as it is
        check_algorithms(cfg, key)
        return cfg
    out = coerce(cfg, schema, key)
    _SECTION_CHECKS[schema](out, key)
    return out


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
