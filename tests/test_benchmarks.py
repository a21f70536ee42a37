"""The benchmark scripts' pieces that run outside the GPU check; no timing is asserted.

``mix_speed.py --tiny`` and ``train_overhead.py --tiny`` are steps of the GPU check's dry run, which the suite runs
once: tests/test_gpu_check.py reads their JSON from it. The plain-loop half of ``train_overhead.py`` runs here,
where Composer is made unimportable, as on the GPU image.
Everything runs with ``--threads 1``: on a small machine that other processes share, torch's default of one thread
per core makes every parallel op wait for a descheduled thread, and a smoke test should not depend on the load.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from tools import forked

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180  # each script takes well under 30 s on 2 cores; the margin is for a loaded machine


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

# as on a GPU image whose torch this Composer was not built for; ours and the benchmarks are imported afresh
for name in [m for m in sys.modules if m.split('.')[0] in ('composer', 'composer_cutmix', 'benchmarks')]:
    del sys.modules[name]
sys.modules['composer'] = None
from benchmarks import gpu_study, train_overhead

sets, source = gpu_study.load_data(Path(sys.argv[1]), torch.device('cpu'), 8, 8)
net = gpu_study.resnet18(width=8)
print('FACTS ' + json.dumps({
    'net': type(net).__module__ + '.' + type(net).__name__,
    'depth': net.depth, 'out': list(net(sets['train'][0].float()).shape), 'resnet8': train_overhead.cifar_resnet8().depth,
    'loaded': sorted(m for m in sys.modules if m.startswith('composer_cutmix'))}))
sys.exit(train_overhead.main(['--tiny', '--device', 'cpu', '--threads', '1', '--json', sys.argv[2]]))
'''


@pytest.mark.slow
def test_where_composer_does_not_import_the_plain_loop_runs_on_the_runners_network_and_reader(tmp_path):
    """Where ``import composer`` fails (the GPU image): ``train_overhead.py`` falls back to its plain PyTorch loop
    (no augmentation against our functions), and the GPU study and the loop build the runner's CifarResNet and read
    idx files with the runner's reader: the package and the runner import their other modules on first use.
    In a fork of this process (:mod:`tools.forked`) that drops Composer, ours and the benchmarks and blocks
    Composer: a new interpreter would spend seconds importing torch again."""
    from tests.test_runner_errors import tiny_fashion_mnist

    folder = tiny_fashion_mnist(tmp_path / 'fm', n=16)
    proc = forked.run([sys.executable, '-c', NO_COMPOSER, str(folder), str(tmp_path / 't.json')], cwd=ROOT,
                      capture_output=True, timeout=TIMEOUT_S,
                      env={**os.environ, 'COMPOSER_CUTMIX_CACHE': str(tmp_path / 'cache')})
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    facts = json.loads(re.search(r'^FACTS (.*)$', out, flags=re.MULTILINE).group(1))
    assert facts['net'] == 'composer_cutmix.runner.models.CifarResNet' and facts['depth'] == 18
    assert facts['resnet8'] == 8 and facts['out'] == [8, 10]
    assert 'composer_cutmix.algorithm' not in facts['loaded'] and 'composer_cutmix.runner.models' in facts['loaded']

    assert 'plain PyTorch training loop, no Trainer: Composer will not import' in out
    payload = json.loads((tmp_path / 't.json').read_text())
    assert payload['plain'] is True and sorted(payload['results']) == ['none', 'ours']
    assert all(t > 0 for t in payload['results']['ours']['mix_ms'])
