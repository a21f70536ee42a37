"""CutMix without Composer: ``cutmix_batch`` in a plain PyTorch loop.

``cutmix_batch`` returns the mixed images and dense ``(N, num_classes)`` targets, which
``torch.nn.functional.cross_entropy`` accepts as class probabilities (PyTorch >= 1.10).

    python examples/plain_pytorch_loop.py           # 1 epoch of Fashion-MNIST
    python examples/plain_pytorch_loop.py --smoke   # 2 batches
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from composer_cutmix import cutmix_batch
from composer_cutmix.runner.models import cifar_resnet

from _data import loaders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--smoke', action='store_true', help='a 2-batch run on a small subset')
    args = parser.parse_args()

    torch.manual_seed(17)
    train_dl, eval_dl, name = loaders(args.smoke, batch_size=64 if args.smoke else 128)
    model = cifar_resnet(depth=8, num_classes=10, in_channels=1, width=16)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    g = torch.Generator().manual_seed(17)  # CutMix's draws, reproducible

    model.train()
    for step, (X, y) in enumerate(train_dl):
        X, y_dense = cutmix_batch(X, y, n_classes=10, alpha=1.0, generator=g, inplace=True)  # the batch is ours
        loss = F.cross_entropy(model(X), y_dense)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if args.smoke and step == 1:
            break

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for X, y in eval_dl:
            correct += int((model(X).argmax(1) == y).sum())
            total += y.numel()
    print(f'{name}: eval accuracy {correct / total:.4f} after {step + 1} batches; last training loss {loss.item():.4f}')


if __name__ == '__main__':
    main()
