"""Name -> class registry for the ``algorithms:`` section of a run, and :func:`build_algorithms`.

Built in: this package's mixers, ``cutmix`` (:class:`~composer_cutmix.algorithm.CutMix`), ``mixup``
(:class:`~composer_cutmix.algorithm.MixUp`), ``mixup_cutmix`` (:class:`~composer_cutmix.algorithm.MixUpCutMix`),
``resizemix`` (:class:`~composer_cutmix.algorithm.ResizeMix`), ``fmix`` (:class:`~composer_cutmix.algorithm.FMix`)
and ``random_mix`` (:class:`~composer_cutmix.algorithm.RandomMix`, its ``ops`` a mapping of those names to their
arguments, built in the order written);
Composer's own mixers under ``composer_cutmix`` and ``composer_mixup`` (``composer.algorithms.CutMix``/``MixUp``);
and the Composer algorithms people combine with them. Other packages add names through the entry-point group
``composer_cutmix.algorithms`` (``name = package.module:Class``); a built-in name wins over an entry point of the
same name.

Example:
    >>> algos = build_algorithms({'cutmix': {'alpha': 1.0}, 'label_smoothing': {'smoothing': 0.1}})
    >>> [type(a).__name__ for a in algos]
    ['CutMix', 'LabelSmoothing']
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Callable, Optional

from composer.core import Algorithm

from composer_cutmix.runner.errors import ConfigError

__all__ = [
    'ENTRY_POINT_GROUP',
    'algorithm_names',
    'build_algorithms',
    'check_algorithm_names',
    'get_algorithm',
    'register_algorithm',
]

ENTRY_POINT_GROUP = 'composer_cutmix.algorithms'

# name -> 'module:attribute', imported on first use.
_BUILTINS: dict[str, str] = {
    'cutmix': 'composer_cutmix.algorithm:CutMix',
    'mixup': 'composer_cutmix.algorithm:MixUp',
    'mixup_cutmix': 'composer_cutmix.algorithm:MixUpCutMix',
    'resizemix': 'composer_cutmix.algorithm:ResizeMix',
    'fmix': 'composer_cutmix.algorithm:FMix',
    'random_mix': 'composer_cutmix.algorithm:RandomMix',
    'composer_cutmix': 'composer.algorithms:CutMix',
    'composer_mixup': 'composer.algorithms:MixUp',
    'label_smoothing': 'composer.algorithms:LabelSmoothing',
    'channels_last': 'composer.algorithms:ChannelsLast',
    'blurpool': 'composer.algorithms:BlurPool',
    'ema': 'composer.algorithms:EMA',
    'progressive_resizing': 'composer.algorithms:ProgressiveResizing',
    'cutout': 'composer.algorithms:CutOut',
    'gradient_clipping': 'composer.algorithms:GradientClipping',
}
_REGISTERED: dict[str, Callable[..., Algorithm]] = {}


def register_algorithm(name: str, factory: Callable[..., Algorithm]) -> None:
    """Adds ``name`` -> ``factory`` (an Algorithm class or a function returning one) for this process."""
    if not isinstance(name, str) or not name:
        raise ValueError(f'an algorithm name must be a non-empty string, got {name!r}.')
    _REGISTERED[name] = factory


def _entry_points() -> dict[str, Any]:
    try:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python 3.9: entry_points() takes no arguments and returns a dict of groups
        eps = entry_points().get(ENTRY_POINT_GROUP, [])
    return {ep.name: ep for ep in eps}


def algorithm_names() -> list[str]:
    """Every accepted name: built-ins, those registered in this process, and entry points."""
    return sorted(set(_BUILTINS) | set(_REGISTERED) | set(_entry_points()))


def _unknown(name: str, known: Sequence[str]) -> ConfigError:
    return ConfigError(
        f'algorithms: unknown algorithm {name!r}. Accepted: {", ".join(known)}. Other packages can add '
        f"names through the '{ENTRY_POINT_GROUP}' entry-point group.",
    )


def check_algorithm_names(names: Sequence[str]) -> None:
    """Raises :class:`ConfigError` for the first name that is not registered."""
    known = algorithm_names()
    for name in names:
        if name not in known:
            raise _unknown(name, known)


def get_algorithm(name: str) -> Callable[..., Algorithm]:
    """The class (or factory) registered under ``name``.

    Raises:
        ConfigError: no algorithm has that name.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTINS:
        module, attr = _BUILTINS[name].split(':')
        return getattr(importlib.import_module(module), attr)
    found = _entry_points().get(name)
    if found is None:
        raise _unknown(name, algorithm_names())
    return found.load()


def _accepts(factory: Callable, param: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return param in params


def _instantiate(name: str, factory: Callable[..., Algorithm], kwargs: dict[str, Any]) -> Algorithm:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        try:
            sig.bind(**kwargs)
        except TypeError as e:
            accepted = [p for p in sig.parameters if p not in ('self', 'args', 'kwargs')]
            unknown = [k for k in kwargs if k not in sig.parameters]
            what = f'unknown argument {unknown[0]!r}' if unknown else str(e)
            raise ConfigError(
                f'algorithms.{name}: {what} for {getattr(factory, "__name__", factory)}. '
                f'Accepted arguments: {", ".join(accepted) or "none"}.',
            ) from None
    try:
        return factory(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f'algorithms.{name}: {e}') from None


def build_algorithms(cfg: Optional[Mapping[str, Any]], *, num_classes: Optional[int] = None) -> list[Algorithm]:
    """Builds the algorithms of a run's ``algorithms:`` section, in the order written.

    Args:
        cfg: ``name -> kwargs`` (a mapping, ``None`` or ``{}`` for the defaults, ``False`` to leave it out),
            e.g. ``{'cutmix': {'alpha': 1.0}, 'channels_last': None}`` or ``{'random_mix': {'ops': {'mixup': {},
            'cutmix': {}}, 'probs': [0.5, 0.5]}}``: a run config's ``algorithms`` (trusted:
            checked when the run was loaded), or a plain mapping (its names and shape checked here).
        num_classes: passed as ``num_classes`` to algorithms that take it and were not given one. Leave it
            ``None`` to let this package's mixers take it from the model at ``Event.INIT``.

    Returns:
        list[Algorithm]: ready for ``Trainer(algorithms=...)``.

    Raises:
        ConfigError: for an unknown name, an unknown or missing keyword argument, or a value the algorithm
            rejects, naming the algorithm and the argument.
    """
    if not cfg:
        return []
    from omegaconf import DictConfig, OmegaConf

    from composer_cutmix.runner.schema import checked

    cfg = checked(cfg, dict, 'algorithms', check_names=check_algorithm_names)
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    algorithms = []
    for name, kwargs in cfg.items():
        if kwargs is False:  # turned off, e.g. algorithms.cutmix=false on the command line
            continue
        kwargs = dict(kwargs or {})
        if name == 'random_mix':  # its ops, {name: kwargs} in the order of probs, become the mixers it picks among
            kwargs['ops'] = [_instantiate(f'random_mix.ops.{op}', get_algorithm(op), dict(op_kwargs or {}))
                             for op, op_kwargs in kwargs.get('ops', {}).items() if op_kwargs is not False]
        factory = get_algorithm(name)
        if num_classes is not None and 'num_classes' not in kwargs and _accepts(factory, 'num_classes'):
            kwargs['num_classes'] = num_classes
        algorithms.append(_instantiate(name, factory, kwargs))
    return algorithms
