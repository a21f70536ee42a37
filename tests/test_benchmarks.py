"""The benchmark scripts run end to end (``--tiny``) and print their tables; no timing is asserted.

``mix_speed.py --tiny`` and ``train_overhead.py --tiny`` are steps of the GPU check's dry run, which the suite runs
once (the ``gpu_check_dry`` fixture): their tables and JSON are read from it rather than run a second time. The
plain-loop half of ``train_overhead.py`` runs here, where Composer is made unimportable, as on the GPU image.
Everything runs with ``--threads 1``: on a small machine that other processes share, torch's default of one thread
per core makes every parallel op wait for a descheduled thread, and a smoke test should not depend on the load.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180  # each script takes well under 30 s on 2 cores; the margin is for a loaded machine


def number_row(out: str, label: str) -> list[str]:
    """The lines that start with ``label`` followed by a time in ms (not a 'skipped' note)."""
    return re.findall(rf'^{re.escape(label)}\s+\d+\.\d+ .*$', out, flags=re.MULTILINE)


def step(dry, name: str) -> tuple[str, dict]:
    """The output and the JSON of one benchmark step of the GPU check's dry run."""
    assert dry.proc.returncode == 0, dry.output()[-4000:]
    return (dry.work / f'{name}.out').read_text(), json.loads((dry.work / f'{name}.json').read_text())


OPS = ('cutmix', 'mixup', 'resizemix', 'fmix')
# op -> the methods measured in every one of its tables (peers that cannot take uint8 are checked apart)
MEASURED = {
    'cutmix': {'ours_oop', 'ours_inplace', 'ours_algo', 'composer', 'timm', 'torchvision', 'floor_box',
               'floor_box_reused', 'floor_clone', 'floor_oop', 'floor_cycle'},
    'mixup': {'ours_oop', 'ours_inplace', 'ours_algo', 'composer', 'floor_gather', 'floor_clone', 'floor_cycle'},
    'resizemix': {'ours_oop', 'ours_inplace', 'ours_algo', 'floor_resize', 'floor_gathered', 'floor_clone',
                  'floor_cycle'},
    'fmix': {'ours_oop', 'ours_inplace', 'ours_algo', 'ours_draw', 'floor_mask', 'floor_gather', 'floor_clone',
             'floor_cycle'},
}
OUT_OF_PLACE = {'ours_oop', 'ours_draw', 'floor_clone', 'floor_gather', 'floor_oop', 'composer', 'torchvision',
                'kornia'}


