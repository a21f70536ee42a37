"""CutMix (Yun et al., ICCV 2019) and its mixing family for MosaicML Composer.

The mixing core imports only torch and numpy, so a plain-PyTorch user does not inherit Composer's torch pin:

* :mod:`composer_cutmix.mixing`: one draw type (:class:`MixParams`) and the pipeline that applies any draw;
* :mod:`composer_cutmix.functional`: :func:`cutmix_batch`, :func:`mixup_batch`, :func:`resizemix_batch` and
  :func:`fmix_batch` for plain loops;
* :mod:`composer_cutmix.mixer`: :class:`Mixer`, timm's ``Mixup`` call (``x, y = mixer(x, y)``).

The Composer plugin sits on that core and is loaded on first use (it needs Composer and torchmetrics):

* :mod:`composer_cutmix.algorithm`: :class:`CutMix`, :class:`MixUp`, :class:`MixUpCutMix`, :class:`ResizeMix`,
  :class:`FMix`, :class:`RandomMix`;
* :mod:`composer_cutmix.loss`: the dense-target cross-entropy the algorithms attach at ``Event.INIT``;
* :mod:`composer_cutmix.metrics`: training metrics scored against each sample's dominant label.

The YAML runner (schema, builders, registry, CLI, preview, loggers) is :mod:`composer_cutmix.runner`, imported from
there; ``import composer_cutmix`` loads none of it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = '0.3.0'

from composer_cutmix.functional import cutmix_batch, fmix_batch, mixup_batch, resizemix_batch
from composer_cutmix.mixer import Mixer
from composer_cutmix.mixing import MixingError, MixParams, apply, mix_targets

# The plugin's Composer-backed names, loaded on first use: name -> module.
_PLUGIN = {
    'CutMix': 'algorithm',
    'MixUp': 'algorithm',
    'MixUpCutMix': 'algorithm',
    'RandomMix': 'algorithm',
    'ResizeMix': 'algorithm',
    'FMix': 'algorithm',
    'MixingAlgorithm': 'algorithm',
    'DenseCrossEntropyLoss': 'loss',
    'LossIncompatibleError': 'loss',
    'attach_dense_loss': 'loss',
    'dense_cross_entropy': 'loss',
    'DominantLabel': 'metrics',
}

__all__ = [
    'Mixer',
    'MixParams',
    'MixingError',
    '__version__',
    'apply',
    'cutmix_batch',
    'fmix_batch',
    'mix_targets',
    'mixup_batch',
    'resizemix_batch',
    *_PLUGIN,
]


def __getattr__(name: str) -> Any:
    if name in _PLUGIN:
        return getattr(importlib.import_module(f'{__name__}.{_PLUGIN[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
