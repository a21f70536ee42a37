"""What CutMix buys on Fashion-MNIST: baseline vs CutMix, several seeds, one command.

    python benchmarks/accuracy_study.py                  # the study in docs/: 6 runs, ~40 min on 2 CPU cores
    python benchmarks/accuracy_study.py --train-subset 0 --epochs 30 --seeds 0 1 2 3 4   # all 60k images, on a GPU
    python benchmarks/accuracy_study.py --smoke --out /tmp/study          # seconds: the pipeline end to end

Both arms are the YAML runs ``yamls/fashion_mnist_baseline.yaml`` and ``yamls/fashion_mnist.yaml`` (the same
ResNet-8, data, augmentation, optimiser and schedule; only CutMix differs). By default both train on the first
15,000 training images for 20 epochs: the compute of 5 full epochs, but long enough for the baseline to fit its
training set, which is where a regulariser can show what it buys (on all 60,000 images a 2-core budget ends
before the baseline overfits). For every run it records the learning
curve (from the run's ``metrics.jsonl``) and, on the 10,000 test images, the error, the NLL, the expected
calibration error (15 bins) and the error under occlusion: one random square patch per image, covering 10%, 25%
or 50% of it, filled with the data set's mean (the same patches for every model). Finished runs are kept in
``OUT/study_runs.json`` and skipped when the command is rerun, so an interrupted study resumes.

Writes ``OUT/accuracy_study_results.md`` (the table), ``OUT/study_curves.png``, ``OUT/study_comparison.png`` and
``OUT/study_runs.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from composer_cutmix.runner.config import load_config  # noqa: E402
from composer_cutmix.runner.data import FASHION_MNIST_DIR, build_dataloader  # noqa: E402
from composer_cutmix.runner.train import build_trainer  # noqa: E402

ARMS = {'baseline': 'yamls/fashion_mnist_baseline.yaml', 'cutmix': 'yamls/fashion_mnist.yaml'}
OCCLUSIONS = (0.10, 0.25, 0.50)


def have_fashion_mnist() -> bool:
    return any(Path(FASHION_MNIST_DIR).glob('train-images-idx3-ubyte*'))


def overrides(arm: str, seed: int, args: argparse.Namespace) -> list[str]:
    run = f'{arm}-s{seed}'
    o = [f'seed={seed}', f'run_name=study-{run}', f'run_folder={args.runs}/{run}', 'loggers.progress_bar=false',
         'loggers.console_log_interval=1ep', 'save_folder=null']
    if args.smoke:
        o += ['max_duration=4ba', 'eval_interval=2ba', 'train_data.batch_size=32', 'eval_data.batch_size=64',
              'train_data.subset=256', 'eval_data.subset=128']
        if not have_fashion_mnist():
            o += ['train_data.name=synthetic', 'eval_data.name=synthetic']
    else:
        o += [f'max_duration={args.epochs}ep']
        if args.train_subset:
            o += [f'train_data.subset={args.train_subset}']
    return o


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, occlusion_seed: int = 1234) -> dict[str, float]:
    """Test error, NLL, ECE and occluded errors of a trained classifier."""
    from torchmetrics.classification import MulticlassCalibrationError

    model.eval()
    device = next(model.parameters()).device
    ece = MulticlassCalibrationError(num_classes=10, n_bins=15, norm='l1')
    gen = torch.Generator().manual_seed(occlusion_seed)
    n = correct = 0
    nll = 0.0
    occluded_correct = dict.fromkeys(OCCLUSIONS, 0)
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        logits = model((X, y)).float()
        nll += F.cross_entropy(logits, y, reduction='sum').item()
        correct += (logits.argmax(1) == y).sum().item()
        ece.update(logits.softmax(1).cpu(), y.cpu())
        n += len(y)
        img_h, img_w = X.shape[-2:]
        for frac in OCCLUSIONS:
            side_h, side_w = round(img_h * math.sqrt(frac)), round(img_w * math.sqrt(frac))
            y0 = torch.randint(0, img_h - side_h + 1, (len(y),), generator=gen)
            x0 = torch.randint(0, img_w - side_w + 1, (len(y),), generator=gen)
            rows = torch.arange(img_h)
            cols = torch.arange(img_w)
            mask = (((rows >= y0[:, None]) & (rows < y0[:, None] + side_h))[:, :, None]
                    & ((cols >= x0[:, None]) & (cols < x0[:, None] + side_w))[:, None, :])
            Xo = X.masked_fill(mask[:, None].to(device), 0.0)  # 0 = the data set's mean after normalisation
            occluded_correct[frac] += (model((Xo, y)).argmax(1) == y).sum().item()
    out = {'test_error': 100 * (1 - correct / n), 'test_nll': nll / n, 'test_ece': 100 * float(ece.compute())}
    for frac, c in occluded_correct.items():
        out[f'occluded_{int(frac * 100)}_error'] = 100 * (1 - c / n)
    return out


def curve(run_folder: str) -> dict[str, list]:
    """Eval error and train loss per logged step, from the run's metrics.jsonl."""
    epochs, errors, losses = [], [], []
    path = Path(run_folder) / 'metrics.jsonl'
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if 'metrics/eval/MulticlassAccuracy' in rec:
            epochs.append(rec.get('time/epoch', len(epochs) + 1))
            errors.append(100 * (1 - rec['metrics/eval/MulticlassAccuracy']))
        if 'loss/train/total' in rec:
            losses.append((rec.get('time/batch', len(losses)), rec['loss/train/total']))
    return {'eval_error': errors, 'eval_epoch': epochs, 'train_loss': losses}


