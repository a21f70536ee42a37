"""What the tests share besides fixtures: tiny real models and data, a callback that records what the trainer saw, and
independent references for what a draw does to pixels and targets. (Kept out of ``conftest.py``: pytest-xdist's
controller loads the conftest before it starts the workers, and should not import Composer for nothing.)"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from composer import Trainer
from composer.core import Callback, State
from composer.loggers import Logger
from composer.models import ComposerClassifier, ComposerModel
from torch.utils.data import DataLoader, Dataset, TensorDataset

N_CLASSES = 5


class Recorder(Callback):
    """Records copies of the batch, outputs and loss at the events a test asks for."""

    def __init__(self, algorithm=None) -> None:
        self.algorithm = algorithm
        self.batches: list = []
        self.params: list = []
        self.microbatches: list = []
        self.outputs: list = []
        self.losses: list = []
        self.eval_batches: list = []

    def after_dataloader(self, state: State, logger: Logger) -> None:
        self.batches.append(copy.deepcopy(state.batch))
        if self.algorithm is not None:
            self.params.append(self.algorithm.last_params)

    def before_forward(self, state: State, logger: Logger) -> None:
        self.microbatches.append(copy.deepcopy(state.batch))

    def after_forward(self, state: State, logger: Logger) -> None:
        self.outputs.append(state.outputs.detach().clone())

    def before_backward(self, state: State, logger: Logger) -> None:
        self.losses.append(state.loss.detach().clone())

    def eval_before_forward(self, state: State, logger: Logger) -> None:
        self.eval_batches.append(copy.deepcopy(state.batch))


def tiny_data(n: int = 32, channels: int = 1, h: int = 8, w: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, channels, h, w, generator=g)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    return X, y


def tiny_loader(X, y, batch_size: int = 8, collate_fn=None) -> DataLoader:
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False, collate_fn=collate_fn)


def tiny_net(in_features: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(in_features, N_CLASSES))


def expected_mix(X, params):
    """An independent reference for what a draw does to the pixels: a paste per box, a blend per lam, a shrunken
    partner per ResizeMix box, a masked choice per FMix mask."""
    out = X.clone()
    if params is None:
        return out
    boxes, ops = params.boxes().tolist(), params.ops()
    for i in range(X.shape[0]):
        j = int(params.indices[i])
        y0, x0, y1, x1 = boxes[i]
        if ops[i] == 'cutmix':
            out[i, ..., y0:y1, x0:x1] = X[j, ..., y0:y1, x0:x1]
        elif ops[i] == 'mixup':
            lam = float(params.blend if not params.per_sample else params.blend[i])
            out[i] = lam * X[i] + (1 - lam) * X[j]
        elif ops[i] == 'resizemix' and y1 > y0:
            small = F.interpolate(X[j:j + 1].float(), size=(y1 - y0, x1 - x0), mode=params.interpolation)
            out[i, ..., y0:y1, x0:x1] = small[0].round() if not X.dtype.is_floating_point else small[0]
        elif ops[i] == 'fmix':
            out[i] = torch.where(params.mask, X[i], X[j])
    return out


def expected_targets(y, params, smoothing=0.0):
    """The dense targets of a draw, written out: ``lam`` on the own label, ``1 - lam`` on the partner's."""
    if params is None:
        dense = F.one_hot(y, N_CLASSES).float()
    else:
        lam = params.weights().reshape(-1, 1)
        dense = lam * F.one_hot(y, N_CLASSES) + (1 - lam) * F.one_hot(y[params.indices], N_CLASSES)
    return dense * (1 - smoothing) + smoothing / N_CLASSES


def make_trainer(X, y, algorithms, *, batch_size=8, max_duration='2ba', model=None, callbacks=(), seed=17,
                 loader=None, **kwargs) -> Trainer:
    """A Trainer over ``(X, y)`` in batches of ``batch_size`` with a linear classifier and plain SGD."""
    model = model or ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES)
    return Trainer(model=model, train_dataloader=loader or tiny_loader(X, y, batch_size), max_duration=max_duration,
                   algorithms=list(algorithms), callbacks=list(callbacks), seed=seed, progress_bar=False,
                   optimizers=torch.optim.SGD(model.parameters(), lr=0.01), **kwargs)


def run(X, y, algo, **kwargs) -> tuple[Trainer, Recorder]:
    """Fits a :func:`make_trainer` run with ``algo`` and returns it with the :class:`Recorder` of what it saw."""
    rec = Recorder(algo)
    trainer = make_trainer(X, y, [algo], callbacks=[rec], **kwargs)
    trainer.fit()
    return trainer, rec


class DictDataset(Dataset):
    """Samples as ``{'image', 'label', 'id'}`` dicts."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {'image': self.X[i], 'label': self.y[i], 'id': i}


class DictModel(ComposerModel):
    """A classifier of dict batches, trained on dense targets."""

    def __init__(self, in_features):
        super().__init__()
        self.net = tiny_net(in_features)

    def forward(self, batch):
        return self.net(batch['image'])

    def loss(self, outputs, batch):
        from composer_cutmix import dense_cross_entropy

        return dense_cross_entropy(outputs, batch['label'])
