"""CutMix (Yun et al., ICCV 2019) and its mixing family for MosaicML Composer.

The plugin is four modules and needs only torch, Composer and torchmetrics:

* :mod:`composer_cutmix.functional`: the mixing functions (draw the parameters, then apply them);
* :mod:`composer_cutmix.algorithm`: the Composer algorithms, thin routers from events to the functions;
* :mod:`composer_cutmix.loss`: the dense-target cross-entropy the algorithms attach at ``Event.INIT``;
* :mod:`composer_cutmix.metrics`: training metrics scored against each sample's dominant label.

The YAML runner (schema, builders, registry, CLI, preview, loggers) lives in :mod:`composer_cutmix.runner`, on top
of the plugin; ``import composer_cutmix`` loads none of it. Its public names (``load_config``, ``train``,
``preview_batch``...) are still reachable from here and load the runner on first use, and the runner's modules
keep their former paths (``composer_cutmix.config`` is ``composer_cutmix.runner.config``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from typing import Any

__version__ = '0.2.0'

from composer_cutmix.algorithm import CutMix, MixingAlgorithm, MixUp, MixUpCutMix
from composer_cutmix.functional import (
    CutMixElemParams,
    CutMixParams,
    MixingError,
    MixUpCutMixElemParams,
    MixUpElemParams,
    MixUpParams,
    apply_cutmix,
    apply_cutmix_elem,
    apply_mixup,
    apply_params,
    cutmix_batch,
    mix_targets,
    mixup_batch,
    sample_mixup_params,
    sample_mixup_params_elem,
    sample_params,
    sample_params_elem,
    sample_switch_params,
    sample_switch_params_elem,
)
from composer_cutmix.loss import (
    DenseCrossEntropyLoss,
    LossIncompatibleError,
    attach_dense_loss,
    dense_cross_entropy,
)
from composer_cutmix.metrics import dominant_label, score_against_dominant_label

__all__ = [
    'ConfigError',
    'CutMix',
    'CutMixElemParams',
    'CutMixParams',
    'DataNotFoundError',
    'DenseCrossEntropyLoss',
    'LossIncompatibleError',
    'MixUp',
    'MixUpCutMix',
    'MixUpCutMixElemParams',
    'MixUpElemParams',
    'MixUpParams',
    'MixingAlgorithm',
    'MixingError',
    '__version__',
    'apply_cutmix',
    'apply_cutmix_elem',
    'apply_mixup',
    'apply_params',
    'attach_dense_loss',
    'cifar_resnet',
    'cutmix_batch',
    'dense_cross_entropy',
    'dominant_label',
    'load_config',
    'mix_targets',
    'mixup_batch',
    'preview_batch',
    'sample_mixup_params',
    'sample_mixup_params_elem',
    'sample_params',
    'sample_params_elem',
    'sample_switch_params',
    'sample_switch_params_elem',
    'score_against_dominant_label',
    'train',
]

# The runner's public names, loaded on first use: name -> the runner module that defines it.
_RUNNER_NAMES = {
    'ConfigError': 'errors',
    'DataNotFoundError': 'errors',
    'cifar_resnet': 'models',
    'load_config': 'config',
    'preview_batch': 'preview',
    'train': 'train',
}
# Modules that sat at the package top before the runner had its own subpackage.
_RUNNER_MODULES = ('cli', 'config', 'data', 'errors', 'loggers', 'models', 'optim', 'preview', 'registry', 'train')


def __getattr__(name: str) -> Any:
    if name in _RUNNER_NAMES:
        module = importlib.import_module(f'{__name__}.runner.{_RUNNER_NAMES[name]}')
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _FormerRunnerPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import composer_cutmix.config`` (and the other former paths) give the runner's module itself."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        package, _, name = fullname.rpartition('.')
        if package != __name__ or name not in _RUNNER_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        module = importlib.import_module(f'{__name__}.runner.{spec.name.rpartition(".")[2]}')
        module.__dict__.setdefault('_real_spec', module.__spec__)
        return module

    def exec_module(self, module: Any) -> None:
        # The import system stamped the alias's spec on the module; give it back its own.
        module.__spec__ = module.__dict__.pop('_real_spec')


if not any(isinstance(f, _FormerRunnerPaths) for f in sys.meta_path):
    sys.meta_path.append(_FormerRunnerPaths())
