"""A YAML run with a probe, for tests/test_streaming.py: ``python tests/streaming_worker.py OUT [--kill-at N] k=v ...``.

Also runs as one rank under Composer's launcher (``composer -n 2 tests/streaming_worker.py OUT k=v ...``).

It registers a ``probe`` algorithm and runs the real command line (``composer-cutmix train yamls/synthetic.yaml``).
The probe appends one JSON line per training batch to ``OUT/rank{rank}.jsonl`` as soon as the model has the batch:
the batch as the dataloader gave it (at ``AFTER_DATALOADER`` Composer runs algorithms in reverse order, so the probe,
listed after ``cutmix``, sees the batch before CutMix), its labels and image hashes, and the mixed batch's hash with
CutMix's draw. With ``--kill-at N`` the process kills itself with SIGKILL when batch ``N`` (0-based) comes out of
the dataloader: a crash mid-epoch, after the checkpoint of batch ``N`` was written, with nothing cleaned up.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from typing import Optional

import torch
from composer.core import Algorithm, Event, State
from composer.loggers import Logger
from composer.utils import dist

from composer_cutmix.runner.cli import main
from composer_cutmix.runner.registry import register_algorithm

__all__ = ['Probe', 'image_hash']


def image_hash(x: torch.Tensor) -> str:
    """A short hash of one image's float32 bytes."""
    return hashlib.sha1(x.detach().to(torch.float32).contiguous().numpy().tobytes()).hexdigest()[:16]


class Probe(Algorithm):
    """Writes what every training batch held before and after mixing."""

    def __init__(self, out: str, kill_at: Optional[int] = None) -> None:
        self.out = out
        self.kill_at = kill_at
        self._record: dict = {}

    def match(self, event: Event, state: State) -> bool:
        return event in (Event.AFTER_DATALOADER, Event.BEFORE_FORWARD)

    def apply(self, event: Event, state: State, logger: Logger) -> None:
        X, y = state.batch
        if event == Event.AFTER_DATALOADER:
            batch = int(state.timestamp.batch)
            if batch == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            self._record = {'batch': batch, 'epoch': int(state.timestamp.epoch), 'labels': y.tolist(),
                            'images': [image_hash(img) for img in X], 'raw': X.tolist()}
        else:
            (cutmix,) = [a for a in state.algorithms if type(a).__name__ == 'CutMix']
            p = cutmix.last_params
            self._record.update(mixed=image_hash(X), bbox=list(p.bbox), lam=p.lam, indices=p.indices.tolist())
            os.makedirs(self.out, exist_ok=True)
            with open(os.path.join(self.out, f'rank{dist.get_global_rank()}.jsonl'), 'a', encoding='utf-8') as f:
                f.write(json.dumps(self._record) + '\n')


if __name__ == '__main__':
    register_algorithm('probe', Probe)
    out, args = sys.argv[1], sys.argv[2:]
    extra = []
    if args[:1] == ['--kill-at']:
        extra, args = [f'algorithms.probe.kill_at={args[1]}'], args[2:]
    sys.exit(main(['train', os.path.join(os.path.dirname(__file__), '..', 'yamls', 'synthetic.yaml'), *args,
                   f'algorithms.probe.out={out}', *extra]))
