"""Models for YAML runs: the CIFAR ResNet of He et al., any torchvision classifier, or a timm model.

:func:`build_model` wraps the network in a :class:`composer.models.ComposerClassifier` with Composer's default
loss; :class:`~composer_cutmix.algorithm.CutMix` swaps in a dense-target cross-entropy at ``Event.INIT``. Composer is
imported only there: :class:`CifarResNet` is plain PyTorch, so the benchmarks build it where Composer will not
import (the GPU check's image).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

from composer_cutmix.runner.errors import ConfigError

if TYPE_CHECKING:
    from composer.models import ComposerClassifier

__all__ = ['CifarResNet', 'build_model', 'check_model_name', 'cifar_resnet', 'model_names']


class CifarResNet(nn.Module):
    """The CIFAR ResNet of He et al. (2016, section 4.2): three stages of ``BasicBlock`` at widths w, 2w, 4w.

    A 3x3 stem keeps full resolution, each stage after the first halves it, and global average pooling feeds
    one linear layer, so it suits 28x28 (Fashion-MNIST) and 32x32 (CIFAR) inputs alike. Shortcuts that change
    shape use a strided 1x1 convolution with batch norm (option B).

    Args:
        depth: ``6n + 2`` layers (8, 14, 20, 32, 44, 56, 110...), ``n`` blocks per stage.
        num_classes: outputs of the final linear layer.
        in_channels: channels of the input images (1 for Fashion-MNIST, 3 for CIFAR).
        width: channels of the first stage, ``w``; the paper uses 16.
        blocks: instead of ``depth``, the number of blocks of each stage, one stage per entry at widths
            ``w * 2**stage``: ``(2, 2, 2, 2)`` with ``width=64`` is the CIFAR ResNet-18 (ImageNet's stage layout
            on the 3x3 stem; the GPU study trains it). ``depth`` is then ``2 * sum(blocks) + 2``.

    Example:
        >>> net = CifarResNet(depth=8, num_classes=10, in_channels=1, width=16)
        >>> tuple(net(torch.zeros(2, 1, 28, 28)).shape)
        (2, 10)
        >>> CifarResNet(blocks=(2, 2, 2, 2), width=64).depth
        18
    """

    def __init__(self, depth: int = 8, num_classes: int = 10, in_channels: int = 1, width: int = 16,
                 blocks: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        for name, value, low in (('depth', depth, 8), ('num_classes', num_classes, 1), ('in_channels', in_channels, 1),
                                 ('width', width, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f'cifar_resnet: {name} must be an integer >= {low}, got {value!r}.')
        if blocks is not None:
            blocks = tuple(blocks)
            if not blocks or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in blocks):
                raise ValueError(f'cifar_resnet: blocks must be a non-empty sequence of integers >= 1 (one per '
                                 f'stage, e.g. (2, 2, 2, 2) for ResNet-18), got {blocks!r}.')
            depth = 2 * sum(blocks) + 2
        elif (depth - 2) % 6:
            raise ValueError(
                f'cifar_resnet: depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110...), got {depth}; '
                f'the nearest valid depths are {depth - (depth - 2) % 6} and {depth - (depth - 2) % 6 + 6}.',
            )
        else:
            blocks = ((depth - 2) // 6,) * 3
        self.depth, self.width = depth, width
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        stages, c_in = [], width
        for i, count in enumerate(blocks):
            c_out = width * 2**i
            stride = 1 if i == 0 else 2
            layers = []
            for b in range(count):
                s = stride if b == 0 else 1
                down = None
                if s != 1 or c_in != c_out:
                    down = nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=1, stride=s, bias=False),
                                         nn.BatchNorm2d(c_out))
                layers.append(BasicBlock(c_in, c_out, stride=s, downsample=down))
                c_in = c_out
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def cifar_resnet(depth: int = 8, num_classes: int = 10, in_channels: int = 1, width: int = 16,
                 blocks: Optional[Sequence[int]] = None) -> CifarResNet:
    """The He et al. CIFAR ResNet, see :class:`CifarResNet`.

    Example:
        >>> sum(p.numel() for p in cifar_resnet(depth=20, num_classes=10, in_channels=3).parameters()) > 250_000
        True
    """
    return CifarResNet(depth=depth, num_classes=num_classes, in_channels=in_channels, width=width, blocks=blocks)


def _torchvision_names() -> list[str]:
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def model_names() -> list[str]:
    """The accepted values of ``model.name``: ``cifar_resnet``, torchvision's classifiers, and ``timm:<name>``."""
    return ['cifar_resnet', *_torchvision_names(), 'timm:<name>']


