"""The accuracy study's pipeline end to end (--smoke: 4 batches per arm on a data subset), and its arms' configs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import forked

REPO = Path(__file__).resolve().parents[1]
LABELS = ['baseline', 'CutMix', 'MixUp', 'MixUp/CutMix', 'ResizeMix', 'FMix', 'RandomMix']  # the tables' order
MIXERS = {'baseline': [], 'cutmix': ['CutMix'], 'mixup': ['MixUp'], 'mixup_cutmix': ['MixUpCutMix'],
          'resizemix': ['ResizeMix'], 'fmix': ['FMix'], 'random_mix': ['RandomMix']}


def study(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """The script as the Makefile runs it, in its own process (a fork of this one: no second import of Composer)."""
    cmd = [sys.executable, REPO / 'benchmarks' / 'accuracy_study.py', '--smoke', '--threads', '1', '--out', tmp_path,
           *extra]
    return forked.run(cmd, capture_output=True, timeout=300, cwd=REPO)


def last_eval(run_folder: Path) -> dict:
    evals = [rec for rec in map(json.loads, (run_folder / 'metrics.jsonl').read_text().splitlines())
             if 'metrics/eval/MulticlassAccuracy' in rec]
    return {'batches': [rec['batch'] for rec in evals], **evals[-1]}


def test_accuracy_study_smoke(tmp_path, capsys, monkeypatch):
    # one subprocess (the script as the Makefile runs it) trains two arms; the other arms' configs are checked
    # without training in test_arms_differ_from_the_main_recipe_only_in_their_mixer
    proc = study(tmp_path, '--arms', 'baseline', 'random_mix')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = json.loads((tmp_path / 'study_runs.json').read_text())
    assert [r['arm'] for r in runs] == ['baseline', 'random_mix']
    for r in runs:
        # the study's own evaluation of the final model on the eval subset is the Trainer's last eval of it
        ev = last_eval(tmp_path / 'runs' / f'study-{r["arm"]}-s0')
        assert ev['batches'] == [2, 4] and r['batches'] == 4 and r['test_images'] == 128
        assert r['test_error'] == pytest.approx(100 * (1 - ev['metrics/eval/MulticlassAccuracy']), abs=1e-9)
        assert r['test_nll'] == pytest.approx(ev['metrics/eval/CrossEntropy'], rel=1e-5)
        assert r['curve']['eval_error'][-1] == pytest.approx(r['test_error'], abs=1e-9)
        assert r['threads'] == 1 and r['config'] == {'smoke': True} and r['commit']
    assert runs[0]['algorithms'] == {'channels_last': {}}
    assert list(runs[1]['algorithms']['random_mix']['ops']) == ['mixup', 'cutmix', 'resizemix', 'fmix']
    table = (tmp_path / 'accuracy_study_results.md').read_text()
    assert '| test error (%) |' in table and '| error, 50% occluded (%) |' in table
    assert '| metric (mean ± sd over seeds) | baseline | RandomMix |' in table
    assert '| arm − baseline (± standard error) | RandomMix |' in table
    assert 'Arms: baseline = `yamls/fashion_mnist_baseline.yaml`; RandomMix = `yamls/fashion_mnist_random_mix.yaml`.' \
        in table
    for png in ('study_curves.png', 'study_comparison.png'):
        assert (tmp_path / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not list(tmp_path.glob('*.lock')), 'the lock file stays out of the docs folder'

    # in-process from here on: a rerun keeps the finished runs; a
    # superseded arm is kept aside in the file and trained again
    main = _study_main()
    from benchmarks import accuracy_study

    drawn = []  # the figures were checked above (the same code draws any number of arms); each costs seconds here
    monkeypatch.setattr(accuracy_study, 'plot', lambda runs, table, out, name: drawn.append(name))
    args = ['--smoke', '--threads', '1', '--out', str(tmp_path)]
    assert main([*args, '--arms', 'baseline', 'random_mix', '--supersede', 'random_mix', '--why', 'test']) == 0
    stdout = capsys.readouterr().out
    assert stdout.count('done already, kept') == 1 and '[study] random_mix seed 0: training' in stdout
    runs = json.loads((tmp_path / 'study_runs.json').read_text())
    assert [r['arm'] for r in runs] == ['baseline', 'random_mix', 'random_mix']
    assert [r.get('superseded') for r in runs] == [None, 'test', None]
    table = (tmp_path / 'accuracy_study_results.md').read_text()
    assert 'Superseded runs' in table and '| RandomMix seed 0 | test |' in table
    assert table.count('| RandomMix seed 0 |') == 2, 'the new run in the table, the old one among the superseded'

    # another study name keeps its own files
    assert main([*args, '--name', 'study_small', '--arms', 'baseline']) == 0
    assert [r['arm'] for r in json.loads((tmp_path / 'study_small_runs.json').read_text())] == ['baseline']
    assert (tmp_path / 'accuracy_study_small_results.md').exists() and drawn == ['study', 'study_small']

    # --dry-run names what a rerun of every arm would train and writes nothing
    stored = (tmp_path / 'study_runs.json').read_bytes()
    capsys.readouterr()
    assert main([*args, '--dry-run']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines if line.endswith('would train')] == [
        'cutmix', 'mixup', 'mixup_cutmix', 'resizemix', 'fmix']
    assert [line.split()[1] for line in lines if line.endswith('done already, kept')] == ['baseline', 'random_mix']
    assert lines[-1].startswith('[study] 5 run(s) to train, 2 done already')
    assert (tmp_path / 'study_runs.json').read_bytes() == stored
    with pytest.raises(SystemExit):
        main([*args, '--dry-run', '--fresh'])

    # --report-only trains nothing, and the tables and plots take all seven arms (the five not trained here stand
    # in as copies of the baseline run, which also makes each delta exactly zero)
    runs = json.loads(stored)
    fill = [dict(runs[0], arm=arm) for arm in ('cutmix', 'mixup', 'mixup_cutmix', 'resizemix', 'fmix')]
    (tmp_path / 'study_runs.json').write_text(json.dumps(runs + fill))
    capsys.readouterr()
    assert main([*args, '--report-only']) == 0
    assert ': training' not in capsys.readouterr().out
    assert len(json.loads((tmp_path / 'study_runs.json').read_text())) == 8
    table = (tmp_path / 'accuracy_study_results.md').read_text()
    assert '| metric (mean ± sd over seeds) | ' + ' | '.join(LABELS) + ' |' in table
    assert '| arm − baseline (± standard error) | ' + ' | '.join(LABELS[1:]) + ' |' in table
    delta_error = next(line for line in table.splitlines() if line.startswith('| test error (%) | +'))
    assert delta_error.split(' | ')[1:6] == ['+0.00'] * 5  # one seed each: a difference, no standard error
    assert ' ± ' not in table.split('| run |')[0].replace('(mean ± sd', '').replace('(± standard', '')
    assert 'ResizeMix = `yamls/fashion_mnist_baseline.yaml algorithms.resizemix.scale=[0.1,0.8]`' in table
    assert drawn == ['study', 'study_small', 'study']


def test_arms_differ_from_the_main_recipe_only_in_their_mixer():
    """Each arm's config loads and builds its mixer, and is yamls/fashion_mnist.yaml but for ``algorithms``."""
    from omegaconf import OmegaConf

    from benchmarks.accuracy_study import ARMS
    from composer_cutmix.runner.config import load_config
    from composer_cutmix.runner.registry import build_algorithms

    assert list(ARMS) == list(MIXERS) and [a.label for a in ARMS.values()] == LABELS
    assert len({a.color for a in ARMS.values()}) == len(ARMS)

    def recipe(cfg) -> dict:
        out = OmegaConf.to_container(cfg)
        for key in ('algorithms', 'run_name', 'run_folder'):
            out.pop(key)
        return out

    main = recipe(load_config(REPO / 'yamls' / 'fashion_mnist.yaml'))
    built = {}
    for arm, spec in ARMS.items():
        cfg = load_config(REPO / spec.yaml, spec.overrides)
        assert recipe(cfg) == main, arm
        algorithms = build_algorithms(cfg.algorithms, num_classes=10)
        mixers = [a for a in algorithms if type(a).__name__ != 'ChannelsLast']
        assert [type(a).__name__ for a in mixers] == MIXERS[arm], arm
        assert len(algorithms) == len(mixers) + 1, f'{arm}: channels_last, as in the main recipe'
        built[arm] = mixers[0] if mixers else None
    assert built['resizemix'].scale == (0.1, 0.8) and built['resizemix'].interpolation == 'bilinear'
    assert (built['fmix'].alpha, built['fmix'].decay_power) == (1.0, 3.0)
    ops = built['random_mix'].ops
    assert [type(op).__name__ for op in ops] == ['MixUp', 'CutMix', 'ResizeMix', 'FMix']
    assert (ops[0].alpha, ops[1].alpha, ops[2].scale, ops[3].alpha, ops[3].decay_power) == (0.8, 1.0, (0.1, 0.8),
                                                                                              1.0, 3.0)
    assert list(built['random_mix'].mixer.probs) == [0.25] * 4


