"""CutMix (Yun et al., ICCV 2019) for MosaicML Composer: the Algorithm, the functional form, the loss."""

from __future__ import annotations

__version__ = '0.1.0'

from composer_cutmix.algorithm import CutMix
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

__all__ = [
    'CutMix',
    'CutMixElemParams',
    'CutMixParams',
    'DenseCrossEntropyLoss',
    'LossIncompatibleError',
    '__version__',
    'apply_cutmix',
    'apply_cutmix_elem',
    'attach_dense_loss',
    'cutmix_batch',
    'dense_cross_entropy',
    'dominant_label',
    'mix_targets',
    'sample_params',
    'sample_params_elem',
    'score_against_dominant_label',
]
