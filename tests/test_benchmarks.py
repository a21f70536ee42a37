"""The benchmark scripts run end to end (``--quick``, ``--tiny``) and print their tables; no timing is asserted.

They run with ``--threads 1``: on a small machine that other processes share, torch's default of one thread per
core makes every parallel op wait for a descheduled thread, and a smoke test should not depend on the load.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180  # each script takes well under 30 s on 2 cores; the margin is for a loaded machine


def run_script(name: str, *args: str, quick: bool = True) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'benchmarks' / name), *(['--quick'] if quick else []), '--threads', '1', *args],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, f'{name} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}'
    return proc.stdout


def number_row(out: str, label: str) -> list[str]:
    """The lines that start with ``label`` followed by a time in ms (not a 'skipped' note)."""
    return re.findall(rf'^{re.escape(label)}\s+\d+\.\d+ .*$', out, flags=re.MULTILINE)


@pytest.mark.slow
def test_mix_speed_tiny_both_ops(tmp_path):
    out = run_script('mix_speed.py', '--tiny', '--op', 'all', '--device', 'cpu', '--json', str(tmp_path / 'mix.json'),
                     quick=False)

    assert 'torch threads 1' in out
    tables = re.findall(r'^== (cutmix|mixup) (imagenet|cifar) \(\d+, 3, \d+, \d+\) (float32|uint8) on cpu', out,
                        flags=re.MULTILINE)
    assert sorted(tables) == sorted((op, name, dtype) for op in ('cutmix', 'mixup') for name in ('imagenet', 'cifar')
                                    for dtype in ('float32', 'uint8'))
    assert len(re.findall(r'^method\s+ms\s+min ms\s+t/floor\s+t/Composer\s+MB moved\s+extra MB\s+in place$', out,
                          flags=re.MULTILINE)) == 8
    # CutMix: ours, Composer's and the floors ran in all four tables, on the same pinned box with the same result.
    for label in ('ours cutmix_batch (out of place)', 'ours cutmix_batch(inplace=True)',
                  "Composer's cutmix_batch + targets", 'floor: box copy (fresh buffer)',
                  'floor: clone + box gathered into it'):
        assert len(number_row(out, label)) == 4, label
    assert out.count('ours / Composer / floors give identical pixels: yes; ours and Composer give the same '
                     'targets: yes') == 4
    # MixUp: ours and Composer's in all four tables, the lerp floor in the two float32 ones; the same blend.
    for label in ('ours mixup_batch (out of place)', 'ours mixup_batch(inplace=True)',
                  "Composer's mixup_batch + targets", 'floor: gather the permuted batch'):
        assert len(number_row(out, label)) == 4, label
    for label in ('ours Algorithm step (in place)', 'floor: X.clone()'):  # in the tables of both ops
        assert len(number_row(out, label)) == 8, label
    assert len(number_row(out, 'floor: gather + in-place lerp')) == 2
    assert len(number_row(out, 'floor: lerp by cycles (1 sample)')) == 2
    assert len(number_row(out, 'floor: box copy by cycles (1 box)')) == 4
    assert len(number_row(out, 'timm Mixup (mixup, batch mode)')) == 2  # timm cannot blend uint8 in place
    assert out.count("ours / floor give identical pixels: yes; Composer's pixels agree up to float rounding: yes; "
                     'ours and Composer give the same targets: yes') == 4
    assert out.count("note: Composer's mixup_batch + targets returns float32 for uint8 input") == 2
    # Each floor is its own reference, 1.00x; in-place methods write into the batch, out-of-place ones do not.
    for label in ('floor: box copy (fresh buffer)', 'floor: gather + in-place lerp'):
        for row in number_row(out, label):
            assert ' 1.00x ' in row and row.endswith('yes')
    for label in ('ours cutmix_batch (out of place)', 'ours mixup_batch (out of place)'):
        for row in number_row(out, label):
            assert row.endswith(' no')
    assert '== targets ==' in out
    # CutMix, per table: vs the floor, out of place vs clone(), memory; the speed-up on both ImageNet tables.
    # MixUp, per table: vs the floor (n/a for uint8) and memory (float32 only); the speed-up on both ImageNet tables.
    assert len(re.findall(r'^\[(MET|MISSED|n/a) *\] cutmix ', out, flags=re.MULTILINE)) == 3 * 4 + 2
    assert len(re.findall(r'^\[(MET|MISSED|n/a) *\] mixup ', out, flags=re.MULTILINE)) == 4 + 2 + 2

    payload = json.loads((tmp_path / 'mix.json').read_text())
    assert len(payload['cases']) == 8
    rows = {r['key']: r for r in payload['cases'][0]['rows']}
    assert payload['cases'][0]['facts']['floor'] == 'floor_box'
    assert rows['floor_box']['median_ms'] > 0 and rows['floor_box']['vs_floor'] == 1.0
    assert rows['ours_inplace']['inplace'] is True and rows['ours_oop']['inplace'] is False
    mixup = [c for c in payload['cases'] if c['case']['op'] == 'mixup']
    assert [c['facts']['floor'] for c in mixup] == ['floor_mix', 'floor_mix', 'floor_gather', 'floor_gather']

    subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'plot_mix_speed.py'), '--json', str(tmp_path / 'mix.json'),
                    '--out', str(tmp_path / 'mix.png')], check=True, capture_output=True, timeout=TIMEOUT_S)
    assert (tmp_path / 'mix.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.slow
def test_train_overhead_tiny(tmp_path):
    out = run_script('train_overhead.py', '--tiny', '--device', 'cpu', '--json', str(tmp_path / 'train.json'),
                     quick=False)

    assert re.search(r'^== cifar_resnet8 on cpu, batch \(16, 1, 28, 28\), fp32, 10 classes', out, flags=re.MULTILINE)
    assert re.search(r'^config\s+step ms\s+img/s\s+vs none\s+middle half\s+mixing ms\s+mixing/step\s+syncs/step$',
                     out, flags=re.MULTILINE)
    assert len(number_row(out, 'no augmentation')) == 1
    assert len(number_row(out, 'ours: composer_cutmix.CutMix')) == 1
    assert len(number_row(out, "Composer's CutMix")) == 1
    assert out.count('n/a (no device)') == 2 + 3  # syncs inside the events, and the census of whole steps
    assert "== host-device syncs over whole steps (sync debug mode 'warn'" in out
    assert '== targets ==' in out
    assert re.search(r'^\[(MET|MISSED) *\] our CutMix costs < 1% of a step, mixing work', out, flags=re.MULTILINE)
    assert '[n/a   ] our CutMix asks for no host-device sync: no device' in out

    payload = json.loads((tmp_path / 'train.json').read_text())
    setup = payload['setup']
    for config in ('none', 'ours', 'composer'):
        # Every round timed all but the first step of each configuration's turn.
        assert len(payload['results'][config]['step_ms']) == setup['rounds'] * (setup['turn'] - 1)
        assert sorted(set(payload['results'][config]['round'])) == list(range(setup['rounds']))
    # The mixing events were timed for both CutMix runs, and nothing is timed without augmentation.
    assert all(t > 0 for t in payload['results']['ours']['mix_ms'])
    assert all(t > 0 for t in payload['results']['composer']['mix_ms'])
    assert all(t == 0 for t in payload['results']['none']['mix_ms'])
    assert payload['plain'] is False and [t['met'] for t in payload['targets']][2] is None


@pytest.mark.slow
def test_train_overhead_plain_loop_tiny(tmp_path):
    """The loop that stands in for the Trainer where Composer will not import: no augmentation vs our functions."""
    out = run_script('train_overhead.py', '--tiny', '--plain', '--device', 'cpu', '--json', str(tmp_path / 't.json'),
                     quick=False)
    assert 'plain PyTorch training loop, no Trainer: asked for (--plain)' in out
    assert len(number_row(out, 'plain loop, no augmentation')) == 1
    assert len(number_row(out, 'plain loop + ours (functional)')) == 1
    payload = json.loads((tmp_path / 't.json').read_text())
    assert payload['plain'] is True and sorted(payload['results']) == ['none', 'ours']
    assert all(t > 0 for t in payload['results']['ours']['mix_ms'])