def test_mix_speed_tiny_every_op(gpu_check_dry):
    """Read from the JSON the script writes, not from its printed table: which methods ran, on the same pixels,
    which wrote into the batch, and which targets were checked."""
    out, payload = step(gpu_check_dry, 'mix_speed')  # --tiny --op all --device cpu --threads 1
    assert 'torch threads 1' in out

    cases = {(c['case']['op'], c['case']['name'], c['case']['dtype']): c for c in payload['cases']}
    assert sorted(cases) == sorted((op, name, dtype) for op in OPS for name in ('imagenet', 'cifar')
                                   for dtype in ('float32', 'uint8'))
    for (op, name, dtype), case in cases.items():
        rows, facts = {r['key']: r for r in case['rows']}, case['facts']
        measured = {k for k, r in rows.items() if r['median_ms'] is not None}
        assert MEASURED[op] <= measured, (op, name, dtype, MEASURED[op] - measured)
        # every floor and ours give the pinned draw's pixels bit for bit, the cycle walk included
        assert facts['same_pixels'] is True and facts['cycle_pixels'] is True, (op, name, dtype)
        assert rows[facts['floor']]['vs_floor'] == 1.0
        for key in measured:
            assert rows[key]['inplace'] is (key not in OUT_OF_PLACE), (op, key)
        if op in ('cutmix', 'mixup'):  # Composer's targets equal ours; its MixUp pixels up to float rounding
            assert facts['same_targets'] is True and facts['composer_pixels'] is (True if op == 'mixup' else None)
    # MixUp: the lerp floor and the peers that blend take floats only; uint8 is referred to the gather.
    for name in ('imagenet', 'cifar'):
        f32, u8 = ({r['key']: r for r in cases['mixup', name, d]['rows']} for d in ('float32', 'uint8'))
        assert all(f32[k]['median_ms'] for k in ('floor_mix', 'timm', 'torchvision'))
        assert all(u8[k]['median_ms'] is None and u8[k]['note'] for k in ('floor_mix', 'timm', 'torchvision'))
        assert cases['mixup', name, 'uint8']['facts']['floor'] == 'floor_gather'
        assert rows_of(cases['cutmix', name, 'float32'])['kornia']['median_ms']
    # mmpretrain is not installed here: its row says why instead of a time.
    assert all('ModuleNotFoundError' in rows_of(c)['mmpretrain']['note'] for (op, _, _), c in cases.items()
               if op == 'resizemix')
    assert all(0.4 < c['facts']['mask_mean'] < 0.6 for (op, _, _), c in cases.items() if op == 'fmix')

    # The targets checked per table (the cycle-walk one is for 224x224 batches only, so none at this size).
    checked = {}
    for t in payload['targets']:
        assert t['met'] in (True, False, None) and t['detail']
        checked.setdefault((t['op'], t['target']), set()).add((t['case'], t['dtype']))
    every = {(name, dtype) for name in ('imagenet', 'cifar') for dtype in ('float32', 'uint8')}
    imagenet = {('imagenet', 'float32'), ('imagenet', 'uint8')}
    assert checked == {
        ('cutmix', 'in place <= 1.5x box-copy floor'): every,
        ('cutmix', 'out of place <= 1.2x clone()'): every,
        ('cutmix', 'in place extra memory <= box + targets'): every,
        ('cutmix', 'in place >= 5x faster than Composer'): imagenet,
        ('mixup', 'in place <= 1.3x gather + lerp floor'): every,
        ('mixup', 'in place extra memory <= batch + targets'): {('imagenet', 'float32'), ('cifar', 'float32')},
        ('mixup', 'in place >= 2x faster than Composer'): imagenet,
        ('resizemix', 'in place <= 1.5x resize + box-copy floor'): every,
        ('fmix', 'in place <= 1.5x gather + masked-select floor'): every,
        ('fmix', 'mask draw < 10% of the in-place step'): {('imagenet', 'float32')},
    }


def rows_of(case: dict) -> dict:
    return {r['key']: r for r in case['rows']}


@pytest.mark.slow
def test_train_overhead_tiny(gpu_check_dry):
    out, payload = step(gpu_check_dry, 'train_overhead')  # --tiny --device cpu --threads 1

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


def test_ece_is_torchmetrics_and_the_occlusion_squares_are_the_stored_runs():
    """One ECE and one occlusion for both studies: the ECE torchmetrics gave the stored runs (exact 1.0 confidences
    in a bin of their own), and the squares the accuracy study drew before (top rows, then left columns, per
    fraction, from one CPU generator)."""
    import math

    import torch
    from torchmetrics.classification import MulticlassCalibrationError

    from benchmarks.evaluation import expected_calibration_error, occlude, occlusion_mask

    g = torch.Generator().manual_seed(0)
    for scale in (1.0, 20.0):  # at 20 most confidences round to exactly 1.0 in float32
        probs = (torch.randn(3000, 10, generator=g) * scale).softmax(1)
        y = torch.randint(0, 10, (3000,), generator=g)
        reference = MulticlassCalibrationError(num_classes=10, n_bins=15, norm='l1')
        for i in range(0, 3000, 700):  # batched, as the study fed it
            reference.update(probs[i:i + 700], y[i:i + 700])
        assert abs(expected_calibration_error(probs, y) - float(reference.compute())) < 1e-5
    assert expected_calibration_error(torch.eye(4), torch.arange(4)) == 0.0  # confident and right

    X = torch.randn(64, 1, 28, 28, generator=g)
    old, new = torch.Generator().manual_seed(1234), torch.Generator().manual_seed(1234)
    for frac in (0.10, 0.25, 0.50):
        side = round(28 * math.sqrt(frac))
        y0 = torch.randint(0, 28 - side + 1, (64,), generator=old)
        x0 = torch.randint(0, 28 - side + 1, (64,), generator=old)
        expected = X.clone()
        for i in range(64):
            expected[i, :, y0[i]:y0[i] + side, x0[i]:x0[i] + side] = 0
        assert torch.equal(occlude(X, frac, new), expected), frac
    mask = occlusion_mask(5, 28, 20, 0.25, torch.Generator().manual_seed(1))
    assert mask.shape == (5, 28, 20) and mask.sum((1, 2)).tolist() == [14 * 10] * 5
    with pytest.raises(ValueError, match='fraction'):
        occlusion_mask(1, 8, 8, 0.0, g)


