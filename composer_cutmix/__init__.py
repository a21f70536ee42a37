"""CutMix (Yun et al., ICCV 2019) for MosaicML Composer: the Algorithm, the functional form, the loss."""

from __future__ import annotations

__version__ = '0.1.0'

from composer_cutmix.algorithm import CutMix
from composer_cutmix.config import load_config
from composer_cutmix.errors import ConfigError, DataNotFoundError
from composer_cutmix.functional import (
    CutMixElemParams,
    CutMixParams,
    apply_cutmix,
    apply_cutmix_elem,
    cutmix_batch,
    mix_targets,
    sample_params,
    sample_params_elem,
)
from composer_cutmix.loss import (
    DenseCrossEntropyLoss,
    LossIncompatibleError,
    attach_dense_loss,
    dense_cross_entropy,
)
from composer_cutmix.metrics import dominant_label, score_against_dominant_label
from composer_cutmix.models import cifar_resnet
from composer_cutmix.preview import preview_batch
from composer_cutmix.train import train

__all__ = [
    'ConfigError',
    'CutMix',
    'CutMixElemParams',
    'CutMixParams',
    'DataNotFoundError',
    'DenseCrossEntropyLoss',
    'LossIncompatibleError',
    '__version__',
    'apply_cutmix',
    'apply_cutmix_elem',
    'attach_dense_loss',
    'cifar_resnet',
    'cutmix_batch',
    'dense_cross_entropy',
    'dominant_label',
    'load_config',
    'mix_targets',
    'preview_batch',
    'sample_params',
    'sample_params_elem',
    'score_against_dominant_label',
    'train',
]
