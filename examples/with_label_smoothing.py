"""CutMix together with Composer's LabelSmoothing: CutMix mixes the targets, LabelSmoothing then smooths them.

LabelSmoothing acts at ``Event.BEFORE_LOSS`` on whatever targets the batch carries; CutMix's are dense
``(N, num_classes)`` distributions, which it smooths towards uniform like one-hot ones.

    python examples/with_label_smoothing.py          # 1 epoch of Fashion-MNIST
    python examples/with_label_smoothing.py --smoke  # 2 batches
"""

from __future__ import annotations

import argparse

import torch
from composer import Trainer
from composer.algorithms import LabelSmoothing

from composer_cutmix import CutMix
from composer_cutmix.runner.models import build_model

from _data import loaders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--smoke', action='store_true', help='a 2-batch run on a small subset')
    args = parser.parse_args()

    train_dl, eval_dl, name = loaders(args.smoke, batch_size=64 if args.smoke else 128)
    model = build_model({'name': 'cifar_resnet', 'depth': 8, 'width': 16, 'in_channels': 1, 'num_classes': 10})
    trainer = Trainer(
        model=model,
        optimizers=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
        train_dataloader=train_dl,
        eval_dataloader=eval_dl,
        max_duration='2ba' if args.smoke else '1ep',
        algorithms=[CutMix(num_classes=10, alpha=1.0), LabelSmoothing(smoothing=0.1)],
        seed=17,
        progress_bar=False,
    )
    trainer.fit()
    acc = trainer.state.eval_metrics['eval']['MulticlassAccuracy'].compute().item()
    print(f'{name}: eval accuracy {acc:.4f} with CutMix + LabelSmoothing(0.1)')


if __name__ == '__main__':
    main()
