"""The plain-PyTorch CIFAR-style ResNet the benchmarks train (no Composer import: the GPU check must still build it
when Composer will not load next to the GPU image's torch)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torchvision.models.resnet import BasicBlock

__all__ = ['cifar_resnet']


def cifar_resnet(width: int = 16, blocks: Sequence[int] = (1, 1, 1), in_channels: int = 1,
                 num_classes: int = 10) -> nn.Module:
    """A 3x3 stride-1 stem (no max-pool), then one stage of torchvision ``BasicBlock`` per entry of ``blocks`` at
    widths ``width * 2**stage``, each stage after the first halving the resolution; global pooling, one linear layer.

    ``blocks=(1, 1, 1)`` is He et al.'s CIFAR ResNet-8; ``blocks=(2, 2, 2, 2)`` the CIFAR ResNet-18.
    """
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                               nn.ReLU(inplace=True)]
    inplanes = width
    for stage, count in enumerate(blocks):
        planes = width * 2**stage
        for i in range(count):
            stride = 2 if stage > 0 and i == 0 else 1
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            layers.append(BasicBlock(inplanes, planes, stride, downsample))
            inplanes = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inplanes, num_classes)]
    return nn.Sequential(*layers)
