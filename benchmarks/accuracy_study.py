"""What the mixers buy on Fashion-MNIST: baseline, CutMix, MixUp, the MixUp/CutMix switch, ResizeMix, FMix and
RandomMix, several seeds.

    python benchmarks/accuracy_study.py                  # the main study in docs/: 7 arms x 3 seeds, 20 epochs, 15k
    python benchmarks/accuracy_study.py --name study_small --train-subset 2000 --epochs 100 --eval-interval 5ep \
        --seeds 0 1 --threads 1                          # the small-data point, in its own files
    python benchmarks/accuracy_study.py --arms mixup --threads 1 &      # two single-threaded processes can share a
    python benchmarks/accuracy_study.py --arms mixup_cutmix --threads 1 # study: the runs file is locked and merged
    python benchmarks/accuracy_study.py --dry-run        # which runs would train, which are done already
    python benchmarks/accuracy_study.py --report-only    # tables and plots again from the runs already stored
    python benchmarks/accuracy_study.py --train-subset 0 --epochs 30 --seeds 0 1 2 3 4   # all 60k images, on a GPU
    python benchmarks/accuracy_study.py --smoke --out /tmp/study          # seconds: the pipeline end to end

The arms (:data:`ARMS`) are YAML runs that share the ResNet-8, data, augmentation, optimiser and schedule of
``yamls/fashion_mnist.yaml`` and differ only in their ``algorithms:`` section: ``yamls/fashion_mnist_baseline.yaml``
(no mixer), ``yamls/fashion_mnist.yaml`` (CutMix, alpha 1), ``yamls/fashion_mnist_mixup.yaml`` (MixUp, alpha 0.2),
``yamls/fashion_mnist_mix.yaml`` (DeiT's switch: MixUp 0.8 / CutMix 1.0, even odds, label smoothing 0.1),
``yamls/fashion_mnist_random_mix.yaml`` (RandomMix: MixUp 0.8, CutMix 1.0, ResizeMix, FMix, even odds), and the
baseline YAML plus one override section for ResizeMix (side ratio U(0.1, 0.8)) and FMix (alpha 1, decay power 3),
each at its paper's values. By default every arm trains on the first 15,000 training images for 20 epochs: the
compute of 5 full epochs, but long enough for the baseline to fit its training set, which is where a regulariser can
show what it buys (on all 60,000 images a 2-core budget ends before the baseline overfits). For every run it records
the learning curve (from the run's ``metrics.jsonl``) and, on the 10,000 test images, the error, the NLL, the expected
calibration error (15 bins) and the error under occlusion: one random square patch per image, covering 10%, 25% or
50% of it, filled with the data set's mean (the same patches for every model).

Finished runs are kept in ``OUT/NAME_runs.json`` with the settings that produced them (epochs, training images) and the
code's commit; a rerun skips those that match and trains the rest, so an interrupted study resumes. A run is matched
by arm, seed and those settings, not by the arm's YAML or overrides: adding an arm trains that arm and keeps the
others. ``--supersede ARM`` sets an arm's stored runs aside (kept in the file, marked superseded, left out of the
tables) so that it is trained again, e.g. after a change to that method's code.

Writes ``OUT/accuracy_NAME_results.md`` (the tables), ``OUT/NAME_curves.png``, ``OUT/NAME_comparison.png`` and
``OUT/NAME_runs.json`` (``NAME`` is ``--name``, ``study`` by default).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ''):  # run as a file: the repository root on the path, as `python -m` would have it
    sys.path.insert(0, str(REPO))

from benchmarks.evaluation import expected_calibration_error, occlude  # noqa: E402
from composer_cutmix.runner.config import load_config  # noqa: E402
from composer_cutmix.runner.data import FASHION_MNIST_DIR, build_dataloader  # noqa: E402
from composer_cutmix.runner.train import build_trainer  # noqa: E402


@dataclass(frozen=True)
class Arm:
    """One arm of the study: a YAML run plus the ``key=value`` overrides that make it this arm, and its name and
    colour in the tables and plots. The overrides are part of the arm, not of the study's settings: runs stored
    before an arm gained them are still its runs (``--supersede ARM`` trains them again)."""

    yaml: str
    label: str
    color: str
    overrides: tuple[str, ...] = ()


# The order of the tables and plots. Every arm is the main recipe (yamls/fashion_mnist.yaml: model, data,
# augmentation, optimiser, schedule) with only its mixer changed; fashion_mnist_baseline.yaml is that recipe with
# no mixer, so an arm without a YAML of its own adds its mixer's section to it.
ARMS = {
    'baseline': Arm('yamls/fashion_mnist_baseline.yaml', 'baseline', '#4c72b0'),
    'cutmix': Arm('yamls/fashion_mnist.yaml', 'CutMix', '#dd8452'),
    'mixup': Arm('yamls/fashion_mnist_mixup.yaml', 'MixUp', '#55a868'),
    'mixup_cutmix': Arm('yamls/fashion_mnist_mix.yaml', 'MixUp/CutMix', '#c44e52'),
    'resizemix': Arm('yamls/fashion_mnist_baseline.yaml', 'ResizeMix', '#8172b3',
                     ('algorithms.resizemix.scale=[0.1,0.8]',)),  # the paper's side ratios
    'fmix': Arm('yamls/fashion_mnist_baseline.yaml', 'FMix', '#937860',
                ('algorithms.fmix.alpha=1.0', 'algorithms.fmix.decay_power=3.0')),  # the paper's values
    'random_mix': Arm('yamls/fashion_mnist_random_mix.yaml', 'RandomMix', '#da8bc3'),  # the four ops, even odds
}
OCCLUSIONS = (0.10, 0.25, 0.50)
LABELS = {
    'test_error': 'test error (%)', 'test_nll': 'test NLL', 'test_ece': 'ECE, 15 bins (%)',
    'occluded_10_error': 'error, 10% occluded (%)', 'occluded_25_error': 'error, 25% occluded (%)',
    'occluded_50_error': 'error, 50% occluded (%)', 'train_error': 'train error, clean images (%)',
}


def have_fashion_mnist() -> bool:
    return any(Path(FASHION_MNIST_DIR).glob('train-images-idx3-ubyte*'))


def study_config(args: argparse.Namespace) -> dict:
    """The settings a stored run must share with this command to count as one of its runs."""
    if args.smoke:
        return {'smoke': True}
    config = {'epochs': args.epochs, 'train_subset': args.train_subset}
    if args.set:
        config['set'] = sorted(args.set)
    return config


def overrides(arm: str, seed: int, args: argparse.Namespace) -> list[str]:
    """The arm's own overrides, then the run's (seed, folder, duration, data subset), then ``--set``'s."""
    run = f'{args.name}-{arm}-s{seed}'
    o = [*ARMS[arm].overrides, f'seed={seed}', f'run_name={run}', f'run_folder={args.runs}/{run}',
         'loggers.progress_bar=false', 'loggers.console_log_interval=1ep', 'save_folder=null']
    if args.smoke:
        o += ['max_duration=4ba', 'eval_interval=2ba', 'train_data.batch_size=32', 'eval_data.batch_size=64',
              'train_data.subset=256', 'eval_data.subset=128']
        if not have_fashion_mnist():
            o += ['train_data.name=synthetic', 'eval_data.name=synthetic']
    else:
        o += [f'max_duration={args.epochs}ep']
        if args.eval_interval:
            o += [f'eval_interval={args.eval_interval}']
        if args.train_subset:
            o += [f'train_data.subset={args.train_subset}']
    return o + list(args.set)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, occlusion_seed: int = 1234) -> dict[str, float]:
    """Test error, NLL, ECE (15 bins) and occluded errors of a trained classifier (``benchmarks.evaluation``)."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(occlusion_seed)  # on the CPU: the squares of the runs already stored
    n = correct = 0
    nll = 0.0
    probs, labels = [], []
    occluded_correct = dict.fromkeys(OCCLUSIONS, 0)
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        logits = model((X, y)).float()
        nll += F.cross_entropy(logits, y, reduction='sum').item()
        correct += (logits.argmax(1) == y).sum().item()
        probs.append(logits.softmax(1).cpu())
        labels.append(y.cpu())
        n += len(y)
        for frac in OCCLUSIONS:
            Xo = occlude(X, frac, gen)  # filled with 0, the data set's mean after normalisation
            occluded_correct[frac] += (model((Xo, y)).argmax(1) == y).sum().item()
    ece = expected_calibration_error(torch.cat(probs), torch.cat(labels), bins=15)
    out = {'test_error': 100 * (1 - correct / n), 'test_nll': nll / n, 'test_ece': 100 * ece, 'test_images': n}
    for frac, c in occluded_correct.items():
        out[f'occluded_{int(frac * 100)}_error'] = 100 * (1 - c / n)
    return out


@torch.no_grad()
def train_error(model: torch.nn.Module, data_cfg, seed: int) -> float:
    """Error on the run's own training images, unaugmented and unmixed: 0 when the model has memorised them."""
    from omegaconf import OmegaConf

    cfg = {**OmegaConf.to_container(OmegaConf.create(data_cfg)), 'augment': False, 'shuffle': False,
           'drop_last': False, 'batch_size': 500}
    model.eval()
    device = next(model.parameters()).device
    n = correct = 0
    for X, y in build_dataloader(cfg, train=True, seed=seed):
        X, y = X.to(device), y.to(device)
        correct += (model((X, y)).argmax(1) == y).sum().item()
        n += len(y)
    return 100 * (1 - correct / n)


