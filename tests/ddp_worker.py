"""One rank of tests/test_ddp.py, started by Composer's launcher: ``composer -n 2 tests/ddp_worker.py JOBS.json``.

JOBS.json lists runs of the real command line (``composer-cutmix train yamls/synthetic.yaml``), each
``[probe, out, overrides]``, run one after the other in this process (one import of Composer per rank for all):

- ``probe``: this file's probe saves, for every training batch, the batch as the dataloader gave it (before CutMix:
  at ``AFTER_DATALOADER`` Composer runs algorithms in reverse order, so the probe listed after ``cutmix`` runs
  first) and the batch the model received (at ``BEFORE_FORWARD``), with CutMix's box and permutation, to
  ``OUT/rank{rank}.pt``;
- ``stream_probe``: ``tests/streaming_worker.py``'s probe, one JSON line per batch in ``OUT/rank{rank}.jsonl``.
"""

from __future__ import annotations

import json
import os
import sys

import torch
from composer.core import Algorithm, Event, State
from composer.loggers import Logger
from composer.utils import dist

from composer_cutmix.runner.cli import main
from composer_cutmix.runner.registry import register_algorithm

__all__ = ['Probe']


class Probe(Algorithm):
    """Records the raw and the mixed batch of every training step."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.records: list[dict] = []

    def match(self, event: Event, state: State) -> bool:
        return event in (Event.AFTER_DATALOADER, Event.BEFORE_FORWARD, Event.FIT_END)

    def apply(self, event: Event, state: State, logger: Logger) -> None:
        if event == Event.AFTER_DATALOADER:
            X, y = state.batch
            self.records.append({'raw_X': X.clone(), 'raw_y': y.clone()})
        elif event == Event.BEFORE_FORWARD:
            (cutmix,) = [a for a in state.algorithms if type(a).__name__ == 'CutMix']
            X, y = state.batch
            p = cutmix.last_params
            self.records[-1].update(X=X.detach().clone(), y=y.detach().clone(), bbox=p.bbox, lam=p.lam,
                                    indices=p.indices.clone())
        else:
            os.makedirs(self.out, exist_ok=True)
            torch.save({'rank': dist.get_global_rank(), 'world_size': dist.get_world_size(), 'records': self.records},
                       os.path.join(self.out, f'rank{dist.get_global_rank()}.pt'))


if __name__ == '__main__':
    from streaming_worker import Probe as StreamProbe  # this script's folder is sys.path[0]

    register_algorithm('probe', Probe)
    register_algorithm('stream_probe', StreamProbe)
    with open(sys.argv[1], encoding='utf-8') as f:
        jobs = json.load(f)
    for probe, out, overrides in jobs:
        rc = main(['train', os.path.join(os.path.dirname(__file__), '..', 'yamls', 'synthetic.yaml'), *overrides,
                   f'algorithms.{probe}.out={out}'])
        if rc:
            sys.exit(rc)
