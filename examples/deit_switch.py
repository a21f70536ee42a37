"""The DeiT/ConvNeXt recipe's MixUp/CutMix switch in a Composer Trainer, ported from timm argument for argument.

    python examples/deit_switch.py            # 1 epoch of Fashion-MNIST, ~1 minute on 2 CPU cores
    python examples/deit_switch.py --smoke    # 2 batches, seconds

timm:  Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch', label_smoothing=0.1,
             num_classes=10)
here:  MixUpCutMix(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch', label_smoothing=0.1)
       (num_classes comes from the model; the loss takes the dense targets without timm's SoftTargetCrossEntropy)
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch
from composer import Trainer
from composer.core import Callback

from composer_cutmix import MixUpCutMix
from composer_cutmix.runner.models import build_model

from _data import loaders


class CountOps(Callback):
    """Counts which op the switch picked for each batch (its ``last_params`` type names it)."""

    def __init__(self, switch: MixUpCutMix) -> None:
        self.switch, self.ops = switch, Counter()

    def after_dataloader(self, state, logger) -> None:
        self.ops[type(self.switch.last_params).__name__.replace('Params', '')] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--smoke', action='store_true', help='a 2-batch run on a small subset')
    args = parser.parse_args()

    train_dl, eval_dl, name = loaders(args.smoke, batch_size=64 if args.smoke else 128)
    model = build_model({'name': 'cifar_resnet', 'depth': 8, 'width': 16, 'in_channels': 1, 'num_classes': 10})
    switch = MixUpCutMix(mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5, label_smoothing=0.1)
    ops = CountOps(switch)
    trainer = Trainer(
        model=model,
        optimizers=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
        train_dataloader=train_dl,
        eval_dataloader=eval_dl,
        max_duration='2ba' if args.smoke else '1ep',
        algorithms=[switch],
        callbacks=[ops],
        seed=17,
        progress_bar=False,
    )
    trainer.fit()
    acc = trainer.state.eval_metrics['eval']['MulticlassAccuracy'].compute().item()
    picked = ', '.join(f'{op} {k}' for op, k in sorted(ops.ops.items()))
    print(f'{name}: eval accuracy {acc:.4f} after {trainer.state.timestamp.batch.value} batches with the switch '
          f'({picked})')


if __name__ == '__main__':
    main()
