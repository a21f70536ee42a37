"""Host-device synchronisations, counted and traced to the code that asked for them.

``torch.cuda.set_sync_debug_mode('warn')`` makes CUDA warn at every operation that waits for the device (``.item()``,
``.cpu()``, ``bool(tensor)``, a blocking copy, ``torch.cuda.synchronize()``...). :class:`SyncCensus` turns those
warnings into records: how many, and for each the innermost frame outside torch itself (the line of Composer,
torchmetrics or this package that asked), so a run can say whose syncs they are. ``mode='error'`` makes the first
sync raise instead, for code that must never wait.

Used by ``tests/test_gpu.py``, ``benchmarks/train_overhead.py`` and ``tools/gpu_check.py``; without CUDA it
records nothing.
"""

from __future__ import annotations

import collections
import os
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Optional

import torch

__all__ = ['Sync', 'SyncCensus', 'owner_of']

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_SKIP = (_TORCH_DIR, os.path.dirname(warnings.__file__) + os.sep + 'warnings.py', __file__.rstrip('c'))


def owner_of(filename: str) -> str:
    """Whose code a file is: ``composer_cutmix``, ``composer``, ``torchmetrics``, ``torchvision`` or ``other``."""
    path = filename.replace(os.sep, '/')
    for owner in ('composer_cutmix', 'composer', 'torchmetrics', 'torchvision'):
        if f'/{owner}/' in path:
            return owner
    return 'other'


@dataclass
class Sync:
    """One synchronisation: where it was asked for (``file:line function``), whose code that is, and whether a
    frame of this package was on the stack (ours called someone who synced)."""

    site: str
    owner: str
    via_ours: bool


@dataclass
class SyncCensus:
    """Context manager: records (``mode='warn'``) or forbids (``mode='error'``) host-device syncs inside it.

    Example::

        with SyncCensus() as census:
            trainer.fit(duration='3ba')
        census.count('composer_cutmix')   # syncs asked for by this package's code: 0
        census.by_site()                  # Counter of 'file:line function' -> count
    """

    mode: str = 'warn'
    flush: bool = True  # wait for the device before the block (skipped inside another census: it would count)
    syncs: list[Sync] = field(default_factory=list)
    active: bool = False

    def __enter__(self) -> SyncCensus:
        self.active = torch.cuda.is_available()
        if not self.active:
            return self
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter('always')
        shown = warnings.showwarning

        def hook(message, category, filename, lineno, file=None, line=None):
            if 'synchroniz' in str(message):
                self._record(traceback.extract_stack()[:-1])
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = hook
        self._previous = torch.cuda.get_sync_debug_mode()
        if self.flush and self._previous == 0:
            torch.cuda.synchronize()  # work queued before the block is not the block's (a sync itself, done first)
        torch.cuda.set_sync_debug_mode(self.mode)
        return self

    def __exit__(self, *exc) -> None:
        if not self.active:
            return
        torch.cuda.set_sync_debug_mode(self._previous)  # a census inside another one hands its mode back
        self._catch.__exit__(*exc)

    def _record(self, stack: list[traceback.FrameSummary]) -> None:
        frames = [f for f in stack if not f.filename.startswith(_SKIP)]
        inner: Optional[traceback.FrameSummary] = frames[-1] if frames else None
        if inner is None:
            self.syncs.append(Sync('<torch internals>', 'other', False))
            return
        short = inner.filename.replace(os.sep, '/')
        for marker in ('/site-packages/', '/composer_cutmix/', '/benchmarks/', '/tests/'):
            if marker in short:
                short = (marker.strip('/') + '/' if marker != '/site-packages/' else '') + short.split(marker, 1)[1]
                break
        via = any(owner_of(f.filename) == 'composer_cutmix' for f in frames)
        self.syncs.append(Sync(f'{short}:{inner.lineno} {inner.name}', owner_of(inner.filename), via))

    def count(self, owner: Optional[str] = None) -> int:
        """Syncs in all, or those asked for by ``owner``'s code (see :func:`owner_of`)."""
        return sum(1 for s in self.syncs if owner is None or s.owner == owner)

    def by_site(self) -> collections.Counter:
        return collections.Counter(f'[{s.owner}] {s.site}' for s in self.syncs)
