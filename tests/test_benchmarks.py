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


@pytest.mark.slow
def test_mix_speed_tiny_every_op(gpu_check_dry):
    out, payload = step(gpu_check_dry, 'mix_speed')  # --tiny --op all --device cpu --threads 1

    assert 'torch threads 1' in out
    tables = re.findall(r'^== (\w+) (imagenet|cifar) \(\d+, 3, \d+, \d+\) (float32|uint8) on cpu', out,
                        flags=re.MULTILINE)
    assert sorted(tables) == sorted((op, name, dtype) for op in OPS for name in ('imagenet', 'cifar')
                                    for dtype in ('float32', 'uint8'))
    assert len(re.findall(r'^method\s+ms\s+min ms\s+t/floor\s+t/Composer\s+MB moved\s+extra MB\s+in place$', out,
                          flags=re.MULTILINE)) == 16
    # CutMix: ours, Composer's and the floors ran in all four tables, on the same pinned box with the same result.
    for label in ('ours cutmix_batch (out of place)', 'ours cutmix_batch(inplace=True)',
                  "Composer's cutmix_batch + targets", 'floor: box copy (fresh buffer)',
                  'floor: clone + box gathered into it'):
        assert len(number_row(out, label)) == 4, label
    assert out.count('ours / Composer / floors give identical pixels: yes; ours and Composer give the same '
                     'targets: yes') == 4
    # MixUp: ours and Composer's in all four tables, the lerp floor in the two float32 ones; the same blend.
    for label in ('ours mixup_batch (out of place)', 'ours mixup_batch(inplace=True)',
                  "Composer's mixup_batch + targets"):
        assert len(number_row(out, label)) == 4, label
    for label in ('ours Algorithm step (in place)', 'floor: X.clone()'):  # in the tables of every op
        assert len(number_row(out, label)) == 16, label
    assert len(number_row(out, 'floor: gather + in-place lerp')) == 2
    assert len(number_row(out, 'floor: blend by cycles (1 sample)')) == 4  # uint8 too: blended in float32
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
    # ResizeMix and FMix: ours, the Algorithm step and every floor in all four tables each, on the same pinned draw
    # with the same pixels; mmpretrain is not installed here, so its row says why it is skipped.
    for label in ('ours resizemix_batch (out of place)', 'ours resizemix_batch(inplace=True)',
                  'floor: resize + box copy', 'floor: gather, resize, box copy', 'floor: resize + box by cycles',
                  'ours fmix_batch (out of place)', 'ours fmix_batch(inplace=True)',
                  'ours draw_fmix (the mask draw alone)', 'floor: gather + masked select',
                  'floor: masked copy by cycles'):
        assert len(number_row(out, label)) == 4, label
    assert len(number_row(out, 'floor: gather the permuted batch')) == 4 + 4  # MixUp's and FMix's tables
    assert len(re.findall(r'^mmpretrain ResizeMix \(side 0\.5\) +not importable \(ModuleNotFoundError', out,
                          flags=re.MULTILINE)) == 4
    assert out.count('\nours / floors give identical pixels: yes\n') == 8
    assert len(re.findall(r'^pinned box \(bilinear\) \(y0, x0, y1, x1\) = ', out, flags=re.MULTILINE)) == 4
    assert len(re.findall(r'^pinned mask: a seeded draw_fmix at (24x24|8x8), mean 0\.\d+', out,
                          flags=re.MULTILINE)) == 4
    # Per table: in place vs the op's floor; FMix also the mask draw's share, on the ImageNet-like float32 table.
    assert len(re.findall(r'^\[(MET|MISSED) *\] resizemix \w+ \w+ cpu: in place <= 1\.5x resize \+ box-copy floor',
                          out, flags=re.MULTILINE)) == 4
    assert len(re.findall(r'^\[(MET|MISSED) *\] fmix \w+ \w+ cpu: in place <= 1\.5x gather \+ masked-select floor',
                          out, flags=re.MULTILINE)) == 4
    assert len(re.findall(r'^\[(MET|MISSED) *\] fmix imagenet float32 cpu: mask draw < 10% of the in-place step',
                          out, flags=re.MULTILINE)) == 1
    assert not re.search(r'cycle-walk floor', out)  # the cycle-walk target is for 224x224 batches only

    assert len(payload['cases']) == 16
    rows = {r['key']: r for r in payload['cases'][0]['rows']}
    assert payload['cases'][0]['facts']['floor'] == 'floor_box'
    assert rows['floor_box']['median_ms'] > 0 and rows['floor_box']['vs_floor'] == 1.0
    assert rows['ours_inplace']['inplace'] is True and rows['ours_oop']['inplace'] is False
    mixup = [c for c in payload['cases'] if c['case']['op'] == 'mixup']
    assert [c['facts']['floor'] for c in mixup] == ['floor_mix', 'floor_mix', 'floor_gather', 'floor_gather']
    for op, floor in (('resizemix', 'floor_resize'), ('fmix', 'floor_mask')):
        cases = [c for c in payload['cases'] if c['case']['op'] == op]
        assert [c['facts']['floor'] for c in cases] == [floor] * 4 and all(c['facts']['same_pixels'] for c in cases)
        assert all(c['facts']['cycle_pixels'] for c in cases)
        rows = {r['key']: r for r in cases[0]['rows']}
        assert rows['ours_inplace']['inplace'] is True and rows['ours_oop']['inplace'] is False
        assert rows[floor]['vs_floor'] == 1.0 and rows['floor_cycle']['inplace'] is True
    fmix = [c for c in payload['cases'] if c['case']['op'] == 'fmix']
    assert all(0.4 < c['facts']['mask_mean'] < 0.6 for c in fmix)
    assert all({r['key']: r for r in c['rows']}['ours_draw']['inplace'] is False for c in fmix)



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
