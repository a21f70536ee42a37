"""Stop a CutMix run and resume it from its checkpoint: weights, optimizer, schedule and CutMix's RNG come back.

The first Trainer trains half the run and saves a checkpoint; the second one loads it with ``load_path`` and
finishes. CutMix's random draws continue where they stopped, so the resumed run draws the boxes an
uninterrupted run would have drawn. From the command line the same is
``composer-cutmix train yamls/fashion_mnist.yaml save_folder=... load_path=.../latest-rank0.pt``.

    python examples/resume_from_checkpoint.py           # 2 x 1 epoch of Fashion-MNIST
    python examples/resume_from_checkpoint.py --smoke   # 2 x 2 batches
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from composer import Trainer

from composer_cutmix import CutMix
from composer_cutmix.runner.models import build_model

from _data import loaders


def make_trainer(args: argparse.Namespace, folder: str, half: str, full: str, load_path: str | None) -> Trainer:
    train_dl, eval_dl, _ = loaders(args.smoke, batch_size=64 if args.smoke else 128)
    model = build_model({'name': 'cifar_resnet', 'depth': 8, 'width': 16, 'in_channels': 1, 'num_classes': 10})
    return Trainer(
        model=model,
        optimizers=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
        train_dataloader=train_dl,
        eval_dataloader=eval_dl,
        max_duration=full,
        algorithms=[CutMix(num_classes=10, alpha=1.0)],
        save_folder=folder,
        save_interval=half,
        save_overwrite=True,
        load_path=load_path,
        seed=17,
        progress_bar=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--smoke', action='store_true', help='2 + 2 batches on a small subset')
    parser.add_argument('--folder', default=None, help='where checkpoints go (default: a temporary folder)')
    args = parser.parse_args()
    half, full = ('2ba', '4ba') if args.smoke else ('1ep', '2ep')

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or tmp
        first = make_trainer(args, folder, half, full, None)
        first.fit(duration=half)  # stop half-way, as a pre-empted job would
        first.close()
        ckpt = os.path.join(folder, 'latest-rank0.pt')
        print(f'stopped at batch {first.state.timestamp.batch.value}; checkpoint {ckpt}')

        second = make_trainer(args, folder, half, full, ckpt)
        print(f'resumed at batch {second.state.timestamp.batch.value}')
        second.fit()
        acc = second.state.eval_metrics['eval']['MulticlassAccuracy'].compute().item()
        print(f'finished at batch {second.state.timestamp.batch.value}; eval accuracy {acc:.4f}')


if __name__ == '__main__':
    main()
