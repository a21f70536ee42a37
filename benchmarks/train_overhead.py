"""Whole training steps with a real model: no augmentation, our CutMix, and Composer's built-in CutMix.

Usage::

    python benchmarks/train_overhead.py [--quick] [--device cpu|cuda] [--rounds R] [--turn N] [--warmup N]
                                        [--threads N] [--json out.json]

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
* CUDA: torchvision ``resnet50`` on ``(256, 3, 224, 224)`` batches, 1000 classes, ``amp_bf16``. Target: our
  CutMix costs under 1% of a step.

The cost is read two ways. End to end: the median step of each CutMix run against the median step without
augmentation in the same round, the median over rounds. Directly: the mixing work timed inside the algorithm's
events (ours: ``AFTER_DATALOADER``, which also moves the batch to the device, a copy the trainer would otherwise
make itself; Composer's: ``BEFORE_FORWARD`` and ``BEFORE_LOSS``). On CUDA the host-device synchronisations during
those events are counted with ``torch.cuda.set_sync_debug_mode('warn')``.
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
from typing import Any, Optional

import torch
from composer import Trainer
from composer.core import Algorithm, Callback, Event, State
from composer.loggers import Logger
from composer.models import ComposerClassifier
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.models.resnet import BasicBlock

from machine import Contention, OtherLoad, positive_int, threads_line

__all__ = ['Setup', 'StepTimer', 'build_trainer', 'cifar_resnet8', 'main', 'run']

warnings.filterwarnings('ignore', module=r'composer(\.|$)')

TARGET_OVERHEAD = 0.01  # our CutMix: under 1% of a training step (set for the GPU setup)
CONFIGS = ('none', 'ours', 'composer')
LABELS = {
    'none': 'no augmentation',
    'ours': 'ours: composer_cutmix.CutMix',
    'composer': "Composer's CutMix",
}


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

    @property
    def total_steps(self) -> int:
        return self.warmup + self.rounds * self.turn


@dataclass
class Steps:
    """The timed steps of one trainer, in order, with the round each belongs to."""

    config: str
    step_ms: list[float] = field(default_factory=list)
    mix_ms: list[float] = field(default_factory=list)
    syncs: list[int] = field(default_factory=list)
    busy: list[bool] = field(default_factory=list)  # other processes took the CPU during the step
    round: list[int] = field(default_factory=list)

    def kept(self) -> list[int]:
        """Indices of the steps no other process disturbed, when enough are left (else all of them)."""
        keep = [i for i, b in enumerate(self.busy) if not b]
        return keep if len(keep) >= max(5, len(self.busy) // 3) else list(range(len(self.busy)))


# ------------------------------------------------------------------------------------------------- model, data


def cifar_resnet8(in_channels: int = 1, num_classes: int = 10, width: int = 16) -> nn.Module:
    """The CIFAR ResNet of He et al. with depth 8: a 3x3 stem and one ``BasicBlock`` per stage at w, 2w, 4w."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
    ]
    inplanes = width
    for stage, planes in enumerate((width, 2 * width, 4 * width)):
        stride = 1 if stage == 0 else 2
        downsample = None
        if stride != 1 or inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers.append(BasicBlock(inplanes, planes, stride, downsample))
        inplanes = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inplanes, num_classes)]
    return nn.Sequential(*layers)


def build_model(setup: Setup) -> ComposerClassifier:
    torch.manual_seed(0)
    if setup.model == 'resnet50':
        from torchvision.models import resnet50

        module = resnet50(num_classes=setup.num_classes)
    else:
        module = cifar_resnet8(in_channels=setup.batch_shape[1], num_classes=setup.num_classes)
    return ComposerClassifier(module, num_classes=setup.num_classes)


class _Batches(Dataset):
    """``length`` ready-made batches, cycling through a small pool: a DataLoader with ``batch_size=None`` serves
    them as they are (no collation)."""

    def __init__(self, pool: list[tuple[torch.Tensor, torch.Tensor]], length: int) -> None:
        self.pool, self.length = pool, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pool[i % len(self.pool)]


def build_dataloader(setup: Setup, pool_size: int = 4) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    pool = []
    for _ in range(pool_size):
        X = torch.rand(setup.batch_shape, generator=g)
        y = torch.randint(0, setup.num_classes, (setup.batch_shape[0],), generator=g)
        if setup.device == 'cuda':  # pinned, so the trainer's non-blocking copy to the GPU is truly asynchronous
            X, y = X.pin_memory(), y.pin_memory()
        pool.append((X, y))
    # One epoch covers the whole benchmark, so no epoch boundary falls inside a turn.
    return DataLoader(_Batches(pool, setup.total_steps), batch_size=None, shuffle=False)