NO_COMPOSER = '''
import json, sys
from pathlib import Path

import torch

sys.modules['composer'] = None  # as on a GPU image whose torch this Composer was not built for
from benchmarks import gpu_study, train_overhead

sets, source = gpu_study.load_data(Path(sys.argv[1]), torch.device('cpu'), 8, 8)
net = gpu_study.resnet18(width=8)
print('FACTS ' + json.dumps({
    'core_note': getattr(train_overhead.load_functional(), 'IMPORT_NOTE', ''),
    'note': sys.modules['composer_cutmix.runner.models'].IMPORT_NOTE, 'net': type(net).__module__ + '.' + type(net).__name__,
    'depth': net.depth, 'out': list(net(sets['train'][0].float()).shape), 'resnet8': train_overhead.cifar_resnet8().depth,
    'loaded': sorted(m for m in sys.modules if m.startswith('composer_cutmix'))}))
sys.exit(train_overhead.main(['--tiny', '--device', 'cpu', '--threads', '1', '--json', sys.argv[2]]))
'''


@pytest.mark.slow
def test_where_composer_does_not_import_the_plain_loop_runs_on_the_runners_network_and_reader(tmp_path):
    """Where ``import composer`` fails (the GPU image): ``train_overhead.py`` falls back to its plain PyTorch loop
    (no augmentation against our functions), and the GPU study and the loop build the runner's CifarResNet and read
    idx files with the runner's reader, the package's ``__init__`` files (which need Composer) skipped."""
    from tests.test_runner_errors import tiny_fashion_mnist

    folder = tiny_fashion_mnist(tmp_path / 'fm', n=16)
    proc = subprocess.run([sys.executable, '-c', NO_COMPOSER, str(folder), str(tmp_path / 't.json')], cwd=ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT_S,
                          env={**os.environ, 'COMPOSER_CUTMIX_CACHE': str(tmp_path / 'cache')})
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    facts = json.loads(re.search(r'^FACTS (.*)$', out, flags=re.MULTILINE).group(1))
    assert facts['core_note'] == '', 'the mixing core imports as it is, Composer or not'
    assert facts['note'].startswith('composer_cutmix did not import (ModuleNotFoundError')
    assert facts['net'] == 'composer_cutmix.runner.models.CifarResNet' and facts['depth'] == 18
    assert facts['resnet8'] == 8 and facts['out'] == [8, 10]
    assert 'composer_cutmix.algorithm' not in facts['loaded'] and 'composer_cutmix.runner.models' in facts['loaded']

    assert 'plain PyTorch training loop, no Trainer: Composer will not import' in out
    assert len(number_row(out, 'plain loop, no augmentation')) == 1
    assert len(number_row(out, 'plain loop + ours (functional)')) == 1
    payload = json.loads((tmp_path / 't.json').read_text())
    assert payload['plain'] is True and sorted(payload['results']) == ['none', 'ours']
    assert all(t > 0 for t in payload['results']['ours']['mix_ms'])
