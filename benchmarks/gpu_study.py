"""What CutMix buys on a GPU: Fashion-MNIST held on the device, a ResNet-18, a schedule sized to a time budget.

Usage::

    python benchmarks/gpu_study.py --budget-s 240 --data .gpu-data/fashion-mnist --json out.json [--plot out.png]
    python benchmarks/gpu_study.py --dry --json /tmp/study.json      # seconds, on the CPU: the pipeline end to end

The CPU study (``benchmarks/accuracy_study.py``) could afford a ResNet-8 for 20 epochs, a budget at which CutMix
costs clean accuracy; the paper's gains come from long schedules. Here the whole data set lives on the GPU as one
tensor, every batch is gathered, augmented (random crop with padding 2, horizontal flip) and mixed there, and a
CIFAR-style ResNet-18 (widths 64-512, 11M parameters, ``bfloat16`` autocast, channels_last) trains with SGD
(Nesterov momentum 0.9, weight decay 5e-4, lr 0.1 x batch/128, one warm-up epoch then cosine). Arms, each the same
run but for the mixing:

* ``baseline``: no mixing;
* ``cutmix``: CutMix, ``alpha=1``, every batch (the YAML ``yamls/fashion_mnist.yaml``);
* ``mixup_cutmix``: the DeiT switch, MixUp 0.8 / CutMix 1.0, even odds, label smoothing 0.1
  (``yamls/fashion_mnist_mix.yaml``).

The mixing is this package's functional form (draw on the CPU with a seeded generator, ``apply(...,
inplace=True)`` on the gathered batch, ``mix_targets``): what the Algorithm does per step, without a Trainer, so the
study needs no Composer and spends the budget on training. The plan fits the budget: it times the steps of the
model first, then picks the training-set size, epochs and seeds (at least 2 seeds and 30 epochs on all 60,000
images when the budget allows; a smaller training set before fewer epochs when it does not; more epochs up to
``--max-epochs``, then more seeds, when it allows more). Seeds run one after the other, each through every arm, so
a run cut short leaves whole seeds. Every run reports the test error, NLL, expected calibration error (15 bins) and
the error when a square covering 25% of each image is blanked, on all 10,000 test images, and its learning curve.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

if __package__ in (None, ''):  # run as a file: the repository root on the path, as `python -m` would have it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.evaluation import expected_calibration_error, occlude  # noqa: E402
from benchmarks.machine import load_functional  # noqa: E402

__all__ = ['ARMS', 'Plan', 'load_data', 'main', 'plan_runs', 'resnet18']

ARMS = ('baseline', 'cutmix', 'mixup_cutmix')
MEAN, STD, PAD = 0.2860, 0.3530, 2  # Fashion-MNIST's pixel statistics, the crop padding of the YAML runs
FILES = {'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
         'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')}


# ------------------------------------------------------------------------------------------------- data


def find(folder: Path, stem: str) -> Optional[Path]:
    for name in (stem + '.gz', stem):
        if (folder / name).is_file():
            return folder / name
    return None


def load_data(folder: Optional[Path], device: torch.device, train_subset: int = 0, test_subset: int = 0,
              synthetic: bool = False) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """``{'train': (X, y), 'test': (X, y)}`` on ``device`` (X uint8 ``(N, 1, 28, 28)``), and where it came from.

    The files are read by the runner's reader (``composer_cutmix.runner.data.load_fashion_mnist``, which needs no
    Composer); a corrupt or truncated file is its one-paragraph ``DataNotFoundError``.
    """
    sets = {}
    if synthetic:
        g = torch.Generator().manual_seed(0)
        for split, n in (('train', train_subset or 512), ('test', test_subset or 256)):
            y = torch.randint(0, 10, (n,), generator=g)
            # A learnable toy: each class brightens its own band of rows, plus noise.
            X = torch.randint(0, 96, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
            for c in range(10):
                X[y == c, :, 2 * c + 4:2 * c + 7] += 150
            sets[split] = (X.to(device), y.to(device))
        return sets, 'synthetic (no Fashion-MNIST files given)'
    for split, (images, labels) in FILES.items():
        if find(folder, images) is None or find(folder, labels) is None:
            raise FileNotFoundError(f'{folder}: no {images}(.gz) / {labels}(.gz); `make gpu-data` copies them here')
        from composer_cutmix.runner.data import load_fashion_mnist  # no Composer needed: the package is lazy

        X, y = load_fashion_mnist(
            str(folder), train=split == 'train', key='train_data' if split == 'train' else 'eval_data')
        n = train_subset if split == 'train' else test_subset
        if n:
            X, y = X[:n], y[:n]
        sets[split] = (X.to(device), y.to(device))
    return sets, f'Fashion-MNIST from {folder}'


def normalise(X: torch.Tensor) -> torch.Tensor:
    return X.float().div_(255).sub_(MEAN).div_(STD)


def augment(X: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random crop with padding ``PAD`` (zero = the data set's mean after normalising) and horizontal flip, per
    sample, in one gather on the device."""
    n, _, img_h, img_w = X.shape
    Xp = F.pad(X, (PAD, PAD, PAD, PAD))
    oy = torch.randint(0, 2 * PAD + 1, (n, 1), device=X.device, generator=g)
    ox = torch.randint(0, 2 * PAD + 1, (n, 1), device=X.device, generator=g)
    flip = torch.rand(n, 1, device=X.device, generator=g) < 0.5
    cols = torch.arange(img_w, device=X.device)
    cols = torch.where(flip, img_w - 1 - cols, cols) + ox
    rows = torch.arange(img_h, device=X.device) + oy
    return Xp[torch.arange(n, device=X.device)[:, None, None], 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


# ------------------------------------------------------------------------------------------------- model


def resnet18(width: int = 64, in_channels: int = 1, num_classes: int = 10, blocks=(2, 2, 2, 2)) -> nn.Module:
    """The CIFAR ResNet-18 (He et al.'s ImageNet block layout with a 3x3 stride-1 stem and no max-pool): the runner's
    ``CifarResNet`` with ``blocks``, plain PyTorch."""
    from composer_cutmix.runner.models import CifarResNet  # no Composer needed: the package is lazy

    return CifarResNet(num_classes=num_classes, in_channels=in_channels, width=width, blocks=blocks)


# ------------------------------------------------------------------------------------------------- training


@dataclass
class Config:
    device: str
    batch: int = 256
    width: int = 64
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    lr: float = 0.1  # per 128 images
    weight_decay: float = 5e-4
    bf16: bool = True

    @property
    def dev(self) -> torch.device:
        return torch.device(self.device)


def make_mixer(arm: str, seed: int) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``mix(X, y) -> (X, dense targets)`` for an arm; X is a batch the caller owns (mixed in place)."""
    fn = load_functional()
    g = torch.Generator().manual_seed(10_000 + seed)
    switch = fn.Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5, num_classes=10, generator=g)

    def baseline(X, y):
        return X, fn.mix_targets(y, None, 10)

    def cutmix(X, y):
        p = fn.mixing.draw_cutmix(X.shape[0], X.shape[-2], X.shape[-1], 1.0, generator=g)
        return fn.apply(X, p, inplace=True), fn.mix_targets(y, p, 10)

    def mixup_cutmix(X, y):
        p = switch.draw(X.shape[0], X.shape[-2], X.shape[-1])
        return fn.apply(X, p, inplace=True), fn.mix_targets(y, p, 10, smoothing=0.1)

    return {'baseline': baseline, 'cutmix': cutmix, 'mixup_cutmix': mixup_cutmix}[arm]


class Run:
    """One arm and seed: the model, its optimiser and schedule, and one epoch at a time."""

    def __init__(self, arm: str, seed: int, cfg: Config, train: tuple[torch.Tensor, torch.Tensor],
                 epochs: int) -> None:
        torch.manual_seed(seed)
        self.arm, self.seed, self.cfg = arm, seed, cfg
        self.X, self.y = train
        self.model = resnet18(cfg.width, blocks=cfg.blocks).to(cfg.dev, memory_format=torch.channels_last)
        decay = [p for p in self.model.parameters() if p.ndim > 1]
        rest = [p for p in self.model.parameters() if p.ndim <= 1]
        lr = cfg.lr * cfg.batch / 128
        self.opt = torch.optim.SGD([{'params': decay, 'weight_decay': cfg.weight_decay},
                                    {'params': rest, 'weight_decay': 0.0}], lr=lr, momentum=0.9, nesterov=True,
                                   **({'fused': True} if cfg.dev.type == 'cuda' else {}))
        self.steps_per_epoch = max(1, self.X.shape[0] // cfg.batch)  # the ragged last batch is dropped
        total = self.steps_per_epoch * max(1, epochs)
        warm = min(self.steps_per_epoch, total // 10 + 1)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) /
                                                                                      max(1, total - warm))))
        self.mix = make_mixer(arm, seed)
        self.gen = torch.Generator(device=cfg.dev).manual_seed(seed)
        self.losses: list[float] = []

    def train_steps(self, count: Optional[int] = None) -> None:
        """One epoch (or ``count`` steps of one) over a fresh permutation of the training set."""
        cfg = self.cfg
        self.model.train()
        order = torch.randperm(self.X.shape[0], device=cfg.dev, generator=self.gen)
        loss_sum = torch.zeros((), device=cfg.dev)
        steps = self.steps_per_epoch if count is None else min(count, self.steps_per_epoch)
        for i in range(steps):
            idx = order[i * cfg.batch:(i + 1) * cfg.batch]
            X = augment(normalise(self.X.index_select(0, idx)), self.gen)
            X, target = self.mix(X.contiguous(memory_format=torch.channels_last), self.y.index_select(0, idx))
            with torch.autocast(cfg.dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                logits = self.model(X)
            loss = F.cross_entropy(logits.float(), target)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
            loss_sum += loss.detach()
        self.losses.append(float(loss_sum) / steps)  # one sync per epoch

    @torch.no_grad()
    def evaluate(self, test: tuple[torch.Tensor, torch.Tensor], full: bool = False) -> dict[str, float]:
        """Test error (and with ``full``: NLL, 15-bin ECE, the error with 25% of each image blanked)."""
        self.model.eval()
        X_all, y_all = test
        g = torch.Generator(device=X_all.device).manual_seed(1234)  # the same blanked squares for every model
        logits, blanked = [], []
        for start in range(0, X_all.shape[0], 2000):
            X = normalise(X_all[start:start + 2000]).contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.cfg.dev.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
                logits.append(self.model(X).float())
                if full:
                    blanked.append(self.model(occlude(X, 0.25, g)).float())
        logits_t = torch.cat(logits)
        out = {'test_error': 100 * float((logits_t.argmax(1) != y_all).float().mean())}
        if full:
            out['test_nll'] = float(F.cross_entropy(logits_t, y_all))
            out['test_ece'] = 100 * expected_calibration_error(logits_t.softmax(1), y_all, bins=15)
            out['occluded_25_error'] = 100 * float((torch.cat(blanked).argmax(1) != y_all).float().mean())
        return out


# ------------------------------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    train_images: int
    epochs: int
    seeds: list[int]
    step_s: float
    eval_s: float
    setup_s: float
    budget_s: float
    why: str
    estimate_s: float = 0.0
    undersized: bool = False
    notes: list[str] = field(default_factory=list)


def plan_runs(budget_s: float, step_s: float, eval_s: float, setup_s: float, batch: int, arms: int,
              full_images: int = 60000, min_epochs: int = 30, max_epochs: int = 60, min_seeds: int = 2,
              max_seeds: int = 4, min_images: int = 10000) -> Plan:
    """The largest study that fits ``budget_s``: first all images at >= ``min_epochs`` with ``min_seeds``, then
    longer (to ``max_epochs``), then more seeds; when even that does not fit, fewer images (down to
    ``min_images``), then fewer epochs."""

    def cost(images: int, epochs: int, seeds: int) -> float:
        per_epoch = max(1, images // batch) * step_s + eval_s
        return arms * seeds * (setup_s + epochs * per_epoch)

    def epochs_for(images: int, seeds: int) -> int:
        per_run = budget_s / (arms * seeds) - setup_s
        per_epoch = max(1, images // batch) * step_s + eval_s
        return int(per_run // per_epoch)

    images = full_images
    epochs = epochs_for(images, min_seeds)
    if epochs >= min_epochs:
        epochs = min(epochs, max_epochs)
        seeds = min_seeds
        while seeds < max_seeds and epochs_for(images, seeds + 1) >= max_epochs:
            seeds += 1
        why = f'all {images} images fit {epochs} epochs x {seeds} seeds'
        return Plan(images, epochs, list(range(seeds)), step_s, eval_s, setup_s, budget_s, why,
                    cost(images, epochs, seeds))
    # Too little time for the whole set: fewer images at min_epochs, then fewer epochs.
    per_run = budget_s / (arms * min_seeds) - setup_s
    fit = int((per_run / min_epochs - eval_s) / step_s) * batch if per_run > 0 else 0
    images = max(min_images, min(full_images, fit // 1000 * 1000))
    epochs = min(min_epochs, max(0, epochs_for(images, min_seeds)))
    undersized = epochs < min_epochs
    why = (f'{images} of {full_images} images fit {epochs} epochs x {min_seeds} seeds'
           + (f' (under the {min_epochs} epochs asked for: too little time)' if undersized else ''))
    return Plan(images, epochs, list(range(min_seeds)), step_s, eval_s, setup_s, budget_s, why,
                cost(images, epochs, min_seeds), undersized)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize()


def measure(cfg: Config, data: dict, arms: tuple[str, ...], warm: int = 8, timed: int = 20) -> tuple[float, float,
                                                                                                      float]:
    """Seconds per training step (the slowest arm), per evaluation, and to set a run up."""
    t0 = time.perf_counter()
    runs = {arm: Run(arm, 0, cfg, data['train'], 1) for arm in arms}
    setup = (time.perf_counter() - t0) / len(arms)
    worst = 0.0
    for run in runs.values():
        run.train_steps(warm)  # cudnn picks its algorithms; caches fill
        _sync(cfg.dev)
        t0 = time.perf_counter()
        run.train_steps(timed)
        _sync(cfg.dev)
        worst = max(worst, (time.perf_counter() - t0) / min(timed, run.steps_per_epoch))
    run = next(iter(runs.values()))
    run.evaluate(data['test'])
    t0 = time.perf_counter()
    run.evaluate(data['test'])
    _sync(cfg.dev)
    return worst, time.perf_counter() - t0, setup


# ------------------------------------------------------------------------------------------------- main


def summarise(runs: list[dict]) -> dict[str, Any]:
    """Mean and sd per arm over the seeds every arm finished, and each arm's paired difference to the baseline."""
    seeds = sorted({r['seed'] for r in runs})
    arms = sorted({r['arm'] for r in runs}, key=ARMS.index)
    complete = [s for s in seeds if all(any(r['seed'] == s and r['arm'] == a for r in runs) for a in arms)]
    keys = ['test_error', 'test_nll', 'test_ece', 'occluded_25_error']
    table: dict[str, Any] = {'seeds': complete, 'arms': {}}
    for arm in arms:
        mine = {r['seed']: r for r in runs if r['arm'] == arm and r['seed'] in complete}
        entry: dict[str, Any] = {}
        for k in keys:
            values = [mine[s][k] for s in complete]
            entry[k] = {'mean': statistics.mean(values) if values else None,
                        'sd': statistics.stdev(values) if len(values) > 1 else 0.0}
            if arm != 'baseline' and 'baseline' in arms:
                base = {r['seed']: r for r in runs if r['arm'] == 'baseline'}
                diffs = [mine[s][k] - base[s][k] for s in complete]
                entry[k]['vs_baseline'] = statistics.mean(diffs) if diffs else None
                entry[k]['vs_baseline_per_seed'] = diffs
        table['arms'][arm] = entry
    return table


def plot(result: dict, out: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    colours = {'baseline': '#4c72b0', 'cutmix': '#dd8452', 'mixup_cutmix': '#55a868'}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for arm in ARMS:
        curves = [r['curve'] for r in result['runs'] if r['arm'] == arm]
        if not curves:
            continue
        length = min(len(c) for c in curves)
        mean = [statistics.mean(c[i] for c in curves) for i in range(length)]
        ax1.plot(range(1, length + 1), mean, color=colours[arm], label=f'{arm} (mean of {len(curves)})')
    ax1.set(xlabel='epoch', ylabel='test error (%)', title='Test error during training')
    lo = min((min(r['curve']) for r in result['runs'] if r['curve']), default=0)
    ax1.set_ylim(max(0, lo - 1), lo + 8)
    ax1.grid(alpha=0.3)
    ax1.legend()
    summary = result['summary']['arms']
    for i, arm in enumerate(summary):
        m = summary[arm]['test_error']
        ax2.bar(i, m['mean'], yerr=m['sd'], color=colours[arm], capsize=4)
        ax2.text(i, m['mean'], f'{m["mean"]:.2f}', ha='center', va='bottom', fontsize=9)
    ax2.set_xticks(range(len(summary)), list(summary))
    ax2.set(ylabel='test error (%), mean ± sd', title='Final test error')
    low = min(summary[a]['test_error']['mean'] for a in summary)
    ax2.set_ylim(max(0, low - 2), None)
    ax2.grid(axis='y', alpha=0.3)
    p = result['plan']
    fig.suptitle(f'Fashion-MNIST on {result["device"]}: ResNet-18, {p["train_images"]} images, {p["epochs"]} epochs, '
                 f'{len(result["summary"]["seeds"])} seeds', fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--budget-s', type=float, default=240.0, help='seconds for the whole study, measuring included')
    p.add_argument('--data', default='.gpu-data/fashion-mnist', help='folder of the four idx files (.gz or not)')
    p.add_argument('--arms', nargs='+', default=list(ARMS), choices=ARMS)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--min-epochs', type=int, default=30)
    p.add_argument('--max-epochs', type=int, default=60)
    p.add_argument('--min-seeds', type=int, default=2)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--dry', action='store_true',
                   help='the pipeline in seconds on the CPU: a narrow net, 512 images (synthetic without the files), '
                        '2 epochs of a few steps, 2 seeds')
    p.add_argument('--json', help='write the plan, every run and the summary here')
    p.add_argument('--plot', help='write the figure (PNG) here')
    p.add_argument('--replot', metavar='JSON', help='only draw --plot from the JSON of an earlier (or cut-short) run')
    args = p.parse_args(argv)
    if args.replot:
        result = json.loads(Path(args.replot).read_text())
        result['summary'] = summarise(result['runs'])
        plot(result, args.plot)
        print(f'[study] wrote {args.plot} from {args.replot}')
        return 0
    start = time.perf_counter()
    arms = tuple(args.arms)

    if args.dry:
        torch.set_num_threads(1)  # a shared 2-core machine stalls every parallel op; one thread does not wait
        cfg = Config('cpu', batch=64, width=8, blocks=(1, 1, 1, 1), bf16=False)
        folder = Path(args.data)
        have = find(folder, FILES['train'][0]) is not None
        data, source = load_data(folder, cfg.dev, 512, 256, synthetic=not have)
    else:
        cfg = Config(args.device, batch=args.batch, bf16=args.device == 'cuda')
        data, source = load_data(Path(args.data), cfg.dev)
    if cfg.dev.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    n_train = data['train'][0].shape[0]
    print(f'[study] {source}: {n_train} training and {data["test"][0].shape[0]} test images on {cfg.device}',
          flush=True)

    step_s, eval_s, setup_s = measure(cfg, data, arms, warm=1 if args.dry else 8, timed=1 if args.dry else 20)
    left = args.budget_s - (time.perf_counter() - start)
    if args.dry:
        plan = Plan(n_train, 2, [0, 1], step_s, eval_s, setup_s, args.budget_s, 'dry run: 2 epochs x 2 seeds')
    else:
        plan = plan_runs(0.92 * left, step_s, eval_s, setup_s, cfg.batch, len(arms), n_train, args.min_epochs,
                         args.max_epochs, args.min_seeds)
    print(f'[study] {step_s * 1e3:.1f} ms per step, {eval_s:.2f} s per evaluation, {left:.0f} s left: {plan.why} '
          f'(estimate {plan.estimate_s:.0f} s)', flush=True)
    train = (data['train'][0][:plan.train_images], data['train'][1][:plan.train_images])

    runs: list[dict] = []
    device = torch.cuda.get_device_name() if cfg.dev.type == 'cuda' else f'CPU ({platform.processor() or "cpu"})'

    def result(stopped: str = '') -> dict[str, Any]:
        return {'device': device, 'torch': torch.__version__, 'source': source, 'dry': args.dry,
                'config': asdict(cfg), 'arms': list(arms), 'plan': asdict(plan), 'stopped': stopped, 'runs': runs,
                'summary': summarise(runs) if runs else None, 'wall_s': time.perf_counter() - start}

    deadline = start + args.budget_s
    stopped = ''
    if plan.epochs < 1:
        stopped = 'no time for a single epoch'
    for seed in plan.seeds:
        if stopped:
            break
        for arm in arms:
            remaining = deadline - time.perf_counter()
            needed = plan.estimate_s / max(1, len(plan.seeds) * len(arms))
            if runs and remaining < 0.9 * needed:
                stopped = f'stopped before {arm} seed {seed}: {remaining:.0f} s left, a run takes ~{needed:.0f} s'
                break
            t0 = time.perf_counter()
            run = Run(arm, seed, cfg, train, plan.epochs)
            curve = []
            for _ in range(plan.epochs):
                run.train_steps(2 if args.dry else None)
                curve.append(run.evaluate(data['test'])['test_error'])
            metrics = run.evaluate(data['test'], full=True)
            metrics.update(arm=arm, seed=seed, epochs=plan.epochs, curve=curve, train_loss=run.losses,
                           fit_time_s=time.perf_counter() - t0)
            runs.append(metrics)
            print(f'[study] {arm} seed {seed}: test error {metrics["test_error"]:.2f}%, NLL {metrics["test_nll"]:.3f}, '
                  f'ECE {metrics["test_ece"]:.2f}%, 25% blanked {metrics["occluded_25_error"]:.2f}% '
                  f'({metrics["fit_time_s"]:.0f} s)', flush=True)
            if args.json:  # after every run, so a study cut short keeps what it finished
                Path(args.json).write_text(json.dumps(result(f'cut short after {arm} seed {seed}'), indent=1))
    if stopped:
        print(f'[study] {stopped}', flush=True)

    out = result(stopped)
    if runs:
        for arm, entry in out['summary']['arms'].items():
            e = entry['test_error']
            vs = f', {e["vs_baseline"]:+.2f} vs baseline' if e.get('vs_baseline') is not None else ''
            print(f'[study] {arm:13s} test error {e["mean"]:.2f} ± {e["sd"]:.2f}%{vs} '
                  f'(seeds {out["summary"]["seeds"]})')
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f'[study] wrote {args.json}')
    if args.plot and runs:
        plot(out, args.plot)
        print(f'[study] wrote {args.plot}')
    return 0 if runs else 1


if __name__ == '__main__':
    sys.exit(main())
