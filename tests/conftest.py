"""Shared fixtures (tiny data, the session's one dry run of the GPU check, streaming shards) and the suite's hooks.

It imports neither torch nor Composer at module level: pytest-xdist's controller loads this file before it starts
the workers, and would otherwise spend ~15 s importing them for nothing. The helpers are in ``tests/helpers.py``."""

from __future__ import annotations

import gc
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools import forked

DRY_TIMEOUT_S = 240  # the GPU check's dry run: under a minute on 2 quiet cores; the margin is for a loaded machine


if os.environ.get('PYTEST_XDIST_WORKER'):  # `make test` runs two workers on two cores: one torch thread each,
    # and torch.compile compiles in the worker instead of starting a pool of compile processes (8 s of CPU taken
    # from the other worker, and 1.5 s to shut the pool down at exit)
    os.environ.setdefault('TORCHINDUCTOR_COMPILE_THREADS', '1')
    import torch

    torch.set_num_threads(1)


# The slowest files first (measured with --durations=0): `make test` hands whole files to its two workers
# (--dist loadfile, so a file's session fixtures run once) in this order (--no-loadscope-reorder: xdist would otherwise
# send the files with the most tests first), and the short files last even out the two workers' ends.
SLOW_FILES = ('test_gpu_check.py', 'test_study.py', 'test_streaming.py', 'test_compile.py', 'test_wheel.py',
              'test_loggers.py', 'test_composer_users.py', 'test_runner_errors.py', 'test_mixer.py', 'test_config.py',
              'test_mixers.py', 'test_ddp.py', 'test_train_cli.py', 'test_examples.py', 'test_preview.py',
              'test_algorithm.py')


def pytest_collection_finish(session):
    """What collection imported (torch, Composer, transformers: millions of objects) lives to the end of the run:
    freezing it keeps every full garbage collection of the run, and the one at the interpreter's exit (2-3 s per
    worker), from walking it again."""
    gc.freeze()


def pytest_unconfigure(config):
    gc.freeze()  # and what the tests left behind: the exit's collection has nothing to free that matters


def pytest_collection_modifyitems(config, items):
    import torch

    order = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: order.get(Path(item.location[0]).name, len(SLOW_FILES)))  # stable: file order kept
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA device (gpu marker)')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def data():
    from tests.helpers import tiny_data

    return tiny_data()


@dataclass
class DryRun:
    """One ``make gpu-check DRY=1`` of the session: its process, its results folder and its work folder (the raw
    JSON and the whole output of each step, ``<step>.out``)."""

    proc: subprocess.CompletedProcess
    out_dir: Path
    work: Path

    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr


@pytest.fixture(scope='session')
def gpu_check_dry(tmp_path_factory) -> DryRun:
    """``make gpu-check DRY=1`` once for the session: ``tests/test_gpu_check.py`` checks the check and reads the
    JSON of the benchmarks it ran (``--tiny``, ``--threads 1``) instead of running them again. Its tests are in that
    one file, which xdist gives to one worker; should another use it, a lock in the session's shared temporary
    folder makes the first worker run it and the others read its result."""
    import json

    from filelock import FileLock  # a dependency of torch

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base  # pytest-N/, common to the workers
    out_dir, record = shared / 'gpu_check_dry', shared / 'gpu_check_dry.json'
    with FileLock(str(shared / 'gpu_check_dry.lock')):
        if not record.exists():
            out_dir.mkdir(exist_ok=True)
            venv = Path(sys.executable).parents[1]  # the Makefile's VENV: the interpreter running the suite
            root = Path(__file__).resolve().parents[1]
            planned = subprocess.run(['make', '-n', '--no-print-directory', 'gpu-check', 'DRY=1', f'VENV={venv}',
                                      f'ARGS=--out-dir {out_dir}'], cwd=root, capture_output=True, text=True)
            # what `make gpu-check DRY=1` runs, run in a fork of this worker (it has imported Composer already)
            cmd = shlex.split(next(line for line in planned.stdout.splitlines() if 'gpu_check.py' in line))
            proc = forked.run(cmd, cwd=root, capture_output=True, timeout=DRY_TIMEOUT_S)
            record.write_text(json.dumps({'args': proc.args, 'returncode': proc.returncode, 'stdout': proc.stdout,
                                          'stderr': proc.stderr}))
        done = json.loads(record.read_text())
    proc = subprocess.CompletedProcess(done['args'], done['returncode'], done['stdout'], done['stderr'])
    return DryRun(proc, out_dir, out_dir / 'gpu_check_work')


@pytest.fixture(scope='session')
def shards(tmp_path_factory):
    """yamls/synthetic.yaml (64 training and 32 evaluation images of 1x16x16) as shards, via the command line."""
    out = tmp_path_factory.mktemp('shards') / 'out'
    from composer_cutmix.runner.cli import main

    synthetic = Path(__file__).resolve().parents[1] / 'yamls' / 'synthetic.yaml'
    assert main(['convert', str(synthetic), str(out), '--no-progress']) == 0
    return out
