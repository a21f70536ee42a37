"""``make gpu-check DRY=1``: every step of the GPU check on the CPU, so the script cannot rot before a GPU shows up;
and the pieces it stands on (the study's plan, the wheel check) on their own."""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

import pytest

from benchmarks import gpu_study
from tools import gpu_check, wheels

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.mark.slow
def test_make_gpu_check_dry_runs_every_step(gpu_check_dry):
    out, out_dir = gpu_check_dry.output(), gpu_check_dry.out_dir
    assert gpu_check_dry.proc.returncode == 0, out[-4000:]

    results = json.loads((out_dir / 'gpu_results.json').read_text())
    assert results['dry'] is True and results['command'] == 'make gpu-check DRY=1'
    assert {k: v['status'] for k, v in results['steps'].items()} == dict.fromkeys(
        ['env', 'tests', 'mix_speed', 'train_overhead', 'study'], 'ok')
    # The venv saw torch and Composer through the .pth to the parent environment's site-packages.
    assert results['env']['torch'] and results['env']['composer_ok'] is True
    assert results['env']['wheel_pins']['unmet'] == []
    # The GPU tests ran as their CPU twins, all of them.
    junit = results['steps']['tests']['junit']
    assert junit['read'] and junit['failed'] == [] and junit['skipped'] == 0 and junit['passed'] >= 90
    assert len(junit['census']) == 3  # the trainer-step census printed by each of the three algorithms
    # The probe of the functional path: pixels, layout, and the sync count (0: nothing to wait for on the CPU).
    checks = results['probe']['checks']
    assert len(checks) == 12 and all(c['parity'] and c['layout_kept'] and c['syncs'] == 0 for c in checks)
    # Each benchmark's measurements are in the one JSON.
    assert {(c['case']['op'], c['case']['dtype']) for c in results['mix_speed']['cases']} == {
        (op, dtype) for op in ('cutmix', 'mixup', 'resizemix', 'fmix') for dtype in ('float32', 'uint8')}
    assert sorted(results['train_overhead']['summary']) == ['composer', 'none', 'ours']
    study = results['study']
    assert study['dry'] and sorted(study['summary']['arms']) == sorted(gpu_study.ARMS)
    assert study['summary']['seeds'] == [0, 1]
    assert all(len(r['curve']) == 2 for r in study['runs'])
    # The figures, the log, and the human summary.
    for png in ('gpu_mix_speed.png', 'gpu_study.png'):
        assert (out_dir / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    log = (out_dir / 'gpu_check.log').read_text()
    assert log.count('s, in a fork of this interpreter) ==') == 6  # the dry run's steps skip the imports
    summary = '\n'.join(results['summary'])
    assert 'GPU check summary (DRY RUN on the CPU)' in summary
    for start in ('tests (', 'functional probe on cpu: parity 12/12', 'mix speed [', 'train overhead (', 'study ('):
        assert start in summary, start
    assert 'GPU check summary (DRY RUN on the CPU)' in out


def test_plan_prefers_all_images_and_30_epochs_then_longer_then_more_seeds():
    # 234 steps of 5 ms + a 0.2 s evaluation = 1.37 s an epoch; 3 arms, 2 seeds: 49.5 s a run.
    plan = gpu_study.plan_runs(300, 0.005, 0.2, 0.5, 256, 3)
    assert (plan.train_images, plan.seeds, plan.epochs) == (60000, [0, 1], 36)
    roomy = gpu_study.plan_runs(3000, 0.005, 0.2, 0.5, 256, 3)
    assert (roomy.train_images, roomy.epochs, len(roomy.seeds)) == (60000, 60, 4)
    assert roomy.estimate_s <= 3000 and plan.estimate_s <= 300


def test_plan_shrinks_the_training_set_before_the_schedule():
    plan = gpu_study.plan_runs(150, 0.005, 0.2, 0.5, 256, 3)
    assert plan.epochs == 30 and plan.seeds == [0, 1] and 10000 <= plan.train_images < 60000
    assert plan.estimate_s <= 150 and not plan.undersized
    tight = gpu_study.plan_runs(40, 0.005, 0.2, 0.5, 256, 3)
    assert tight.train_images == 10000 and tight.epochs < 30 and tight.undersized


def test_study_reads_fashion_mnist_with_the_runners_reader(tmp_path, monkeypatch):
    """The study's data come through the runner's idx reader: gzipped files as `make gpu-data` stages them, the
    subsets, and a truncated file refused in the runner's words."""
    import torch

    from composer_cutmix.runner.errors import DataNotFoundError
    from tests.test_runner_errors import write_idx

    monkeypatch.setenv('COMPOSER_CUTMIX_CACHE', str(tmp_path / 'cache'))  # where the reader decompresses
    g = torch.Generator().manual_seed(0)
    images = {'train': torch.randint(0, 256, (40, 28, 28), generator=g, dtype=torch.uint8),
              't10k': torch.randint(0, 256, (20, 28, 28), generator=g, dtype=torch.uint8)}
    for prefix, X in images.items():
        write_idx(tmp_path / 'fm', prefix, X, torch.arange(len(X)) % 10)
    sets, source = gpu_study.load_data(tmp_path / 'fm', torch.device('cpu'), train_subset=32)
    X, y = sets['train']
    assert X.shape == (32, 1, 28, 28) and X.dtype == torch.uint8 and torch.equal(X[:, 0], images['train'][:32])
    assert y.dtype == torch.int64 and torch.equal(y, torch.arange(32) % 10)
    assert torch.equal(sets['test'][0][:, 0], images['t10k']) and source.startswith('Fashion-MNIST from')

    with pytest.raises(FileNotFoundError, match='make gpu-data'):
        gpu_study.load_data(tmp_path / 'none', torch.device('cpu'))
    bad = tmp_path / 'bad'
    for prefix, X in images.items():
        write_idx(bad, prefix, X, torch.arange(len(X)) % 10, gz=False)
    blob = (bad / 'train-images-idx3-ubyte').read_bytes()
    (bad / 'train-images-idx3-ubyte').write_bytes(blob[:len(blob) // 2])
    with pytest.raises(DataNotFoundError, match='corrupt or truncated'):
        gpu_study.load_data(bad, torch.device('cpu'))


def _wheel(folder: Path, name: str, version: str, requires: list[str], tag: str = 'py3-none-any') -> None:
    dist = f'{name.replace("-", "_")}-{version}'
    meta = f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n' + ''.join(
        f'Requires-Dist: {r}\n' for r in requires)
    with zipfile.ZipFile(folder / f'{dist}-{tag}.whl', 'w') as zf:
        zf.writestr(f'{dist}.dist-info/METADATA', meta)
        zf.writestr(f'{dist}.dist-info/WHEEL', f'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n')
        zf.writestr(f'{dist}.dist-info/RECORD', '')


def test_wheel_check_follows_requirements_extras_and_the_image(tmp_path, monkeypatch):
    monkeypatch.setattr(wheels, 'pip_accepts', lambda folder: (True, ''))  # no pip run: only the requirement walk
    monkeypatch.setattr(wheels, 'roots', lambda: [])
    _wheel(tmp_path, 'alpha', '1.0', ['beta[extra1]>=2', 'numpy<2.3', 'torch>=2', 'gamma; python_version < "3.9"'])
    _wheel(tmp_path, 'beta', '2.5', ['delta; extra == "extra1"', 'epsilon; extra == "other"'])
    ok, lines = wheels.check(tmp_path)
    report = '\n'.join(lines)
    assert not ok
    assert 'MISSING beta needs delta; extra == "extra1"' in report  # the extra alpha asks of beta is followed
    assert 'epsilon' not in report and 'gamma' not in report  # extras nobody asks for, markers false on 3.12
    assert 'warning alpha needs numpy<2.3; the image has numpy 2.5.2' in report  # a pin the image misses: a warning
    _wheel(tmp_path, 'delta', '0.1', [])
    ok, lines = wheels.check(tmp_path)
    assert ok, lines
    _wheel(tmp_path, 'delta', '0.2', [], tag='cp311-cp311-manylinux_2_17_x86_64')
    ok, lines = wheels.check(tmp_path)
    report = '\n'.join(lines)
    assert not ok and 'two wheels of delta' in report and 'does not install on CPython 3.12' in report


def test_gpu_mode_runs_the_gpu_commands_in_its_budget_and_fills_out(tmp_path, monkeypatch):
    """The GPU run's wiring without a GPU: every step replaced by a stand-in that records its command."""
    calls = []

    def fake_step(name, cmd, limit, log, env, fork=False):
        assert not fork, 'CUDA does not survive a fork: on a GPU each step is a new interpreter'
        calls.append((name, [str(c) for c in cmd], limit, env))
        tagged = {}
        if name == 'env and probe':
            tagged = {'ENV': {'device': 'NVIDIA H100 80GB HBM3', 'torch': '2.11.0', 'composer': '0.32.1',
                              'composer_ok': True},
                      'PROBE': {'device': 'cuda', 'checks': []}}
        return {'command': ' '.join(map(str, cmd)), 'status': 'ok', 'ok': True, 'seconds': 1.0, 'tagged': tagged}

    data = tmp_path / 'data'
    data.mkdir()
    (data / 'train-images-idx3-ubyte.gz').write_bytes(b'')
    monkeypatch.setattr(gpu_check, 'cuda_available', lambda python: True)
    monkeypatch.setattr(gpu_check, 'make_venv', lambda path, base, log: sys.executable)
    monkeypatch.setattr(gpu_check, 'install', lambda site, base, wheels, log: {'wheels': ['a.whl'], 'wheels_ok': True})
    monkeypatch.setattr(gpu_check, 'run_step', fake_step)
    monkeypatch.setenv('OUT', str(tmp_path / 'OUT'))
    out_dir = tmp_path / 'docs'
    assert gpu_check.main(['--out-dir', str(out_dir), '--data', str(data), '--venv', str(tmp_path / 'venv'),
                           '--work-dir', str(tmp_path / 'work'), '--budget-s', '450']) == 0

    by_name = {name: (cmd, limit, env) for name, cmd, limit, env in calls}
    assert list(by_name) == ['env and probe', 'tests', 'mix_speed', 'train_overhead', 'study']
    assert by_name['tests'][0][1:5] == ['-m', 'pytest', '-m', 'gpu']
    assert 'COMPOSER_CUTMIX_GPU_TESTS_ON' not in by_name['tests'][2]
    for name in ('mix_speed', 'train_overhead'):
        cmd = by_name[name][0]
        assert cmd[cmd.index('--device') + 1] == 'cuda' and '--tiny' not in cmd and '--threads' not in cmd, cmd
    study = by_name['study'][0]
    budget = float(study[study.index('--budget-s') + 1])
    assert 300 < budget < 450 and by_name['study'][1] <= budget + 15  # what is left, less the reserve
    assert str(gpu_check.REPO) in by_name['mix_speed'][2]['PYTHONPATH'].split(':')
    results = json.loads((out_dir / 'gpu_results.json').read_text())
    assert results['dry'] is False and results['env']['device'] == 'NVIDIA H100 80GB HBM3'
    assert 'GPU check summary: NVIDIA H100 80GB HBM3, torch 2.11.0, composer 0.32.1' in results['summary'][0]
    assert sorted(p.name for p in (tmp_path / 'OUT').iterdir()) == ['gpu_check.log', 'gpu_results.json']


def test_gpu_mode_without_composer_skips_the_tests_and_without_cuda_stops(tmp_path, monkeypatch):
    names = []

    def fake_step(name, cmd, limit, log, env, fork=False):
        names.append(name)
        tagged = {'ENV': {'composer': 'not importable (ImportError: x)', 'composer_ok': False}} \
            if name == 'env and probe' else {}
        return {'command': '', 'status': 'ok', 'ok': True, 'seconds': 1.0, 'tagged': tagged}

    monkeypatch.setattr(gpu_check, 'make_venv', lambda path, base, log: sys.executable)
    monkeypatch.setattr(gpu_check, 'install', lambda site, base, wheels, log: {})
    monkeypatch.setattr(gpu_check, 'run_step', fake_step)
    monkeypatch.delenv('OUT', raising=False)
    monkeypatch.setattr(gpu_check, 'cuda_available', lambda python: False)
    work = ['--work-dir', str(tmp_path / 'work')]
    assert gpu_check.main(['--out-dir', str(tmp_path), '--venv', str(tmp_path / 'v'), *work]) == 2 and names == []
    monkeypatch.setattr(gpu_check, 'cuda_available', lambda python: True)
    assert gpu_check.main(['--out-dir', str(tmp_path), '--venv', str(tmp_path / 'v'), *work,
                           '--data', str(tmp_path / 'none')]) == 0
    results = json.loads((tmp_path / 'gpu_results.json').read_text())
    assert names == ['env and probe', 'mix_speed', 'train_overhead']
    assert results['steps']['tests']['status'] == 'skipped' and 'Composer does not import' in \
        results['steps']['tests']['why']
    assert results['steps']['study']['status'] == 'skipped' and 'no Fashion-MNIST' in results['steps']['study']['why']


@pytest.mark.parametrize('fork', [False, True], ids=['new interpreter', 'forked'])
def test_run_step_keeps_tagged_lines_and_kills_what_overruns(tmp_path, fork):
    import os

    log = gpu_check.Log(tmp_path / 'log')
    code = 'import sys; print("ENV {\\"device\\": \\"x\\"}"); [print(i) for i in range(100)]; print(sys.argv)'
    step = gpu_check.run_step('talk', [sys.executable, '-c', code, 'a'], 30, log, dict(os.environ), fork)
    assert step['ok'] and step['tagged']['ENV'] == {'device': 'x'} and step['tail'][-2:] == ['99', "['-c', 'a']"]
    failed = gpu_check.run_step('fail', [sys.executable, '-c', 'raise SystemExit(3)'], 30, log, {}, fork)
    assert failed['status'] == 'failed (exit 3)' and not failed['ok']
    slow = gpu_check.run_step('hang', [sys.executable, '-c', 'import time; print("started", flush=True); '
                                       'time.sleep(60)'], 2, log, dict(os.environ), fork)
    assert slow['status'] == 'timed out' and not slow['ok'] and slow['seconds'] < 20 and slow['tail'] == ['started']
    text = (tmp_path / 'log').read_text()
    assert '== hang: timed out after' in text and ('in a fork of this interpreter' in text) == fork


def test_popen_forks_only_when_asked_and_safe(monkeypatch):
    import subprocess

    from tools import forked

    def started(**kw):
        proc = forked.Popen([sys.executable, '-c', 'import os; print(os.getpid() == os.getsid(0))'],
                            stdout=subprocess.PIPE, **kw)
        assert proc.communicate(timeout=60)[0] == 'True\n' and proc.returncode == 0  # its own session either way
        return type(proc)

    monkeypatch.setattr(forked, 'forkable', lambda: True)
    assert started() is forked.Forked and started(fork=False) is subprocess.Popen
    monkeypatch.setattr(forked, 'forkable', lambda: False)  # torch on more than one thread: a fork would hang
    assert started() is subprocess.Popen