def run_one(arm: str, seed: int, args: argparse.Namespace) -> dict:
    cfg = load_config(REPO / ARMS[arm], overrides(arm, seed, args))
    trainer, _ = build_trainer(cfg)
    start = time.perf_counter()
    trainer.fit()
    fit_s = time.perf_counter() - start
    eval_loader = build_dataloader(cfg.eval_data, train=False, seed=seed)
    result = evaluate(trainer.state.model, eval_loader)
    trainer.close()
    result.update(arm=arm, seed=seed, fit_time_s=fit_s, epochs=int(trainer.state.timestamp.epoch),
                  train_images=int(trainer.state.timestamp.sample) // max(1, int(trainer.state.timestamp.epoch)),
                  batches=int(trainer.state.timestamp.batch), curve=curve(cfg.run_folder))
    return result


def summarise(runs: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    keys = ['test_error', 'test_nll', 'test_ece'] + [f'occluded_{int(f * 100)}_error' for f in OCCLUSIONS]
    table = {}
    for arm in ARMS:
        mine = [r for r in runs if r['arm'] == arm]
        table[arm] = {k: (statistics.mean(r[k] for r in mine),
                          statistics.stdev(r[k] for r in mine) if len(mine) > 1 else 0.0) for k in keys}
    return table


LABELS = {
    'test_error': 'test error (%)', 'test_nll': 'test NLL', 'test_ece': 'ECE, 15 bins (%)',
    'occluded_10_error': 'error, 10% occluded (%)', 'occluded_25_error': 'error, 25% occluded (%)',
    'occluded_50_error': 'error, 50% occluded (%)',
}


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
    return f'{cpu}, {torch.get_num_threads()} threads'


def write_markdown(runs: list[dict], table: dict, args: argparse.Namespace, path: Path) -> None:
    seeds = sorted({r['seed'] for r in runs})
    lines = [
        '# Accuracy study: results',
        '',
        f'Device: {device_name()}; torch {torch.__version__}. Command: '
        f'`{" ".join(["python benchmarks/accuracy_study.py", *sys.argv[1:]])}`.',
        f'Runs: {len(runs)} ({", ".join(ARMS)} x seeds {seeds}), {runs[0]["epochs"]} epochs '
        f'({runs[0]["batches"]} batches) each on {runs[0].get("train_images", "?")} training images; '
        f'mean fit time {statistics.mean(r["fit_time_s"] for r in runs):.0f} s. Test set: all 10,000 images.',
        '',
        '| metric (mean ± sd over seeds) | baseline | CutMix | CutMix − baseline |',
        '|---|---|---|---|',
    ]
    for key, label in LABELS.items():
        b, c = table['baseline'][key], table['cutmix'][key]
        fmt = '.3f' if key == 'test_nll' else '.2f'
        lines.append(f'| {label} | {b[0]:{fmt}} ± {b[1]:{fmt}} | {c[0]:{fmt}} ± {c[1]:{fmt}} | {c[0] - b[0]:+{fmt}} |')
    lines += ['', '| run | test error (%) | NLL | ECE (%) | 50% occluded error (%) | fit time (s) |', '|---|---|---|---|---|---|']
    for r in sorted(runs, key=lambda r: (r['arm'], r['seed'])):
        lines.append(f'| {r["arm"]} seed {r["seed"]} | {r["test_error"]:.2f} | {r["test_nll"]:.3f} | '
                     f'{r["test_ece"]:.2f} | {r["occluded_50_error"]:.2f} | {r["fit_time_s"]:.0f} |')
    path.write_text('\n'.join(lines) + '\n')


def plot(runs: list[dict], table: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    colors = {'baseline': '#4c72b0', 'cutmix': '#dd8452'}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        c = r['curve']
        label = f'{r["arm"]}' if r['seed'] == min(x['seed'] for x in runs if x['arm'] == r['arm']) else None
        if c['eval_error']:
            ax1.plot(range(1, len(c['eval_error']) + 1), c['eval_error'], color=colors[r['arm']], marker='o',
                     alpha=0.8, label=label)
        if c['train_loss']:
            steps, losses = zip(*c['train_loss'])
            k = max(1, len(losses) // 60)
            smooth = [statistics.mean(losses[i:i + k]) for i in range(0, len(losses), k)]
            ax2.plot(steps[::k][:len(smooth)], smooth, color=colors[r['arm']], alpha=0.7, label=label)
    ax1.set(xlabel='evaluation (epoch)', ylabel='test error (%)', title='Test error during training')
    ax2.set(xlabel='batch', ylabel='training loss', title='Training loss (mixed targets for CutMix)')
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / 'study_curves.png', dpi=120)
    plt.close(fig)

    keys = list(LABELS)
    fig, axes = plt.subplots(1, len(keys), figsize=(2.3 * len(keys), 3.6))
    for ax, key in zip(axes, keys):
        for i, arm in enumerate(ARMS):
            mean, sd = table[arm][key]
            ax.bar(i, mean, yerr=sd, color=colors[arm], capsize=4)
            ax.text(i, mean, f'{mean:.2f}', ha='center', va='bottom', fontsize=8)
        ax.set_xticks(range(len(ARMS)), list(ARMS))
        ax.set_title(LABELS[key], fontsize=9)
        ax.grid(axis='y', alpha=0.3)
    fig.suptitle(f'Fashion-MNIST ({runs[0].get("train_images", "?")} training images), ResNet-8, '
                 f'{runs[0]["epochs"]} epochs, mean ± sd over {len(runs) // 2} seeds')
    fig.tight_layout()
    fig.savefig(out / 'study_comparison.png', dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--train-subset', type=int, default=15000, help='train on the first N images (0: all 60,000)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--out', default=str(REPO / 'docs'), help='where the table, plots and JSON go')
    parser.add_argument('--runs', default=str(REPO / 'runs' / 'study'), help='run folders (metrics.jsonl)')
    parser.add_argument('--smoke', action='store_true', help='4 batches per run on a data subset, one seed')
    parser.add_argument('--fresh', action='store_true', help='ignore finished runs in OUT/study_runs.json')
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds = args.seeds[:1] if args.seeds != [0, 1, 2] else [0]
        args.runs = str(Path(args.out) / 'runs')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / 'study_runs.json'
    runs = [] if args.fresh or not store.exists() else json.loads(store.read_text())
    runs = [r for r in runs if r['seed'] in args.seeds and r.get('smoke', False) == args.smoke]
    for seed in args.seeds:
        for arm in ARMS:
            if any(r['arm'] == arm and r['seed'] == seed for r in runs):
                print(f'[study] {arm} seed {seed}: done already, kept', flush=True)
                continue
            print(f'[study] {arm} seed {seed}: training', flush=True)
            result = run_one(arm, seed, args)
            result['smoke'] = args.smoke
            runs.append(result)
            store.write_text(json.dumps(runs, indent=1))
            print(f'[study] {arm} seed {seed}: test error {result["test_error"]:.2f}%, NLL {result["test_nll"]:.3f}, '
                  f'ECE {result["test_ece"]:.2f}%, 50% occluded error {result["occluded_50_error"]:.2f}% '
                  f'({result["fit_time_s"]:.0f} s)', flush=True)
    table = summarise(runs)
    write_markdown(runs, table, args, out / 'accuracy_study_results.md')
    plot(runs, table, out)
    print((out / 'accuracy_study_results.md').read_text())
    print(f'[study] wrote {out}/accuracy_study_results.md, study_curves.png, study_comparison.png, study_runs.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
