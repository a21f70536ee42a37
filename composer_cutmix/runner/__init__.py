"""The YAML runner on top of the plugin: schema, builders, registry, CLI, preview, loggers, and MDS shards.

``composer-cutmix train CONFIG.yaml [key=value ...]`` (:mod:`~composer_cutmix.runner.cli`) loads a run with
:func:`~composer_cutmix.runner.config.load_config`, and :func:`~composer_cutmix.runner.train.train` wires the
builders (one per kind of object: model, data, algorithms, optimizer, scheduler, loggers) into a Composer
``Trainer``. The arrows run one way: the runner imports the plugin (:mod:`composer_cutmix`), never the reverse.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from composer_cutmix.runner.config import config_from_dict, load_config
    from composer_cutmix.runner.errors import ConfigError, DataNotFoundError
    from composer_cutmix.runner.models import cifar_resnet
    from composer_cutmix.runner.preview import preview_batch
    from composer_cutmix.runner.train import build_trainer, train

# Each name is imported from its module when first used: `composer-cutmix --version`, `--help` and `recipes` answer
# without importing Composer (15 s of CPU here).
_HOME = {'ConfigError': 'errors', 'DataNotFoundError': 'errors', 'build_trainer': 'train', 'cifar_resnet': 'models',
         'config_from_dict': 'config', 'load_config': 'config', 'preview_batch': 'preview', 'train': 'train'}

__all__ = [
    'ConfigError',
    'DataNotFoundError',
    'build_trainer',
    'cifar_resnet',
    'config_from_dict',
    'load_config',
    'preview_batch',
    'train',
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'{__name__}.{_HOME[name]}'), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


class _Runner(types.ModuleType):
    """This package: importing its module ``train`` does not hide its function ``train``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == 'train' and isinstance(value, types.ModuleType):
            return  # the import system names a loaded submodule on its package; here the function keeps the name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Runner
