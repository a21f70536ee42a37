"""The optimizer and the learning-rate schedule of a YAML run.

Example:
    >>> import torch
    >>> opt = build_optimizer({'name': 'sgd', 'lr': 0.1}, torch.nn.Linear(2, 2))
    >>> type(opt).__name__, opt.defaults['nesterov']
    ('SGD', True)
    >>> type(build_scheduler({'name': 'cosine', 't_warmup': '1ep'})).__name__
    'CosineAnnealingWithWarmupScheduler'
"""

from __future__ import annotations

from typing import Any

import torch
from composer.core import Time
from composer.optim import (
    ComposerScheduler,
    ConstantScheduler,
    ConstantWithWarmupScheduler,
    CosineAnnealingScheduler,
    CosineAnnealingWithWarmupScheduler,
    MultiStepScheduler,
    MultiStepWithWarmupScheduler,
)

__all__ = ['build_optimizer', 'build_scheduler']


def build_optimizer(cfg: Any, model: torch.nn.Module) -> torch.optim.Optimizer:
    """``sgd`` (``torch.optim.SGD``, momentum and optionally Nesterov) or ``adamw`` (``torch.optim.AdamW``).

    Weight decay applies to every parameter, as in the CutMix paper's code.

    Args:
        cfg: an :class:`~composer_cutmix.runner.schema.OptimizerConfig` section of a run config (trusted: checked
            when the run was loaded), or a mapping with its keys (checked here).
        model: whose parameters to optimise.

    Raises:
        ConfigError: a mapping with an unknown name, or Nesterov without momentum.
    """
    from composer_cutmix.runner.schema import OptimizerConfig, checked

    cfg = checked(cfg, OptimizerConfig, 'optimizer')
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.name == 'sgd':
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def build_scheduler(cfg: Any) -> ComposerScheduler:
    """A Composer schedule: ``cosine``, ``multistep`` or ``constant``, each with linear warmup if ``t_warmup > 0``.

    Args:
        cfg: a :class:`~composer_cutmix.runner.schema.SchedulerConfig` section of a run config (trusted: checked
            when the run was loaded), or a mapping with its keys (checked here).

    Raises:
        ConfigError: a mapping with an unknown name, or ``multistep`` without milestones.
    """
    from composer_cutmix.runner.schema import SchedulerConfig, checked

    cfg = checked(cfg, SchedulerConfig, 'scheduler')
    warmup = Time.from_timestring(cfg.t_warmup).value > 0
    if cfg.name == 'cosine':
        if warmup:
            return CosineAnnealingWithWarmupScheduler(t_warmup=cfg.t_warmup, alpha_f=cfg.alpha_f)
        return CosineAnnealingScheduler(alpha_f=cfg.alpha_f)
    if cfg.name == 'multistep':
        milestones = list(cfg.milestones)
        if warmup:
            return MultiStepWithWarmupScheduler(t_warmup=cfg.t_warmup, milestones=milestones, gamma=cfg.gamma)
        return MultiStepScheduler(milestones=milestones, gamma=cfg.gamma)
    return ConstantWithWarmupScheduler(t_warmup=cfg.t_warmup) if warmup else ConstantScheduler()