def check_model_name(name: str) -> None:
    """Raises :class:`ConfigError` unless ``name`` is a model :func:`build_model` can build."""
    if name == 'cifar_resnet' or (isinstance(name, str) and name.startswith('timm:') and len(name) > 5):
        return
    tv = _torchvision_names()
    if name not in tv:
        resnets = ', '.join(n for n in tv if n.startswith(('resnet', 'wide_resnet', 'resnext')))
        raise ConfigError(
            f'model.name: unknown model {name!r}. Accepted: cifar_resnet (the He et al. CIFAR ResNet: set '
            f'model.depth, model.width, model.in_channels), a torchvision classifier ({resnets}, and the other '
            f'{len(tv)} names of torchvision.models.list_models()), or timm:<name> when timm is installed.',
        )


def _torchvision_model(name: str, num_classes: int, in_channels: int, kwargs: dict[str, Any]) -> nn.Module:
    import torchvision

    kwargs = {'weights': None, **kwargs}
    try:
        net = torchvision.models.get_model(name, num_classes=num_classes, **kwargs)
    except TypeError as e:
        raise ConfigError(f'model.kwargs: torchvision model {name!r} rejected {kwargs}: {e}.') from e
    if in_channels != 3:
        conv = getattr(net, 'conv1', None)
        if not isinstance(conv, nn.Conv2d):
            raise ConfigError(
                f'model.in_channels: {in_channels} channels is only supported for ResNet-style torchvision models '
                f'(with a conv1 stem); {name!r} takes 3. Use 3 channels or model.name=cifar_resnet.',
            )
        net.conv1 = nn.Conv2d(in_channels, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
                              padding=conv.padding, bias=conv.bias is not None)
    return net


def _timm_model(name: str, num_classes: int, in_channels: int, kwargs: dict[str, Any]) -> nn.Module:
    if importlib.util.find_spec('timm') is None:
        raise ConfigError(
            f'model.name: {name!r} needs timm, which is not installed. Install it with '
            f"pip install 'composer-cutmix[timm]' (or pip install timm), or pick cifar_resnet or a torchvision model.",
        )
    import timm

    kwargs = {'pretrained': False, **kwargs}
    try:
        return timm.create_model(name[len('timm:'):], num_classes=num_classes, in_chans=in_channels, **kwargs)
    except RuntimeError as e:  # timm's "Unknown model"
        raise ConfigError(f'model.name: timm does not know {name!r} ({e}). See timm.list_models().') from e


def build_model(cfg: Any) -> ComposerClassifier:
    """Builds the network a ``model`` config names, wrapped in a :class:`~composer.models.ComposerClassifier`.

    Args:
        cfg: a :class:`~composer_cutmix.runner.schema.ModelConfig` section of a run config (trusted: checked when
            the run was loaded), or a mapping with its keys (checked here): ``name``,
            ``num_classes``, ``in_channels``, ``depth`` and ``width`` (for ``cifar_resnet``), and ``kwargs``
            passed on to torchvision's ``get_model`` or timm's ``create_model``.

    Returns:
        ComposerClassifier: with Composer's default loss and metrics (accuracy; cross-entropy on eval).

    Raises:
        ConfigError: for an unknown name, bad kwargs, or ``timm:`` without timm.

    Example:
        >>> m = build_model({'name': 'cifar_resnet', 'depth': 8, 'num_classes': 10, 'in_channels': 1})
        >>> tuple(m.module(torch.zeros(1, 1, 28, 28)).shape)
        (1, 10)
    """
    from composer.models import ComposerClassifier  # here only: the networks above need no Composer

    from composer_cutmix.runner.schema import ModelConfig, checked

    cfg = checked(cfg, ModelConfig, 'model', check_name=check_model_name)
    name, kwargs = cfg.name, dict(cfg.kwargs)
    if name == 'cifar_resnet':
        net = cifar_resnet(depth=cfg.depth, num_classes=cfg.num_classes, in_channels=cfg.in_channels, width=cfg.width)
    elif name.startswith('timm:'):
        net = _timm_model(name, cfg.num_classes, cfg.in_channels, kwargs)
    else:
        net = _torchvision_model(name, cfg.num_classes, cfg.in_channels, kwargs)
    return ComposerClassifier(net, num_classes=cfg.num_classes)