# ------------------------------------------------------------------------------------------------- measuring


class StepTimer(Callback):
    """Times the steps within each ``fit`` call, and the time and host-device syncs of chosen algorithm events."""

    def __init__(self, config: str, device: str) -> None:
        self.cuda = device == 'cuda'
        self.steps = Steps(config)
        self.recording = False  # off during warm-up
        self.round = 0
        self._contention = Contention()
        self._last: Optional[float] = None
        self._mark: Optional[int] = None
        self._step_events: list[Any] = []
        self._step_ms = 0.0
        self._step_syncs = 0

    def instrument(self, algorithm: Algorithm, events: tuple[Event, ...]) -> Algorithm:
        """Wraps ``algorithm.apply`` so its work at ``events`` is timed (and its syncs counted on CUDA)."""
        original = algorithm.apply

        def apply(event: Event, state: State, logger: Logger):
            if event not in events:
                return original(event, state, logger)
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter('always')
                    torch.cuda.set_sync_debug_mode('warn')
                    try:
                        start.record()
                        result = original(event, state, logger)
                        end.record()
                    finally:
                        torch.cuda.set_sync_debug_mode('default')
                self._step_syncs += sum('synchroniz' in str(w.message) for w in caught)
                self._step_events.append((start, end))
                return result
            t0 = time.perf_counter()
            result = original(event, state, logger)
            self._step_ms += (time.perf_counter() - t0) * 1e3
            return result

        algorithm.apply = apply  # type: ignore[method-assign]
        return algorithm

    def fit_start(self, state: State, logger: Logger) -> None:
        self._last = None  # the first step of a turn also carries the fit() call: not timed

    def batch_end(self, state: State, logger: Logger) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self._step_ms = sum(start.elapsed_time(end) for start, end in self._step_events)
        now = time.perf_counter()
        if self.recording and self._last is not None:
            s = self.steps
            s.step_ms.append((now - self._last) * 1e3)
            s.mix_ms.append(self._step_ms)
            s.syncs.append(self._step_syncs)
            s.busy.append(self._contention.busy(self._mark, now - self._last))
            s.round.append(self.round)
        self._mark = self._contention.mark()
        self._last = time.perf_counter()
        self._step_events, self._step_ms, self._step_syncs = [], 0.0, 0


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


def run(setup: Setup) -> dict[str, Steps]:
    """Warms the three trainers up, then lets them take turns for ``setup.rounds`` rounds."""
    trainers = {config: build_trainer(setup, config) for config in CONFIGS}
    for trainer, _ in trainers.values():
        trainer.fit(duration=f'{setup.warmup}ba')
    for rnd in range(setup.rounds):
        shift = rnd % len(CONFIGS)
        for config in CONFIGS[shift:] + CONFIGS[:shift]:
            trainer, timer = trainers[config]
            timer.recording, timer.round = True, rnd
            trainer.fit(duration=f'{setup.turn}ba')
    for trainer, _ in trainers.values():
        trainer.close()
    return {config: timer.steps for config, (_, timer) in trainers.items()}


# ------------------------------------------------------------------------------------------------- reporting


def make_setup(device: str, quick: bool, rounds: Optional[int], turn: Optional[int], warmup: Optional[int]) -> Setup:
    if device == 'cuda':
        setup = Setup('resnet50', 'cuda', (256, 3, 224, 224), 1000, 'amp_bf16', rounds=10, turn=11, warmup=10)
        if quick:
            setup.batch_shape, setup.rounds, setup.turn, setup.warmup = (64, 3, 224, 224), 2, 3, 2
    else:
        setup = Setup('cifar_resnet8', 'cpu', (128, 1, 28, 28), 10, 'fp32', rounds=30, turn=11, warmup=10)
        if quick:
            setup.rounds, setup.turn, setup.warmup = 2, 3, 1
    setup.rounds = rounds if rounds is not None else setup.rounds
    setup.turn = turn if turn is not None else setup.turn
    setup.warmup = warmup if warmup is not None else setup.warmup
    return setup


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def summarise(setup: Setup, results: dict[str, Steps]) -> dict[str, Any]:
    """Median step, throughput, paired per-round overhead, mixing time and syncs of each configuration."""
    n = setup.batch_shape[0]

    def round_medians(s: Steps) -> dict[int, float]:
        by_round: dict[int, list[float]] = {}
        for i in s.kept():
            by_round.setdefault(s.round[i], []).append(s.step_ms[i])
        return {r: statistics.median(v) for r, v in by_round.items()}

    base_rounds = round_medians(results['none'])
    summary: dict[str, Any] = {}
    for config in CONFIGS:
        s = results[config]
        kept = s.kept()
        step = statistics.median(s.step_ms[i] for i in kept)
        entry = {'step_ms': step, 'img_per_s': n / step * 1e3, 'timed_steps': len(s.step_ms),
                 'left_out': len(s.step_ms) - len(kept), 'busy': sum(s.busy)}
        if config != 'none':
            mine = round_medians(s)
            paired = [mine[r] / base_rounds[r] - 1 for r in sorted(mine) if r in base_rounds]
            mix = statistics.median(s.mix_ms[i] for i in kept)
            entry.update(overhead_per_round=paired, overhead_quartiles=_quartiles(paired), mix_ms=mix,
                         mix_fraction=mix / step,
                         syncs_per_step=statistics.mean(s.syncs) if setup.device == 'cuda' else None)
        summary[config] = entry
    return summary