def curve(run_folder: str) -> dict[str, list]:
    """Eval error and train loss per logged step, from the run's metrics.jsonl."""
    epochs, errors, losses = [], [], []
    path = Path(run_folder) / 'metrics.jsonl'
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if 'metrics/eval/MulticlassAccuracy' in rec:
            epochs.append(rec.get('epoch', rec.get('time/epoch', len(epochs) + 1)))  # eval records carry 'epoch'
            errors.append(100 * (1 - rec['metrics/eval/MulticlassAccuracy']))
        if 'loss/train/total' in rec:
            losses.append((rec.get('time/batch', len(losses)), rec['loss/train/total']))
    return {'eval_error': errors, 'eval_epoch': epochs, 'train_loss': losses}


def git_commit() -> str:
    try:
        out = subprocess.run(['git', 'rev-parse', '--short=12', 'HEAD'], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def arm_config(arm: str, seed: int, args: argparse.Namespace):
    """The checked run config of ``arm``'s run with ``seed`` under this command's settings."""
    return load_config(REPO / ARMS[arm].yaml, overrides(arm, seed, args))


def run_one(arm: str, seed: int, args: argparse.Namespace) -> dict:
    from omegaconf import OmegaConf

    cfg = arm_config(arm, seed, args)
    trainer, _ = build_trainer(cfg)
    start = time.perf_counter()
    trainer.fit()
    fit_s = time.perf_counter() - start
    eval_loader = build_dataloader(cfg.eval_data, train=False, seed=seed)
    result = evaluate(trainer.state.model, eval_loader)
    result['train_error'] = train_error(trainer.state.model, cfg.train_data, seed)
    trainer.close()
    result.update(arm=arm, seed=seed, fit_time_s=fit_s, wall_time_s=time.perf_counter() - start,
                  epochs=int(trainer.state.timestamp.epoch),
                  train_images=int(trainer.state.timestamp.sample) // max(1, int(trainer.state.timestamp.epoch)),
                  batches=int(trainer.state.timestamp.batch), threads=torch.get_num_threads(),
                  eval_interval=str(cfg.eval_interval), algorithms=OmegaConf.to_container(cfg.algorithms),
                  curve=curve(cfg.run_folder))
    return result


# ------------------------------------------------------------------------------------------------ the runs file


@contextlib.contextmanager
def locked(store: Path):
    """Holds an exclusive lock beside ``store`` so that parallel processes merge their runs instead of racing."""
    key = hashlib.sha1(str(store.resolve()).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f'accuracy_study-{key}.lock', 'w') as lock:  # not beside the docs
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_runs(store: Path) -> list[dict]:
    return json.loads(store.read_text()) if store.exists() else []


def save_run(store: Path, result: dict) -> None:
    """Adds ``result`` to the file (re-read under the lock: another process may have added runs meanwhile)."""
    with locked(store):
        runs = load_runs(store)
        tmp = store.with_name(store.name + '.tmp')
        tmp.write_text(json.dumps([*runs, result], indent=1))
        os.replace(tmp, store)


def supersede(store: Path, arms: list[str], config: dict, why: str) -> int:
    """Marks the stored, current runs of ``arms`` under ``config`` as superseded; returns how many."""
    with locked(store):
        runs = load_runs(store)
        n = 0
        for r in runs:
            if r['arm'] in arms and r.get('config') == config and not r.get('superseded'):
                r['superseded'] = why
                n += 1
        store.write_text(json.dumps(runs, indent=1))
    return n


def current(runs: list[dict], config: dict) -> list[dict]:
    return [r for r in runs if r.get('config') == config and not r.get('superseded')]


def missing(runs: list[dict], config: dict, wanted: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The ``(arm, seed)`` pairs of ``wanted`` that ``runs`` lacks under the study's settings ``config``. A run is
    matched by arm, seed and settings only: an arm's own overrides are not part of the match, so adding an arm
    leaves the stored runs of the others done."""
    done = {(r['arm'], r['seed']) for r in current(runs, config)}
    return [key for key in wanted if key not in done]


# ---------------------------------------------------------------------------------------------------- the tables


def summarise(runs: list[dict]) -> dict[str, dict[str, tuple[float, float, int]]]:
    """arm -> metric -> (mean, sd, number of seeds), for the arms that have runs, in :data:`ARMS` order."""
    table = {}
    for arm in ARMS:
        mine = [r for r in runs if r['arm'] == arm]
        if not mine:
            continue
        table[arm] = {k: (statistics.mean(r[k] for r in mine),
                          statistics.stdev(r[k] for r in mine) if len(mine) > 1 else 0.0, len(mine))
                      for k in LABELS if all(k in r for r in mine)}  # runs stored before train_error lack it
    return table


def _spread(value: float, spread: float, n: int, fmt: str) -> str:
    """``value ± spread``; a single seed has no spread to show, so then the value alone."""
    return f'{value:{fmt}}' + (f' ± {spread:{fmt.lstrip("+")}}' if n > 1 else '')


def delta(table: dict, arm: str, key: str) -> tuple[float, float]:
    """``arm`` minus baseline and its standard error (sqrt(sd_a^2/n_a + sd_b^2/n_b), unpaired seeds)."""
    (ma, sa, na), (mb, sb, nb) = table[arm][key], table['baseline'][key]
    return ma - mb, math.sqrt(sa ** 2 / na + sb ** 2 / nb)


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    cpu = platform.processor() or 'CPU'
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return f'{cpu} ({os.cpu_count()} cores)'


def command(args: argparse.Namespace) -> str:
    """The command that trains (or resumes) this study, with its settings and without the run plumbing."""
    parts = ['python benchmarks/accuracy_study.py'] + (['--smoke'] if args.smoke else [])
    if args.name != 'study':
        parts += ['--name', args.name]
    if not args.smoke:
        parts += [] if args.train_subset == 15000 else ['--train-subset', str(args.train_subset)]
        parts += [] if args.epochs == 20 else ['--epochs', str(args.epochs)]
        parts += ['--eval-interval', args.eval_interval] if args.eval_interval else []
        parts += ['--set', *args.set] if args.set else []
    return ' '.join(parts + ([] if args.seeds == [0, 1, 2] else ['--seeds', *map(str, args.seeds)]))


def measured(table: dict) -> dict[str, str]:
    """The rows of :data:`LABELS` that every arm of ``table`` has."""
    return {k: v for k, v in LABELS.items() if all(k in m for m in table.values())}


def _fmt(key: str) -> str:
    return '.3f' if key == 'test_nll' else '.2f'


def write_markdown(runs: list[dict], superseded: list[dict], table: dict, args: argparse.Namespace,
                   path: Path) -> None:
    import composer

    arms = list(table)
    seeds = sorted({r['seed'] for r in runs})
    threads = sorted({r.get('threads', 2) for r in runs})
    commits = sorted({r.get('commit', 'before the commit was recorded') for r in runs})
    lines = [
        f'# Accuracy study ({args.name}): results',
        '',
        f'Device: {device_name()}, torch threads per run: {", ".join(map(str, threads))}; torch '
        f'{torch.__version__}, Composer {composer.__version__}. Command: '
        f'`{command(args)}`. Code: {", ".join(commits)}.',
        f'Runs: {len(runs)} ({", ".join(ARMS[a].label for a in arms)} x seeds {seeds}), {runs[0]["epochs"]} epochs '
        f'({runs[0]["batches"]} batches of 128) each on {runs[0].get("train_images", 0):,} training images per epoch; '
        f'fit time per run {min(r["fit_time_s"] for r in runs):.0f}-{max(r["fit_time_s"] for r in runs):.0f} s '
        f'(mean {statistics.mean(r["fit_time_s"] for r in runs):.0f} s, total '
        f'{sum(r["fit_time_s"] for r in runs) / 60:.0f} min). Test set: {runs[0].get("test_images", 10000):,} images.',
        'Arms: ' + '; '.join(f'{ARMS[a].label} = `{" ".join([ARMS[a].yaml, *ARMS[a].overrides])}`' for a in arms) + '.',
        '',
        '| metric (mean ± sd over seeds) | ' + ' | '.join(ARMS[a].label for a in arms) + ' |',
        '|---' * (len(arms) + 1) + '|',
    ]
    for key, label in measured(table).items():
        cells = [_spread(*table[a][key], _fmt(key)) for a in arms]
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    others = [a for a in arms if a != 'baseline']
    if 'baseline' in table and others:
        lines += ['', '| arm − baseline (± standard error) | ' + ' | '.join(ARMS[a].label for a in others) + ' |',
                  '|---' * (len(others) + 1) + '|']
        for key, label in measured(table).items():
            cells = []
            for a in others:
                n = min(table[a][key][2], table['baseline'][key][2])
                cells.append(_spread(*delta(table, a, key), n, '+' + _fmt(key)))
            lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    lines += ['', '| run | test error (%) | NLL | ECE (%) | 10% / 25% / 50% occluded error (%) | train error (%) | '
              'fit time (s) | threads |', '|---|---|---|---|---|---|---|---|']
    for r in sorted(runs, key=lambda r: (list(ARMS).index(r['arm']), r['seed'])):
        train = f'{r["train_error"]:.2f}' if 'train_error' in r else '—'
        lines.append(f'| {ARMS[r["arm"]].label} seed {r["seed"]} | {r["test_error"]:.2f} | {r["test_nll"]:.3f} | '
                     f'{r["test_ece"]:.2f} | {r["occluded_10_error"]:.2f} / {r["occluded_25_error"]:.2f} / '
                     f'{r["occluded_50_error"]:.2f} | {train} | {r["fit_time_s"]:.0f} | {r.get("threads", 2)} |')
    if superseded:
        lines += ['', 'Superseded runs (kept in the runs file, left out of the tables above):', '',
                  '| run | why | test error (%) | NLL | ECE (%) | 10% / 25% / 50% occluded error (%) |',
                  '|---|---|---|---|---|---|']
        for r in sorted(superseded, key=lambda r: (list(ARMS).index(r['arm']), r['seed'])):
            lines.append(f'| {ARMS[r["arm"]].label} seed {r["seed"]} | {r["superseded"]} | {r["test_error"]:.2f} | '
                         f'{r["test_nll"]:.3f} | {r["test_ece"]:.2f} | {r["occluded_10_error"]:.2f} / '
                         f'{r["occluded_25_error"]:.2f} / {r["occluded_50_error"]:.2f} |')
    path.write_text('\n'.join(lines) + '\n')


# ----------------------------------------------------------------------------------------------------- the plots


def _mean_curve(series: list[list[float]]) -> tuple[list[float], list[float], list[float]]:
    n = min(len(s) for s in series)
    cols = [[s[i] for s in series] for i in range(n)]
    return [statistics.mean(c) for c in cols], [min(c) for c in cols], [max(c) for c in cols]


def plot(runs: list[dict], table: dict, out: Path, name: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    arms = list(table)
    n_seeds = max(v['test_error'][2] for v in table.values())
    title = (f'Fashion-MNIST, {runs[0].get("train_images", 0):,} training images per epoch, ResNet-8, '
             f'{runs[0]["epochs"]} epochs; '
             f'{n_seeds} seed(s) per arm')
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.6))
    floor = []
    fracs = [0] + [int(f * 100) for f in OCCLUSIONS]
    for n, arm in enumerate(arms):
        mine = [r for r in runs if r['arm'] == arm]
        color, label = ARMS[arm].color, ARMS[arm].label
        errors = [r['curve']['eval_error'] for r in mine if r['curve']['eval_error']]
        if errors:
            mean, lo, hi = _mean_curve(errors)
            epochs = next(r['curve'].get('eval_epoch') or [] for r in mine)[:len(mean)] or range(1, len(mean) + 1)
            ax1.plot(epochs, mean, color=color, label=label, lw=1.6)
            ax1.fill_between(epochs, lo, hi, color=color, alpha=0.15, lw=0)
            floor += [min(mean), mean[len(mean) // 4]]
        losses = [r['curve']['train_loss'] for r in mine if r['curve']['train_loss']]
        if losses:
            steps = [s for s, _ in losses[0]]
            mean, _, _ = _mean_curve([[v for _, v in x] for x in losses])
            k = max(1, len(mean) // 80)
            smooth = [statistics.mean(mean[i:i + k]) for i in range(0, len(mean), k)]
            ax2.plot(steps[::k][:len(smooth)], smooth, color=color, label=label, lw=1.4)
        means = [table[arm]['test_error'][0]] + [table[arm][f'occluded_{f}_error'][0] for f in fracs[1:]]
        sds = [table[arm]['test_error'][1]] + [table[arm][f'occluded_{f}_error'][1] for f in fracs[1:]]
        shift = 0.5 * (n - (len(arms) - 1) / 2)  # side by side, so that the arms' error bars do not hide each other
        ax3.errorbar([f + shift for f in fracs], means, yerr=sds, color=color, label=label, marker='o', capsize=3,
                     lw=1.6)
    if floor:  # the first epochs' errors would squash the part of the curve that tells the arms apart
        ax1.set_ylim(min(floor) * 0.9, max(floor) * 1.15)
    ax1.set(xlabel='epoch', ylabel='test error (%)', title='Test error during training (mean; band: min-max)')
    ax2.set(xlabel='batch', ylabel='training loss (mean over seeds)',
            title='Training loss, against each arm\'s own (mixed, smoothed) targets')
    ax3.set(xlabel='share of the image occluded (%)', ylabel='test error (%)', xticks=fracs,
            title='Error under occlusion (mean ± sd)')
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out / f'{name}_curves.png', dpi=110)
    plt.close(fig)

    keys = list(measured(table))
    others = [a for a in arms if a != 'baseline'] if 'baseline' in table else []
    rows = 2 if others else 1
    width = 1.0 + 0.4 * len(arms)  # per metric: room for each arm's bar and its value
    fig, axes = plt.subplots(rows, len(keys), figsize=(width * len(keys), 3.5 * rows + 0.4), squeeze=False)
    for col, key in enumerate(keys):
        ax = axes[0][col]
        for i, arm in enumerate(arms):
            mean, sd, _ = table[arm][key]
            ax.bar(i, mean, yerr=sd, color=ARMS[arm].color, capsize=3, alpha=0.85)
            seeds = [r[key] for r in runs if r['arm'] == arm]
            ax.scatter([i] * len(seeds), seeds, color='black', s=6, zorder=3)
            ax.text(i, mean + sd, f'{mean:{_fmt(key)}}', ha='center', va='bottom', fontsize=7)
        ax.set_xticks(range(len(arms)), [ARMS[a].label for a in arms], rotation=30, ha='right', fontsize=8)
        ax.set_title(LABELS[key], fontsize=9)
        ax.grid(axis='y', alpha=0.3)
        ax.margins(y=0.1)  # room above the tallest bar for its value
        if others:
            ax = axes[1][col]
            for i, arm in enumerate(others):
                d, se = delta(table, arm, key)
                ax.bar(i, d, yerr=se, color=ARMS[arm].color, capsize=3, alpha=0.85)
                ax.text(i, d + se if d >= 0 else d - se, f'{d:+{_fmt(key)}}', ha='center',
                        va='bottom' if d >= 0 else 'top', fontsize=7)
            ax.axhline(0, color='black', lw=0.8)
            ax.set_xticks(range(len(others)), [ARMS[a].label for a in others], rotation=30, ha='right', fontsize=8)
            ax.set_title(f'Δ vs baseline: {LABELS[key]}', fontsize=8)
            ax.grid(axis='y', alpha=0.3)
            ax.margins(y=0.15)
    axes[0][0].set_ylabel('mean ± sd; dots: seeds')
    if others:
        axes[1][0].set_ylabel('arm − baseline ± s.e.\n(lower is better)')
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out / f'{name}_comparison.png', dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------- main


def report(store: Path, config: dict, args: argparse.Namespace, out: Path) -> bool:
    stored = load_runs(store)
    runs = [r for r in current(stored, config) if r['seed'] in args.seeds]
    if not runs:
        print(f'[study] no finished runs in {store} for these settings yet', flush=True)
        return False
    superseded = [r for r in stored if r.get('config') == config and r.get('superseded') and r['seed'] in args.seeds]
    table = summarise(runs)
    results = out / f'accuracy_{args.name}_results.md'
    write_markdown(runs, superseded, table, args, results)
    plot(runs, table, out, args.name)
    print(results.read_text())
    print(f'[study] wrote {results}, {args.name}_curves.png, {args.name}_comparison.png ({store})', flush=True)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--train-subset', type=int, default=15000, help='train on the first N images (0: all 60,000)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--arms', nargs='+', choices=list(ARMS), default=list(ARMS), help='which arms to train')
    parser.add_argument('--name', default='study', help='prefix of the files this study writes (its own runs file)')
    parser.add_argument('--out', default=str(REPO / 'docs'), help='where the tables, plots and runs file go')
    parser.add_argument('--runs', default=str(REPO / 'runs' / 'study'), help='run folders (metrics.jsonl)')
    parser.add_argument('--eval-interval', default=None,
                        help="how often the learning curve is sampled on the test set (e.g. 5ep; default: the YAML's 1ep)")
    parser.add_argument('--set', nargs='+', default=[], metavar='KEY=VALUE',
                        help='config overrides for every arm (e.g. model.width=32); part of the study\'s settings')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads per run (0: torch\'s default)')
    parser.add_argument('--smoke', action='store_true', help='4 batches per run on a data subset, one seed')
    parser.add_argument('--fresh', action='store_true', help='train every run again (the stored ones are replaced)')
    parser.add_argument('--supersede', nargs='+', choices=list(ARMS), default=[], metavar='ARM',
                        help='set these arms\' stored runs aside (kept, marked) and train them again')
    parser.add_argument('--why', default='the code changed', help='the reason recorded with --supersede')
    parser.add_argument('--report-only', action='store_true', help='write the tables and plots, train nothing')
    parser.add_argument('--dry-run', action='store_true',
                        help='list the runs that would train and those already done, then stop (writes nothing)')
    args = parser.parse_args(argv)
    if args.dry_run and (args.fresh or args.supersede):
        parser.error('--dry-run writes nothing, so it cannot go with --fresh or --supersede (they write the runs file)')
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        args.seeds = args.seeds[:1] if args.seeds != [0, 1, 2] else [0]
        args.runs = str(Path(args.out) / 'runs')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / f'{args.name}_runs.json'
    config = study_config(args)
    if args.fresh and store.exists():
        with locked(store):
            kept = [r for r in load_runs(store) if r.get('config') != config]
            store.write_text(json.dumps(kept, indent=1))
    if args.supersede:
        n = supersede(store, args.supersede, config, args.why)
        print(f'[study] set {n} stored run(s) of {", ".join(args.supersede)} aside: {args.why}', flush=True)
    plan = [] if args.report_only else [(arm, seed) for seed in args.seeds for arm in args.arms]
    todo = missing(load_runs(store), config, plan)
    if args.dry_run:
        for arm, seed in plan:
            print(f'[study] {arm} seed {seed}: {"would train" if (arm, seed) in todo else "done already, kept"}')
        print(f'[study] {len(todo)} run(s) to train, {len(plan) - len(todo)} done already ({store})', flush=True)
        return 0
    commit = git_commit()
    for arm, seed in plan:
        # asked again before training: another process sharing the runs file may have finished it meanwhile
        if (arm, seed) not in todo or not missing(load_runs(store), config, [(arm, seed)]):
            print(f'[study] {arm} seed {seed}: done already, kept', flush=True)
            continue
        print(f'[study] {arm} seed {seed}: training ({torch.get_num_threads()} threads)', flush=True)
        result = run_one(arm, seed, args)
        result.update(config=config, commit=commit, smoke=args.smoke)
        save_run(store, result)
        print(f'[study] {arm} seed {seed}: test error {result["test_error"]:.2f}%, NLL {result["test_nll"]:.3f}, '
              f'ECE {result["test_ece"]:.2f}%, 25%/50% occluded error {result["occluded_25_error"]:.2f}%/'
              f'{result["occluded_50_error"]:.2f}% ({result["fit_time_s"]:.0f} s)', flush=True)
    report(store, config, args, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