def test_new_arms_keep_the_stored_small_data_runs(tmp_path, capsys):
    """`make study-small` after arms were added trains only those arms: the stored runs still match."""
    recipe = next(line for line in (REPO / 'Makefile').read_text().splitlines()
                  if 'accuracy_study.py --name study_small' in line)
    settings = recipe.split('accuracy_study.py', 1)[1].replace('$(ARGS)', '').split()
    shutil.copy(REPO / 'docs' / 'study_small_runs.json', tmp_path)
    main = _study_main()
    assert main([*settings, '--out', str(tmp_path), '--dry-run']) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()[:-1]]
    kept = {(w[1], int(w[3].rstrip(':'))) for w in lines if w[-1] == 'kept'}
    trains = {w[1] for w in lines if w[-1] == 'train'}
    assert {(arm, seed) for arm in ('baseline', 'cutmix', 'mixup', 'mixup_cutmix') for seed in (0, 1, 2)} <= kept
    assert trains <= {'resizemix', 'fmix', 'random_mix'} and len(lines) == 21
    assert (tmp_path / 'study_small_runs.json').read_bytes() == (REPO / 'docs' / 'study_small_runs.json').read_bytes()


def _study_main():
    from benchmarks.accuracy_study import main  # on first use: it imports the runner and Composer's Trainer

    return main


def test_a_spread_is_shown_only_where_there_are_seeds_to_spread():
    from benchmarks.accuracy_study import _spread

    assert _spread(12.2249, 0.4113, 3, '.2f') == '12.22 ± 0.41'
    assert _spread(-0.5512, 0.1, 2, '+.3f') == '-0.551 ± 0.100'  # a difference: signed, its standard error not
    assert _spread(12.2249, 0.0, 1, '.2f') == '12.22'  # one seed: no ± 0.00 that reads as a measured spread
