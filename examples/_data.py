"""Shared by the examples: Fashion-MNIST loaders, or synthetic ones for a ``--smoke`` run without the data."""

from __future__ import annotations

from torch.utils.data import DataLoader

from composer_cutmix.runner.data import build_dataloader
from composer_cutmix.runner.errors import DataNotFoundError

__all__ = ['loaders']


def loaders(smoke: bool, batch_size: int = 128) -> tuple[DataLoader, DataLoader, str]:
    """``(train, eval, name)``: Fashion-MNIST (a 512/256-image subset when ``smoke``), else synthetic if ``smoke``."""
    data = {'name': 'fashion_mnist', 'batch_size': batch_size, 'subset': 512 if smoke else None}
    try:
        train = build_dataloader(data, train=True)
        test = build_dataloader({**data, 'batch_size': 256, 'subset': 256 if smoke else None}, train=False)
        return train, test, 'Fashion-MNIST'
    except DataNotFoundError:
        if not smoke:
            raise
    synth = {'name': 'synthetic', 'num_samples': 256, 'image_size': 28, 'channels': 1, 'num_classes': 10,
             'batch_size': batch_size}
    return build_dataloader(synth, train=True), build_dataloader(synth, train=False), 'synthetic data'
