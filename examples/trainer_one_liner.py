"""CutMix in a Composer Trainer: add ``CutMix()`` to ``algorithms`` and nothing else changes.

    python examples/trainer_one_liner.py            # 1 epoch of Fashion-MNIST, ~1 minute on 2 CPU cores
    python examples/trainer_one_liner.py --smoke    # 2 batches, seconds
"""

from __future__ import annotations

import argparse

import torch
from composer import Trainer

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
        algorithms=[CutMix(alpha=1.0)],  # <- the one line (num_classes comes from the model)
        seed=17,
        progress_bar=False,
    )
    trainer.fit()
    acc = trainer.state.eval_metrics['eval']['MulticlassAccuracy'].compute().item()
    print(f'{name}: eval accuracy {acc:.4f} after {trainer.state.timestamp.batch.value} batches with CutMix')


if __name__ == '__main__':
    main()
