"""The YAML runner on top of the plugin: schema, builders, registry, CLI, preview, loggers, and MDS shards.

``composer-cutmix train CONFIG.yaml [key=value ...]`` (:mod:`~composer_cutmix.runner.cli`) loads a run with
:func:`~composer_cutmix.runner.config.load_config`, and :func:`~composer_cutmix.runner.train.train` wires the
builders (one per kind of object: model, data, algorithms, optimizer, scheduler, loggers) into a Composer
``Trainer``. The arrows run one way: the runner imports the plugin (:mod:`composer_cutmix`), never the reverse.
"""

from __future__ import annotations

from composer_cutmix.runner.config import config_from_dict, load_config
from composer_cutmix.runner.errors import ConfigError, DataNotFoundError
from composer_cutmix.runner.models import cifar_resnet
from composer_cutmix.runner.preview import preview_batch
from composer_cutmix.runner.train import build_trainer, train

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
