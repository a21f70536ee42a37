"""Each example runs as ``__main__`` with ``--smoke`` (Fashion-MNIST when present, else synthetic data).

Most of an example's run is importing torch and Composer, so one child process runs them all, one after the
other, each as its own ``__main__`` with its own ``sys.argv`` (``runpy``), and reports each one's exit status
and output. That keeps them out of the test process (no shared state with the tests) for one import's cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ['trainer_one_liner', 'plain_pytorch_loop', 'with_label_smoothing', 'resume_from_checkpoint', 'deit_switch']
EXPECTED = {
    'trainer_one_liner': 'eval accuracy',
    'plain_pytorch_loop': 'eval accuracy',
    'with_label_smoothing': 'with CutMix + LabelSmoothing(0.1)',
    'resume_from_checkpoint': 'finished at batch 4',
    'deit_switch': 'with the switch (',
}

DRIVER = r'''
import contextlib, io, json, runpy, sys, traceback
examples, names = sys.argv[1], sys.argv[2:]
sys.path.insert(0, examples)  # as when a script in examples/ is run directly: its folder is on the path
results = {}
for name in names:
    out = io.StringIO()
    sys.argv = [f'{examples}/{name}.py', '--smoke']
    rc = 0
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(sys.argv[0], run_name='__main__')
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            rc, _ = 1, print(traceback.format_exc(), file=sys.stderr)
    results[name] = {'rc': rc, 'out': out.getvalue()}
print('RESULTS ' + json.dumps(results))
'''


@pytest.fixture(scope='session')
def runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp('examples')  # whatever an example writes stays out of the repository
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore::DeprecationWarning'}
    proc = subprocess.run([sys.executable, '-c', DRIVER, str(ROOT / 'examples'), *EXAMPLES], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('RESULTS ')]
    assert proc.returncode == 0 and lines, f'the examples driver failed:\n{proc.stderr[-4000:]}'
    return json.loads(lines[-1][len('RESULTS '):]), proc.stderr


@pytest.mark.parametrize('name', EXAMPLES)
def test_example_smoke(runs, name):
    results, stderr = runs
    assert results[name]['rc'] == 0, f'{name} failed:\n{stderr[-4000:]}'
    assert EXPECTED[name] in results[name]['out']


def test_resume_example_resumes_where_it_stopped(runs):
    out = runs[0]['resume_from_checkpoint']['out']
    assert 'stopped at batch 2' in out and 'resumed at batch 2' in out

