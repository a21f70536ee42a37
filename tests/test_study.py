"""The accuracy study's pipeline end to end (--smoke: 4 batches per arm on a data subset)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_accuracy_study_smoke(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / 'benchmarks' / 'accuracy_study.py'), '--smoke', '--out', str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = json.loads((tmp_path / 'study_runs.json').read_text())
    assert sorted(r['arm'] for r in runs) == ['baseline', 'cutmix']
    for r in runs:
        assert r['batches'] == 4 and 0 <= r['test_error'] <= 100 and r['test_nll'] > 0 and 0 <= r['test_ece'] <= 100
        assert r['curve']['eval_error'], 'the learning curve comes from the run metrics.jsonl'
    table = (tmp_path / 'accuracy_study_results.md').read_text()
    assert '| test error (%) |' in table and '| error, 50% occluded (%) |' in table
    for png in ('study_curves.png', 'study_comparison.png'):
        assert (tmp_path / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # a rerun keeps the finished runs instead of training again
    again = subprocess.run([sys.executable, str(REPO / 'benchmarks' / 'accuracy_study.py'), '--smoke', '--out', str(tmp_path)],
                           capture_output=True, text=True, timeout=300, cwd=REPO)
    assert again.returncode == 0 and again.stdout.count('done already, kept') == 2
