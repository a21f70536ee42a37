"""Shared by the benchmark scripts: what they print about the machine (the CPU, torch's threads, how busy other
processes kept it), their command-line types, and the package's Composer-free modules (the mixing functions, the
runner's network and Fashion-MNIST reader) even where Composer will not import."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time
from pathlib import Path
from types import ModuleType
from typing import Optional

import torch

__all__ = ['DEFAULT_THREADS', 'Contention', 'OtherLoad', 'cpu_model', 'load_functional',
           'positive_int', 'threads_line']

DEFAULT_THREADS = torch.get_num_threads()  # read at import, before any --threads


REPO = Path(__file__).resolve().parents[1]
def load_functional() -> ModuleType:
    """``composer_cutmix`` itself: its mixing core (``cutmix_batch``, ``mixup_batch``, ``Mixer``, ``apply``,
    ``mix_targets``, ``mixing``) needs only torch and numpy, so it imports even where Composer will not."""
    return importlib.import_module('composer_cutmix')


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, or what :mod:`platform` knows."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be an integer >= 1, got {text}')
    return value


def threads_line() -> str:
    n = torch.get_num_threads()
    how = 'torch default' if n == DEFAULT_THREADS else f'set by --threads; torch default {DEFAULT_THREADS}'
    return f'CPU: {cpu_model()}, {os.cpu_count()} logical cores, torch threads {n} ({how})'


def _busy_seconds() -> Optional[float]:
    """CPU seconds all processes have spent busy since boot (Linux ``/proc/stat``), or None elsewhere."""
    try:
        with open('/proc/stat') as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf('SC_CLK_TCK')


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class OtherLoad:
    """Measures how much CPU time processes other than this one used between ``start()`` and ``report()``.

    On a shared machine this says how far to trust the timings: with torch's default of one thread per core, a
    busy neighbour stalls every parallel op until its descheduled thread runs again.
    """

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self._wall, self._busy, self._own = time.perf_counter(), _busy_seconds(), _own_seconds()

    def report(self) -> str:
        busy = _busy_seconds()
        if busy is None or self._busy is None:
            return 'CPU time of other processes: not measurable here'
        wall = time.perf_counter() - self._wall
        others = max(0.0, (busy - self._busy) - (_own_seconds() - self._own))
        cores = os.cpu_count() or 1
        share = others / (wall * cores) if wall > 0 else 0.0
        note = '  <- timings are noisy' if share > 0.05 else ''
        return (f'CPU time of other processes during the run: {others:.1f} core-s over {wall:.0f} s '
                f'({share:.0%} of the {cores} cores){note}')


def _busy_ticks() -> Optional[int]:
    try:
        with open('/proc/stat') as f:
            fields = f.readline().split()[1:]
        with open('/proc/self/stat') as f:
            own = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    # /proc/self/stat after the command name: state is field 3, utime and stime are fields 14 and 15.
    return (user + nice + system + irq + softirq + steal) - (int(own[11]) + int(own[12]))


class Contention:
    """Tells whether other processes took a noticeable share of the CPU during a timed region.

    Linux accounts CPU time in clock ticks (usually 10 ms) per core; the ticks that went to processes other than
    this one between :meth:`mark` and :meth:`busy` are compared with the region's length. A region counts as
    contended when others used more than the cores torch leaves free (``cores - torch threads``) plus ``share`` of
    the machine: with one torch thread per core, that is any tick at all over a sub-millisecond call (and one
    such tick is also what a stalled parallel op waits), while over a long call a daemon's odd tick does not count.
    Where ``/proc`` is missing nothing is contended.
    """

    def __init__(self, share: float = 0.05) -> None:
        self.share = share
        self.tick_s = 1.0 / os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 0.01
        self.cores = os.cpu_count() or 1
        self.free = max(0, self.cores - torch.get_num_threads())
        self.available = _busy_ticks() is not None

    def mark(self) -> Optional[int]:
        return _busy_ticks() if self.available else None

    def busy(self, mark: Optional[int], seconds: float) -> bool:
        """Whether others were busy since ``mark``, over a region that took ``seconds``."""
        if mark is None:
            return False
        others = _busy_ticks() - mark
        return others * self.tick_s > (self.free + self.share * self.cores) * seconds
