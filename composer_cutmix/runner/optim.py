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

from composer_cutmix.runner.errors import ConfigError

__all__ = ['build_optimizer', 'build_scheduler']


def build_optimizer(cfg: Any, model: torch.nn.Module) -> torch.optim.Optimizer:
    """``sgd`` (``torch.optim.SGD``, momentum and optionally Nesterov) or ``adamw`` (``torch.optim.AdamW``).

    Weight decay applies to every parameter, as in the CutMix paper's code.

    Args:
        cfg: an :class:`~composer_cutmix.runner.schema.OptimizerConfig` (or a mapping with its keys).
        model: whose parameters to optimise.

    Raises:
        ConfigError: an unknown name, or Nesterov without momentum.
    """
    from composer_cutmix.runner.schema import OPTIMIZERS, OptimizerConfig, coerce

    cfg = coerce(cfg, OptimizerConfig, 'optimizer')
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.name == 'sgd':
        if cfg.nesterov and cfg.momentum <= 0:
            raise ConfigError(f'optimizer: nesterov=true needs momentum > 0, got momentum={cfg.momentum}. '
                              f'Set optimizer.momentum=0.9 or optimizer.nesterov=false.')
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov)
    if cfg.name == 'adamw':
        if len(cfg.betas) != 2:
            raise ConfigError(f'optimizer.betas must be two numbers [beta1, beta2], got {list(cfg.betas)}.')
        return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    raise ConfigError(f'optimizer.name: unknown optimizer {cfg.name!r}. Accepted: {", ".join(OPTIMIZERS)}.')


def build_scheduler(cfg: Any) -> ComposerScheduler:
    """A Composer schedule: ``cosine``, ``multistep`` or ``constant``, each with linear warmup if ``t_warmup > 0``.

    Args:
        cfg: a :class:`~composer_cutmix.runner.schema.SchedulerConfig` (or a mapping with its keys).

    Raises:
        ConfigError: an unknown name, or ``multistep`` without milestones.
    """
    from composer_cutmix.runner.schema import SCHEDULERS, SchedulerConfig, coerce

    cfg = coerce(cfg, SchedulerConfig, 'scheduler')
    warmup = Time.from_timestring(cfg.t_warmup).value > 0
    if cfg.name == 'cosine':
        if warmup:
            return CosineAnnealingWithWarmupScheduler(t_warmup=cfg.t_warmup, alpha_f=cfg.alpha_f)
        return CosineAnnealingScheduler(alpha_f=cfg.alpha_f)
    if cfg.name == 'multistep':
        if not cfg.milestones:
            raise ConfigError("scheduler.milestones: multistep needs at least one milestone, e.g. ['150ep', '225ep'].")
        milestones = list(cfg.milestones)
        if warmup:
            return MultiStepWithWarmupScheduler(t_warmup=cfg.t_warmup, milestones=milestones, gamma=cfg.gamma)
        return MultiStepScheduler(milestones=milestones, gamma=cfg.gamma)
    if cfg.name == 'constant':
        return ConstantWithWarmupScheduler(t_warmup=cfg.t_warmup) if warmup else ConstantScheduler()
    raise ConfigError(f'scheduler.name: unknown schedule {cfg.name!r}. Accepted: {", ".join(SCHEDULERS)}.')
