"""The built wheel, installed in a fresh virtualenv, runs a built-in recipe by name: the recipes ship with it.

The venv's own ``composer-cutmix recipes`` runs in a new interpreter of that venv (it loads no Composer). The
training runs the venv's ``composer-cutmix`` script in a fork of this process (:mod:`tools.forked`) with the venv's
site-packages first on ``sys.path`` and our modules dropped, so every module of ours it runs comes from the installed
wheel (it prints where from): a new interpreter would only add a third import of Composer (about 15 s of CPU here)
from the same site-packages, which the venv sees through its ``.pth`` anyway.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from composer_cutmix import __version__
from composer_cutmix.runner.data import FASHION_MNIST_DIR
from tools import forked

ROOT = Path(__file__).resolve().parents[1]
# What the build reads: setup.cfg names the package folders, README.md is the long description.
SOURCES = ('setup.cfg', 'pyproject.toml', 'README.md', 'composer_cutmix', 'yamls')


# Runs the venv's console script (argv: its site-packages, the script, the script's arguments) as that venv's
# interpreter would: its site-packages before this one's, and none of our modules already imported.
INSTALLED_SCRIPT = """
import runpy, sys
purelib, script = sys.argv[1:3]
sys.path.insert(0, purelib)
for name in [m for m in sys.modules if m.split('.')[0] == 'composer_cutmix']:
    del sys.modules[name]
import composer_cutmix
print('ours from', composer_cutmix.__file__, flush=True)
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name='__main__')
"""


def _can_build_offline() -> bool:
    return (importlib.util.find_spec('setuptools.command.bdist_wheel') is not None
            or importlib.util.find_spec('wheel') is not None)


@pytest.mark.skipif(not _can_build_offline(), reason="building a wheel offline needs setuptools>=70.1 or wheel: "
                                                     "pip install 'setuptools>=70.1' wheel (the test extra has them)")
@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'))
                    and not os.path.isfile(os.path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte')),
                    reason=f'Fashion-MNIST is not in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)')
def test_the_installed_wheel_trains_a_recipe_by_name(tmp_path):
    src = tmp_path / 'src'  # a copy: the build writes build/ and *.egg-info next to setup.cfg
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    subprocess.run([*pip, 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-w', str(tmp_path / 'dist'),
                    str(src)], check=True, cwd=tmp_path, timeout=120)
    (wheel,) = (tmp_path / 'dist').glob('composer_cutmix-*.whl')

    venv = tmp_path / 'venv'  # a fresh virtualenv that sees this one's dependencies (torch, composer...) only
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=60)
    python = venv / 'bin' / 'python'
    purelib = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / 'deps.pth').write_text('\n'.join(site.getsitepackages()) + '\n')
    subprocess.run([*pip, '--python', str(python), 'install', '--no-deps', '--no-index', str(wheel)], check=True,
                   timeout=120)

    elsewhere = tmp_path / 'elsewhere'  # outside the repository: no yamls/ folder to fall back on
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    cli = str(venv / 'bin' / 'composer-cutmix')

    # the version is the wheel's (its name); the recipes ship in it, each once, and the installed command lists them
    assert wheel.name.startswith(f'composer_cutmix-{__version__}-')
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(Path(n).stem for n in archive.namelist() if n.startswith('composer_cutmix/recipes/')
                         and n.endswith('.yaml'))
    recipes = sorted(p.stem for p in (ROOT / 'yamls').glob('*.yaml'))
    assert shipped == recipes
    listing = subprocess.Popen([cli, 'recipes'], cwd=elsewhere, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # side by side with the training below

    run_folder = tmp_path / 'run'  # the installed command finds the recipe by name, from outside the repository
    train = ['train', 'fashion_mnist', 'max_duration=2ba', 'train_data.subset=64', 'train_data.batch_size=16',
             'eval_data.subset=32', 'eval_data.batch_size=32', 'model.width=4', f'run_folder={run_folder}',
             'loggers.progress_bar=false', 'loggers.speed_monitor=false']
    done = forked.run([python, '-c', INSTALLED_SCRIPT, purelib, cli, *train], cwd=elsewhere, env=env,
                      capture_output=True, timeout=300)
    assert done.returncode == 0, f'composer-cutmix {" ".join(train)}: {done.stderr}'
    assert done.stdout.startswith(f'ours from {purelib}/composer_cutmix/__init__.py\n'), done.stdout[:300]
    assert 'final metrics of fashion_mnist' in done.stdout  # run_name: the recipe's name
    listed, errors = listing.communicate(timeout=120)
    assert listing.returncode == 0, errors
    listed = listed.splitlines()
    assert [line.split()[0] for line in listed[:-1]] == recipes  # every recipe, then the hint
    assert any(line.startswith('fashion_mnist ') and 'The default job: CutMix on Fashion-MNIST' in line
               for line in listed)
    lines = [json.loads(x) for x in (run_folder / 'metrics.jsonl').read_text().splitlines()]
    assert [x['batch'] for x in lines if 'loss/train/total' in x] == [1, 2]
    config = (run_folder / 'config.yaml').read_text()
    assert 'cutmix:' in config and 'name: fashion_mnist' in config  # the recipe's own settings, from the wheel
