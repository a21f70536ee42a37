"""Whole training steps with a real model: no augmentation, our CutMix, and Composer's built-in CutMix.

Usage::

    python benchmarks/train_overhead.py [--quick|--tiny] [--device cpu|cuda] [--plain] [--rounds R] [--turn N]
                                        [--warmup N] [--threads N] [--json out.json]

Each configuration is a real :class:`composer.Trainer` over an in-memory synthetic data set of pre-collated
batches, so data loading costs next to nothing and what differs between the three is the augmentation. The three
trainers live side by side and take turns: after ``--warmup`` steps each, every round trains each of them for
``--turn`` more steps (``trainer.fit(duration='Nba')``, in a rotating order), so the slow drifts of a shared or
virtual machine touch all three alike. A callback records the time at every ``Event.BATCH_END`` (after a
``torch.cuda.synchronize()`` on CUDA); a step is the time between two of them within a turn, so it includes
fetching the batch, the events of the algorithms, forward, backward and the optimizer step (the first step of a
turn, which also carries the ``fit`` call, is not timed). Steps during which other processes took the CPU (see
``machine.Contention``) are left out when enough remain; the output says how many.

* CPU: a CIFAR-style ResNet-8 (three stages of one torchvision ``BasicBlock`` at widths 16/32/64) on
  Fashion-MNIST-shaped batches ``(128, 1, 28, 28)``, 10 classes, fp32.
* CUDA: torchvision ``resnet50`` on ``(256, 3, 224, 224)`` batches (channels_last, from pinned host memory), 1000
  classes, ``amp_bf16``. Targets: our CutMix costs under 1% of a step and asks for no host-device sync.

The cost is read two ways. End to end: the median step of each CutMix run against the median step without
augmentation in the same round, the median over rounds. Directly: the mixing work timed inside the algorithm's
events (ours: ``AFTER_DATALOADER``, less the copy of the batch to the device that it makes there, which the
trainer would otherwise make itself a moment later; Composer's: ``BEFORE_FORWARD`` and ``BEFORE_LOSS``). On CUDA
the host-device synchronisations are counted with ``torch.cuda.set_sync_debug_mode('warn')`` (see
``benchmarks/syncs.py``), inside those events during the timed steps, and over whole steps in a short census
after them that traces each sync to the line that asked for it (Composer's trainer asks for several per step).

``--plain`` (and, on its own, a machine where Composer will not import) replaces the Trainer with a plain PyTorch
loop over the same model and batches: no augmentation against ``apply(..., inplace=True)`` +
``mix_targets`` on the copy moved to the device, so the functional path is still measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

if __package__ in (None, ''):  # run as a file: the repository root on the path, as `python -m` would have it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import (  # noqa: E402
    Contention,
    OtherLoad,
    load_functional,
    positive_int,
    threads_line,
)
from benchmarks.syncs import SyncCensus  # noqa: E402

try:
    from composer import Trainer
    from composer.core import Algorithm, Callback, Event, State
    from composer.loggers import Logger
    from composer.models import ComposerClassifier

    COMPOSER_ERROR: Optional[str] = None
except Exception as e:  # Composer built for another torch: the plain PyTorch loop still runs
    COMPOSER_ERROR = f'{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ""}'
    Callback = object  # type: ignore[assignment,misc]
    Algorithm = Event = State = Logger = Trainer = ComposerClassifier = None  # type: ignore[assignment,misc]

__all__ = ['Setup', 'StepTimer', 'build_trainer', 'cifar_resnet8', 'main', 'run', 'run_plain']

warnings.filterwarnings('ignore', module=r'composer(\.|$)')

TARGET_OVERHEAD = 0.01  # our CutMix: under 1% of a training step (set for the GPU setup)
CONFIGS = ('none', 'ours', 'composer')
LABELS = {
    'none': 'no augmentation',
    'ours': 'ours: composer_cutmix.CutMix',
    'composer': "Composer's CutMix",
}
PLAIN_LABELS = {'none': 'plain loop, no augmentation', 'ours': 'plain loop + ours (functional)'}


@dataclass
class Setup:
    """What the benchmark trains: the model, the batch, the precision, and how the three trainers take turns."""

    model: str
    device: str
    batch_shape: tuple[int, int, int, int]
    num_classes: int
    precision: str
    rounds: int
    turn: int  # steps per trainer per round; the first of each is not timed
    warmup: int
    channels_last: bool = False
    census_steps: int = 3  # CUDA: whole steps per configuration whose syncs are traced, after the timed rounds

    @property
    def total_steps(self) -> int:
        return self.warmup + self.rounds * self.turn


@dataclass
class Steps:
    """The timed steps of one trainer, in order, with the round each belongs to."""

    config: str
    step_ms: list[float] = field(default_factory=list)
    mix_ms: list[float] = field(default_factory=list)  # the algorithm's event time, less the move to the device
    move_ms: list[float] = field(default_factory=list)  # ours: moving the batch to the device inside the event
    syncs: list[int] = field(default_factory=list)  # inside the algorithm's events
    busy: list[bool] = field(default_factory=list)  # other processes took the CPU during the step
    round: list[int] = field(default_factory=list)

    def kept(self) -> list[int]:
        """Indices of the steps no other process disturbed, when enough are left (else all of them)."""
        keep = [i for i, b in enumerate(self.busy) if not b]
        return keep if len(keep) >= max(5, len(self.busy) // 3) else list(range(len(self.busy)))


# ------------------------------------------------------------------------------------------------- model, data


def cifar_resnet8(in_channels: int = 1, num_classes: int = 10, width: int = 16) -> nn.Module:
    """The CIFAR ResNet of He et al. with depth 8: a 3x3 stem and one ``BasicBlock`` per stage at w, 2w, 4w (the
    runner's ``CifarResNet``, plain PyTorch: built where Composer will not import, for the plain loop)."""
    from composer_cutmix.runner.models import CifarResNet  # no Composer needed: the runner's package is lazy

    return CifarResNet(depth=8, num_classes=num_classes, in_channels=in_channels, width=width)


def build_network(setup: Setup) -> nn.Module:
    torch.manual_seed(0)
    if setup.model == 'resnet50':
        from torchvision.models import resnet50

        module = resnet50(num_classes=setup.num_classes)
    else:
        module = cifar_resnet8(in_channels=setup.batch_shape[1], num_classes=setup.num_classes)
    return module.to(memory_format=torch.channels_last) if setup.channels_last else module


def build_model(setup: Setup) -> ComposerClassifier:
    return ComposerClassifier(build_network(setup), num_classes=setup.num_classes)


class _Batches(Dataset):
    """``length`` ready-made batches, cycling through a small pool: a DataLoader with ``batch_size=None`` serves
    them as they are (no collation)."""

    def __init__(self, pool: list[tuple[torch.Tensor, torch.Tensor]], length: int) -> None:
        self.pool, self.length = pool, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pool[i % len(self.pool)]


def batch_pool(setup: Setup, pool_size: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    pool = []
    for _ in range(pool_size):
        X = torch.rand(setup.batch_shape, generator=g)
        y = torch.randint(0, setup.num_classes, (setup.batch_shape[0],), generator=g)
        if setup.channels_last:
            X = X.contiguous(memory_format=torch.channels_last)
        if setup.device == 'cuda':  # pinned, so the trainer's non-blocking copy to the GPU is truly asynchronous
            X, y = X.pin_memory(), y.pin_memory()
        pool.append((X, y))
    return pool


def build_dataloader(setup: Setup, pool_size: int = 4) -> DataLoader:
    # One epoch covers the whole benchmark (and the sync census after it), so no epoch boundary falls inside a turn.
    return DataLoader(_Batches(batch_pool(setup, pool_size), setup.total_steps + setup.census_steps + 2),
                      batch_size=None, shuffle=False)


# ------------------------------------------------------------------------------------------------- measuring


class StepTimer(Callback):
    """Times the steps within each ``fit`` call, and the time and host-device syncs of chosen algorithm events."""

    def __init__(self, config: str, device: str) -> None:
        self.cuda = device == 'cuda'
        self.steps = Steps(config)
        self.recording = False  # off during warm-up
        self.census = False  # on during the sync census: no timing, and no synchronize of our own to count
        self.round = 0
        self._contention = Contention()
        self._last: Optional[float] = None
        self._mark: Optional[int] = None
        self._step_events: list[Any] = []
        self._move_events: list[Any] = []
        self._step_ms = 0.0
        self._move_ms = 0.0
        self._step_syncs = 0
        self._census: Optional[SyncCensus] = None
        self._census_steps = self._census_seen = 0

    def _timed(self, fn, events: list, accumulate: str):
        """``fn()`` timed by CUDA events (appended to ``events``) or the wall clock (added to ``accumulate``)."""
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            result = fn()
            end.record()
            events.append((start, end))
            return result
        t0 = time.perf_counter()
        result = fn()
        setattr(self, accumulate, getattr(self, accumulate) + (time.perf_counter() - t0) * 1e3)
        return result

    def instrument(self, algorithm: Algorithm, events: tuple[Event, ...]) -> Algorithm:
        """Wraps ``algorithm.apply`` so its work at ``events`` is timed (and its syncs counted on CUDA), and the move
        of the batch to the device made inside them timed apart."""
        original = algorithm.apply

        def apply(event: Event, state: State, logger: Logger):
            if event not in events or self.census:
                return original(event, state, logger)
            device = state.device
            move = device.batch_to_device

            def timed_move(batch):
                return self._timed(lambda: move(batch), self._move_events, '_move_ms')

            device.batch_to_device = timed_move  # type: ignore[method-assign]
            try:
                with SyncCensus(flush=False) as census:
                    result = self._timed(lambda: original(event, state, logger), self._step_events, '_step_ms')
            finally:
                del device.batch_to_device  # the class's method again
            self._step_syncs += census.count()
            return result

        algorithm.apply = apply  # type: ignore[method-assign]
        return algorithm

    def arm_census(self, steps: int) -> SyncCensus:
        """Traces the syncs of ``steps`` whole steps of the next ``fit`` (which must run ``steps + 1``): from the
        first ``Event.BEFORE_DATALOADER`` to the one ``steps`` later, so each step is counted from fetching its batch
        to fetching the next, and neither the start nor the end of the ``fit`` call is."""
        self.census, self._census_steps, self._census_seen = True, steps, 0
        self._census = SyncCensus(flush=False)
        return self._census

    def before_dataloader(self, state: State, logger: Logger) -> None:
        if not self.census or self._census is None:
            return
        if self._census_seen == 0:
            if self.cuda:
                torch.cuda.synchronize()  # before the census: the work queued so far is not the census's
            self._census.__enter__()
        elif self._census_seen == self._census_steps:
            self._census.__exit__(None, None, None)
            self._census = None
        self._census_seen += 1

    def fit_start(self, state: State, logger: Logger) -> None:
        self._last = None  # the first step of a turn also carries the fit() call: not timed

    def batch_end(self, state: State, logger: Logger) -> None:
        if self.census:
            return
        if self.cuda:
            torch.cuda.synchronize()
            self._step_ms = sum(start.elapsed_time(end) for start, end in self._step_events)
            self._move_ms = sum(start.elapsed_time(end) for start, end in self._move_events)
        now = time.perf_counter()
        if self.recording and self._last is not None:
            s = self.steps
            s.step_ms.append((now - self._last) * 1e3)
            s.mix_ms.append(self._step_ms - self._move_ms)
            s.move_ms.append(self._move_ms)
            s.syncs.append(self._step_syncs)
            s.busy.append(self._contention.busy(self._mark, now - self._last))
            s.round.append(self.round)
        self._mark = self._contention.mark()
        self._last = time.perf_counter()
        self._step_events, self._move_events, self._step_ms, self._move_ms, self._step_syncs = [], [], 0.0, 0.0, 0


def make_algorithm(config: str, num_classes: int) -> tuple[Optional[Algorithm], tuple[Event, ...]]:
    if config == 'ours':
        from composer_cutmix.algorithm import CutMix

        return CutMix(num_classes, alpha=1.0), (Event.AFTER_DATALOADER,)
    if config == 'composer':
        from composer.algorithms import CutMix as ComposerCutMix

        return ComposerCutMix(alpha=1.0), (Event.BEFORE_FORWARD, Event.BEFORE_LOSS)
    return None, ()


def build_trainer(setup: Setup, config: str) -> tuple[Trainer, StepTimer]:
    """A Trainer for ``setup`` with the augmentation ``config`` (no max_duration: it trains turn by turn)."""
    timer = StepTimer(config, setup.device)
    algorithm, events = make_algorithm(config, setup.num_classes)
    model = build_model(setup)
    trainer = Trainer(
        model=model,
        train_dataloader=build_dataloader(setup),
        optimizers=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        algorithms=[timer.instrument(algorithm, events)] if algorithm is not None else [],
        callbacks=[timer],
        device='gpu' if setup.device == 'cuda' else 'cpu',
        precision=setup.precision,
        device_train_microbatch_size=setup.batch_shape[0],  # batches come pre-collated (batch_size=None)
        loggers=[],
        progress_bar=False,
        log_to_console=False,
        seed=17,
    )
    return trainer, timer


def sync_census(census: SyncCensus, steps: int) -> dict[str, Any]:
    """What a census over ``steps`` whole steps found: syncs per step, per owner, and the busiest lines."""
    if not census.active:
        return {'measured': False}
    owners: dict[str, float] = {}
    for sync in census.syncs:
        owners[sync.owner] = owners.get(sync.owner, 0) + 1 / steps
    return {'measured': True, 'steps': steps, 'syncs_per_step': census.count() / steps, 'by_owner': owners,
            'ours_per_step': census.count('composer_cutmix') / steps,
            'sites': [[site, count / steps] for site, count in census.by_site().most_common(12)]}


def run(setup: Setup) -> tuple[dict[str, Steps], dict[str, Any]]:
    """Warms the three trainers up, lets them take turns for ``setup.rounds`` rounds, then traces the syncs of a
    few more steps of each (CUDA). Returns the timed steps and the census of each configuration."""
    trainers = {config: build_trainer(setup, config) for config in CONFIGS}
    for trainer, _ in trainers.values():
        trainer.fit(duration=f'{setup.warmup}ba')
    for rnd in range(setup.rounds):
        shift = rnd % len(CONFIGS)
        for config in CONFIGS[shift:] + CONFIGS[:shift]:
            trainer, timer = trainers[config]
            timer.recording, timer.round = True, rnd
            trainer.fit(duration=f'{setup.turn}ba')
    censuses = {}
    for config, (trainer, timer) in trainers.items():
        timer.recording = False
        if setup.census_steps:  # without CUDA the census records nothing, but the steps run (a dry run of it)
            census = timer.arm_census(setup.census_steps)
            trainer.fit(duration=f'{setup.census_steps + 1}ba')
            censuses[config] = sync_census(census, setup.census_steps)
        else:
            censuses[config] = {'measured': False}
    for trainer, _ in trainers.values():
        trainer.close()
    return {config: timer.steps for config, (_, timer) in trainers.items()}, censuses


PLAIN_CONFIGS = ('none', 'ours')


def run_plain(setup: Setup) -> tuple[dict[str, Steps], dict[str, Any]]:
    """The same turns over a plain PyTorch loop (no Composer): each step copies a pinned host batch to the device,
    mixes it there (``ours``: ``apply`` in place on that copy, ``mix_targets``), and trains on dense targets."""
    F = load_functional()
    dev = torch.device(setup.device)
    cuda = dev.type == 'cuda'
    pool = batch_pool(setup)
    n, _, img_h, img_w = setup.batch_shape
    nets = {config: build_network(setup).to(dev) for config in PLAIN_CONFIGS}
    optimizers = {config: torch.optim.SGD(nets[config].parameters(), lr=0.05, momentum=0.9) for config in nets}
    generator = torch.Generator().manual_seed(17)
    steps = {config: Steps(config) for config in PLAIN_CONFIGS}
    contention = Contention()
    counter = dict.fromkeys(PLAIN_CONFIGS, 0)

    def clock(fn):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            return out, (start, end)
        t0 = time.perf_counter()
        out = fn()
        return out, (time.perf_counter() - t0) * 1e3

    def ms(t) -> float:
        return t[0].elapsed_time(t[1]) if isinstance(t, tuple) else t

    def step(config: str):
        X, y = pool[counter[config] % len(pool)]
        counter[config] += 1
        (Xd, yd), move = clock(lambda: (X.to(dev, non_blocking=True), y.to(dev, non_blocking=True)))
        target, mix = yd, 0.0
        if config == 'ours':
            params = F.mixing.draw_cutmix(n, img_h, img_w, 1.0, generator=generator)
            own_copy = Xd.data_ptr() != X.data_ptr()  # as the Algorithm: in place only in a copy the move made
            (Xd, target), mix = clock(lambda: (F.apply(Xd, params, inplace=own_copy),
                                               F.mix_targets(yd, params, setup.num_classes)))
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=setup.precision == 'amp_bf16'):
            logits = nets[config](Xd)
        loss = nn.functional.cross_entropy(logits.float(), target)
        optimizers[config].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[config].step()
        return move, mix

    def timed_turn(config: str, count: int, rnd: Optional[int]) -> None:
        for i in range(count):
            mark = contention.mark()
            t0 = time.perf_counter()
            move, mix = step(config)
            if cuda:
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            if rnd is not None and i > 0:  # as with the Trainer: the first step of a turn is not timed
                s = steps[config]
                s.step_ms.append(dt * 1e3)
                s.move_ms.append(ms(move))
                s.mix_ms.append(ms(mix))
                s.syncs.append(0)
                s.busy.append(contention.busy(mark, dt))
                s.round.append(rnd)

    for config in PLAIN_CONFIGS:
        timed_turn(config, setup.warmup, None)
    for rnd in range(setup.rounds):
        shift = rnd % len(PLAIN_CONFIGS)
        for config in PLAIN_CONFIGS[shift:] + PLAIN_CONFIGS[:shift]:
            timed_turn(config, setup.turn, rnd)
    censuses = {}
    for config in PLAIN_CONFIGS:
        if cuda and setup.census_steps:
            with SyncCensus() as census:
                for _ in range(setup.census_steps):
                    step(config)
            censuses[config] = sync_census(census, setup.census_steps)
        else:
            censuses[config] = {'measured': False}
    return steps, censuses


# ------------------------------------------------------------------------------------------------- reporting


def make_setup(device: str, size: str, rounds: Optional[int], turn: Optional[int], warmup: Optional[int]) -> Setup:
    """``size``: ``'full'``, ``'quick'`` (two short rounds) or ``'tiny'`` (a few small steps: the GPU check's dry
    run)."""
    if device == 'cuda':
        setup = Setup('resnet50', 'cuda', (256, 3, 224, 224), 1000, 'amp_bf16', rounds=10, turn=11, warmup=10,
                      channels_last=True)
        if size == 'quick':
            setup.batch_shape, setup.rounds, setup.turn, setup.warmup = (64, 3, 224, 224), 2, 3, 2
        elif size == 'tiny':
            setup.batch_shape, setup.rounds, setup.turn, setup.warmup = (16, 3, 64, 64), 1, 2, 1
    else:
        setup = Setup('cifar_resnet8', 'cpu', (128, 1, 28, 28), 10, 'fp32', rounds=30, turn=11, warmup=10)
        if size == 'quick':
            setup.rounds, setup.turn, setup.warmup = 2, 3, 1
        elif size == 'tiny':
            setup.batch_shape, setup.rounds, setup.turn, setup.warmup, setup.census_steps = (16, 1, 28, 28), 1, 3, 1, 1
    setup.rounds = rounds if rounds is not None else setup.rounds
    setup.turn = turn if turn is not None else setup.turn
    setup.warmup = warmup if warmup is not None else setup.warmup
    return setup


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def summarise(setup: Setup, results: dict[str, Steps], censuses: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Median step, throughput, paired per-round overhead, mixing time and syncs of each configuration."""
    n = setup.batch_shape[0]

    def round_medians(s: Steps) -> dict[int, float]:
        by_round: dict[int, list[float]] = {}
        for i in s.kept():
            by_round.setdefault(s.round[i], []).append(s.step_ms[i])
        return {r: statistics.median(v) for r, v in by_round.items()}

    base_rounds = round_medians(results['none'])
    summary: dict[str, Any] = {}
    for config, s in results.items():
        kept = s.kept()
        step = statistics.median(s.step_ms[i] for i in kept)
        entry = {'step_ms': step, 'img_per_s': n / step * 1e3, 'timed_steps': len(s.step_ms),
                 'left_out': len(s.step_ms) - len(kept), 'busy': sum(s.busy),
                 'census': (censuses or {}).get(config, {'measured': False})}
        if config != 'none':
            mine = round_medians(s)
            paired = [mine[r] / base_rounds[r] - 1 for r in sorted(mine) if r in base_rounds]
            mix = statistics.median(s.mix_ms[i] for i in kept)
            entry.update(overhead_per_round=paired, overhead_quartiles=_quartiles(paired), mix_ms=mix,
                         move_ms=statistics.median(s.move_ms[i] for i in kept) if s.move_ms else 0.0,
                         mix_fraction=mix / step,
                         syncs_per_step=statistics.mean(s.syncs) if setup.device == 'cuda' else None)
        summary[config] = entry
    return summary


TABLE_HEADER = (f'{"config":30s} {"step ms":>9s} {"img/s":>8s} {"vs none":>9s} {"middle half":>16s} '
                f'{"mixing ms":>10s} {"mixing/step":>11s} {"syncs/step":>16s}')


def format_table(setup: Setup, summary: dict[str, Any], labels: dict[str, str]) -> list[str]:
    lines = ['', TABLE_HEADER, '-' * len(TABLE_HEADER)]
    for config, e in summary.items():
        if config == 'none':
            rest = f'{"1.000x":>9s} {"-":>16s} {"-":>10s} {"-":>11s} {"-":>16s}'
        else:
            q1, q2, q3 = e['overhead_quartiles']
            syncs = 'n/a (no device)' if e['syncs_per_step'] is None else f'{e["syncs_per_step"]:.1f}'
            rest = (f'{q2:>+9.1%} {f"[{q1:+.1%}, {q3:+.1%}]":>16s} {e["mix_ms"]:10.3f} {e["mix_fraction"]:11.2%} '
                    f'{syncs:>16s}')
        lines.append(f'{labels[config]:30s} {e["step_ms"]:9.2f} {e["img_per_s"]:8.0f} {rest}')
    left_out = ', '.join(f'{c} {e["left_out"]}/{e["timed_steps"]}' for c, e in summary.items())
    moved = summary['ours'].get('move_ms', 0.0)
    lines += [
        'step ms: median over the timed steps; img/s from it. vs none: median over rounds of (this run\'s median step '
        '/ the unaugmented run\'s, same round) - 1; middle half: its quartiles over the rounds.',
        f'mixing ms: median time of the mixing work in each step (ours: less the {moved:.3f} ms of moving the batch '
        f'to the device, which the trainer would otherwise do anyway). syncs/step: inside that work.',
        f'steps during which other processes took the CPU, left out: {left_out}',
    ]
    lines += ['', f'== host-device syncs over whole steps (sync debug mode \'warn\', {setup.census_steps} steps each, '
                  f'after the timed ones) ==']
    for config, e in summary.items():
        c = e['census']
        if not c.get('measured'):
            lines.append(f'{labels[config]:30s} n/a (no device)')
            continue
        owners = ', '.join(f'{o} {v:.1f}' for o, v in sorted(c['by_owner'].items())) or 'none'
        lines.append(f'{labels[config]:30s} {c["syncs_per_step"]:.1f} per step ({owners}); this package\'s code: '
                     f'{c["ours_per_step"]:.1f}')
        for site, per_step in c['sites'][:6]:
            lines.append(f'    {per_step:4.1f}/step  {site}')
    return lines


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true', help='two short rounds: a smoke test')
    p.add_argument('--tiny', action='store_true', help='a few small steps: a dry run of the script')
    p.add_argument('--device', choices=['cpu', 'cuda', 'auto'], default='auto',
                   help="'auto' (default): CUDA when present, else the CPU")
    p.add_argument('--plain', action='store_true',
                   help='a plain PyTorch loop instead of the Trainer (chosen on its own when Composer will not import)')
    p.add_argument('--rounds', type=positive_int, help='rounds of turns (CPU: 30, CUDA: 10)')
    p.add_argument('--turn', type=positive_int, help='steps per trainer per round, the first not timed (11)')
    p.add_argument('--warmup', type=positive_int, help='untimed steps per trainer before the rounds (10)')
    p.add_argument('--threads', type=positive_int, metavar='N', help="torch.set_num_threads(N); default: torch's own")
    p.add_argument('--json', metavar='PATH', help='also write every measurement to this JSON file')
    args = p.parse_args(argv)
    if args.turn == 1:
        p.error('--turn must be >= 2: the first step of a turn is not timed')
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        print('--device cuda: no CUDA device here.', file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    size = 'tiny' if args.tiny else ('quick' if args.quick else 'full')
    setup = make_setup(device, size, args.rounds, args.turn, args.warmup)
    plain = args.plain or COMPOSER_ERROR is not None

    composer_version = COMPOSER_ERROR and f'not importable ({COMPOSER_ERROR})'
    if composer_version is None:
        import composer

        composer_version = composer.__version__
    header = [f'python {platform.python_version()}, torch {torch.__version__}, composer {composer_version}',
              threads_line()]
    if device == 'cuda':
        header.append(f'CUDA: {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})')
    if plain:
        why = 'asked for (--plain)' if args.plain else 'Composer will not import'
        header.append(f'plain PyTorch training loop, no Trainer: {why}')
    print('CutMix training-step overhead' + ('' if size == 'full' else f' (--{size})'))
    for line in header:
        print(line)
    layout = ', channels_last' if setup.channels_last else ''
    print(f'== {setup.model} on {setup.device}, batch {setup.batch_shape}, {setup.precision}{layout}, '
          f'{setup.num_classes} classes: {setup.warmup} warm-up steps, then {setup.rounds} rounds of '
          f'{setup.turn}-step turns per configuration ({setup.rounds * (setup.turn - 1)} timed steps each) ==')
    sys.stdout.flush()

    load = OtherLoad()
    results, censuses = run_plain(setup) if plain else run(setup)
    summary = summarise(setup, results, censuses)
    labels = PLAIN_LABELS if plain else LABELS
    for line in format_table(setup, summary, labels):
        print(line)
    print(load.report())

    targets = check_targets(setup, summary)
    scope = '' if setup.device == 'cuda' else ' (the targets are set for the GPU setup)'
    print('\n== targets ==' + scope)
    for t in targets:
        print(f'[{ {True: "MET", False: "MISSED", None: "n/a"}[t["met"]]:6s}] {t["target"]}: {t["detail"]}')
    if 'composer' in summary:
        comp = summary['composer']
        print(f"         Composer's CutMix for comparison: mixing work {comp['mix_fraction']:+.2%}, end to end "
              f"{comp['overhead_quartiles'][1]:+.2%}, syncs in its events {_syncs(comp['syncs_per_step'])} per step")

    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'header': header, 'other_load': load.report(), 'argv': sys.argv, 'setup': asdict(setup),
                       'plain': plain, 'summary': summary, 'targets': targets,
                       'results': {k: asdict(v) for k, v in results.items()}}, f, indent=1, default=str)
        print(f'\nwrote {args.json}')
    return 0


def _syncs(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value:.1f}'


def check_targets(setup: Setup, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Our CutMix: under 1% of a step (inside its event, and end to end) and no host-device sync of its own."""
    ours = summary['ours']
    out = []
    for name, value in (('mixing work, timed inside its events', ours['mix_fraction']),
                        ('end to end, median step vs no augmentation', ours['overhead_quartiles'][1])):
        out.append({'target': f'our CutMix costs < {TARGET_OVERHEAD:.0%} of a step, {name}',
                    'met': value < TARGET_OVERHEAD, 'value': value, 'detail': f'{value:+.2%}'})
    census = ours['census']
    if setup.device == 'cuda':
        inside = ours['syncs_per_step']
        whole = census.get('ours_per_step') if census.get('measured') else None
        met = inside == 0 and (whole is None or whole == 0)
        out.append({'target': 'our CutMix asks for no host-device sync', 'met': met, 'value': inside,
                    'detail': f'{_syncs(inside)} per step inside its event; {_syncs(whole)} per whole step from this '
                              f'package\'s code'})
    else:
        out.append({'target': 'our CutMix asks for no host-device sync', 'met': None, 'value': None,
                    'detail': 'no device: nothing to wait for'})
    return out


if __name__ == '__main__':
    sys.exit(main())
