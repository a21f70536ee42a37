"""Bar chart of a ``mix_speed.py --json`` file: one panel per (op, shape, dtype, device), median ms per method.

Usage::

    python benchmarks/plot_mix_speed.py --json mix_speed.json [--out docs/mix_speed.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional

__all__ = ['main', 'plot']

PEERS = {'composer': 'Composer', 'timm': 'timm', 'torchvision': 'torchvision', 'kornia': 'kornia',
         'mmpretrain': 'mmpretrain'}
COLOURS = {'ours': '#1f77b4', 'composer': '#d62728', 'floor': '#7f7f7f', 'peer': '#ff7f0e'}


def _group(key: str) -> str:
    if key.startswith('ours'):
        return 'ours'
    if key.startswith('floor'):
        return 'floor'
    return 'composer' if key == 'composer' else 'peer'


def _floor_key(entry: dict) -> str:
    """The floor a panel is drawn against (older files, CutMix only, have no ``floor`` fact: the box copy)."""
    return entry['facts'].get('floor', 'floor_box')


def plot(payload: dict, out: str, title: str = '') -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    cases = payload['cases']
    cols = 2
    rows = (len(cases) + cols - 1) // cols
    width, height = 7.5 * cols, 3.9 * rows
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    # Margins in inches, set once: tight_layout would lay out every panel's text a second time only to measure it
    # (a third of the plot's time), and it let the figure's title run into the top row's titles.
    left, right, across, top, bottom, down = 2.3, 0.3, 2.5, 0.8, 0.55, 0.95  # `across`, `down`: between panels
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        wspace=across / ((width - left - right - across * (cols - 1)) / cols),
                        hspace=down / ((height - top - bottom - down * (rows - 1)) / rows))
    for ax, entry in zip(axes.flat, cases):
        case = entry['case']
        measured = [r for r in entry['rows'] if r['median_ms'] is not None]
        labels = [r['label'] for r in measured][::-1]
        values = [r['median_ms'] for r in measured][::-1]
        colours = [COLOURS[_group(r['key'])] for r in measured][::-1]
        bars = ax.barh(labels, values, color=colours)
        ax.set_xscale('log')
        ax.set_xlim(min(values) / 1.5, max(values) * 6)
        floor_key = _floor_key(entry)
        floor = next(r['median_ms'] for r in entry['rows'] if r['key'] == floor_key)
        name = {'floor_box': 'box', 'floor_mix': 'floor', 'floor_gather': 'gather', 'floor_resize': 'resize',
                'floor_mask': 'floor'}.get(floor_key, 'floor')
        ax.axvline(floor, color=COLOURS['floor'], linestyle=':', linewidth=1)
        for bar, value in zip(bars, values):
            shown = f'{value:.0f}' if value >= 100 else f'{value:.3g}'
            ax.text(value * 1.08, bar.get_y() + bar.get_height() / 2, f'{shown} ms ({value / floor:.1f}x {name})',
                    va='center', fontsize=7.5)
        shape = 'x'.join(str(d) for d in case['shape'])
        op = {'cutmix': 'CutMix', 'mixup': 'MixUp', 'resizemix': 'ResizeMix', 'fmix': 'FMix'}[case.get('op', 'cutmix')]
        ax.set_title(f'{op}: {case["name"]} {shape} {case["dtype"]} on {case["device"]}', fontsize=10)
        ax.set_xlabel(f'median ms per batch (log scale); dotted line: {floor_key.replace("_", " ")}', fontsize=8)
        ax.tick_params(axis='y', labelsize=8)
    for ax in list(axes.flat)[len(cases):]:
        ax.axis('off')
    ran = {r['key'] for entry in cases for r in entry['rows'] if r['median_ms'] is not None}
    peers = [name for key, name in PEERS.items() if key in ran]  # the ones that ran, not the ones tried
    fig.suptitle(title or f'One mixing step: ours vs {", ".join(peers)} and the floors', fontsize=11,
                 y=1 - 0.3 / height)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--json', required=True, help='output of benchmarks/mix_speed.py --json')
    p.add_argument('--out', default='docs/mix_speed.png', help='PNG to write (default: docs/mix_speed.png)')
    args = p.parse_args(argv)
    with open(args.json) as f:
        plot(json.load(f), args.out)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
