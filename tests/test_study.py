"""The accuracy study's pipeline end to end (--smoke: 4 batches per arm on a data subset)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARMS = ['baseline', 'cutmix', 'mixup', 'mixup_cutmix']


def study(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / 'benchmarks' / 'accuracy_study.py'), '--smoke', '--threads', '1',
           '--out', str(tmp_path), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)


def test_accuracy_study_smoke(tmp_path, capsys):
    proc = study(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = json.loads((tmp_path / 'study_runs.json').read_text())
    assert sorted(r['arm'] for r in runs) == ARMS
    for r in runs:
        assert r['batches'] == 4 and 0 <= r['test_error'] <= 100 and r['test_nll'] > 0 and 0 <= r['test_ece'] <= 100
        assert r['curve']['eval_error'], 'the learning curve comes from the run metrics.jsonl'
        assert r['threads'] == 1 and r['config'] == {'smoke': True} and r['commit']
    table = (tmp_path / 'accuracy_study_results.md').read_text()
    assert '| test error (%) |' in table and '| error, 50% occluded (%) |' in table
    assert '| metric (mean ± sd over seeds) | baseline | CutMix | MixUp | MixUp/CutMix |' in table
    assert '| arm − baseline (± standard error) | CutMix | MixUp | MixUp/CutMix |' in table
    for png in ('study_curves.png', 'study_comparison.png'):
        assert (tmp_path / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not list(tmp_path.glob('*.lock')), 'the lock file stays out of the docs folder'

    # in-process from here on (one interpreter start is the slow part): a rerun keeps the finished runs; a
    # superseded arm is kept aside in the file and trained again
    main = _study_main()
    args = ['--smoke', '--threads', '1', '--out', str(tmp_path)]
    assert main([*args, '--arms', 'baseline', 'mixup', '--supersede', 'mixup', '--why', 'test']) == 0
    stdout = capsys.readouterr().out
    assert stdout.count('done already, kept') == 1 and '[study] mixup seed 0: training' in stdout
    runs = json.loads((tmp_path / 'study_runs.json').read_text())
    assert sorted(r['arm'] for r in runs) == sorted([*ARMS, 'mixup'])
    assert [r['superseded'] for r in runs if r.get('superseded')] == ['test']
    table = (tmp_path / 'accuracy_study_results.md').read_text()
    assert 'Superseded runs' in table and '| MixUp seed 0 | test |' in table
    assert table.count('| MixUp seed 0 |') == 2, 'the new run in the table, the old one among the superseded'

    # another study name keeps its own files; --report-only trains nothing
    assert main([*args, '--name', 'study_small', '--arms', 'baseline']) == 0
    assert [r['arm'] for r in json.loads((tmp_path / 'study_small_runs.json').read_text())] == ['baseline']
    assert (tmp_path / 'accuracy_study_small_results.md').exists() and (tmp_path / 'study_small_curves.png').exists()
    capsys.readouterr()
    assert main([*args, '--report-only']) == 0
    assert ': training' not in capsys.readouterr().out
    assert len(json.loads((tmp_path / 'study_runs.json').read_text())) == 5


def _study_main():
    from benchmarks.accuracy_study import main  # on first use: it imports the runner and Composer's Trainer

    return main
