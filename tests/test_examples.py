"""Each example runs as ``__main__`` with ``--smoke`` (Fashion-MNIST when present, else synthetic data), each in its
own process: a fork of the test process (``tools/forked.py``), which has imported torch and Composer already, so
an example costs its run and not another interpreter's imports, and shares no state with the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tools import forked

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ['trainer_one_liner', 'plain_pytorch_loop', 'with_label_smoothing', 'resume_from_checkpoint', 'deit_switch']
EXPECTED = {
    'trainer_one_liner': 'eval accuracy',
    'plain_pytorch_loop': 'eval accuracy',
    'with_label_smoothing': 'with CutMix + LabelSmoothing(0.1)',
    'resume_from_checkpoint': 'finished at batch 4',
    'deit_switch': 'with the switch (',
}


@pytest.fixture(scope='session')
def runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp('examples')  # whatever an example writes stays out of the repository
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore::DeprecationWarning'}
    return {name: forked.run([sys.executable, ROOT / 'examples' / f'{name}.py', '--smoke'], cwd=cwd, env=env,
                             capture_output=True, timeout=300) for name in EXAMPLES}


@pytest.mark.parametrize('name', EXAMPLES)
def test_example_smoke(runs, name):
    proc = runs[name]
    assert proc.returncode == 0, f'{name} failed:\n{proc.stderr[-4000:]}'
    assert EXPECTED[name] in proc.stdout


def test_resume_example_resumes_where_it_stopped(runs):
    out = runs['resume_from_checkpoint'].stdout
    assert 'stopped at batch 2' in out and 'resumed at batch 2' in out