TABLE_HEADER = (f'{"config":30s} {"step ms":>9s} {"img/s":>8s} {"vs none":>9s} {"middle half":>16s} '
                f'{"mixing ms":>10s} {"mixing/step":>11s} {"syncs/step":>16s}')


def format_table(setup: Setup, summary: dict[str, Any]) -> list[str]:
    lines = ['', TABLE_HEADER, '-' * len(TABLE_HEADER)]
    for config in CONFIGS:
        e = summary[config]
        if config == 'none':
            rest = f'{"1.000x":>9s} {"-":>16s} {"-":>10s} {"-":>11s} {"-":>16s}'
        else:
            q1, q2, q3 = e['overhead_quartiles']
            syncs = 'n/a (no device)' if e['syncs_per_step'] is None else f'{e["syncs_per_step"]:.1f}'
            rest = (f'{q2:>+9.1%} {f"[{q1:+.1%}, {q3:+.1%}]":>16s} {e["mix_ms"]:10.3f} {e["mix_fraction"]:11.2%} '
                    f'{syncs:>16s}')
        lines.append(f'{LABELS[config]:30s} {e["step_ms"]:9.2f} {e["img_per_s"]:8.0f} {rest}')
    left_out = ', '.join(f'{c} {summary[c]["left_out"]}/{summary[c]["timed_steps"]}' for c in CONFIGS)
    lines += [
        'step ms: median over the timed steps; img/s from it. vs none: median over rounds of (this run\'s median step '
        '/ the unaugmented run\'s, same round) - 1; middle half: its quartiles over the rounds.',
        'mixing ms: median time inside the algorithm\'s per-step events (ours includes moving the batch to the '
        'device).',
        f'steps during which other processes took the CPU, left out: {left_out}',
    ]
    return lines


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true', help='two short rounds: a smoke test')
    p.add_argument('--device', choices=['cpu', 'cuda', 'auto'], default='auto',
                   help="'auto' (default): CUDA when present, else the CPU")
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
    setup = make_setup(device, args.quick, args.rounds, args.turn, args.warmup)

    import composer

    header = [
        f'python {platform.python_version()}, torch {torch.__version__}, composer {composer.__version__}',
        threads_line(),
    ]
    if device == 'cuda':
        header.append(f'CUDA: {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})')
    print('CutMix training-step overhead' + (' (--quick)' if args.quick else ''))
    for line in header:
        print(line)
    print(f'== {setup.model} on {setup.device}, batch {setup.batch_shape}, {setup.precision}, '
          f'{setup.num_classes} classes: {setup.warmup} warm-up steps, then {setup.rounds} rounds of '
          f'{setup.turn}-step turns per configuration ({setup.rounds * (setup.turn - 1)} timed steps each) ==')
    sys.stdout.flush()

    load = OtherLoad()
    results = run(setup)
    summary = summarise(setup, results)
    for line in format_table(setup, summary):
        print(line)
    print(load.report())

    ours, comp = summary['ours'], summary['composer']
    scope = '' if setup.device == 'cuda' else ' (the target is set for the GPU setup)'
    print('\n== targets ==' + scope)
    for name, value in (('mixing work, timed inside its events', ours['mix_fraction']),
                        ('end to end, median step vs no augmentation', ours['overhead_quartiles'][1])):
        met = value < TARGET_OVERHEAD
        print(f'[{"MET" if met else "MISSED":6s}] our CutMix costs < {TARGET_OVERHEAD:.0%} of a step, {name}: '
              f'{value:+.2%}')
    print(f"         Composer's CutMix for comparison: mixing work {comp['mix_fraction']:+.2%}, end to end "
          f"{comp['overhead_quartiles'][1]:+.2%}")

    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'header': header, 'other_load': load.report(), 'argv': sys.argv, 'setup': asdict(setup),
                       'summary': summary, 'results': {k: asdict(v) for k, v in results.items()}},
                      f, indent=1, default=str)
        print(f'\nwrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
