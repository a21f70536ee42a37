"""Coming from Composer's CutMix: its call works, num_classes comes from the model, its sampler is matched, and the
package is two wings (the plugin loads nothing of the runner)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from composer import Trainer
from composer.models import ComposerClassifier, ComposerModel
from scipy import stats

from composer_cutmix import CutMix, MixingError, MixUp, MixUpCutMix
from composer_cutmix.mixing import check_placement, draw_cutmix
from tests.helpers import N_CLASSES, Recorder, tiny_data, tiny_loader, tiny_net
from tools import forked

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'composer_cutmix'
CORE = ('functional', 'mixer', 'mixing')  # what `import composer_cutmix` loads: torch and numpy only
PLUGIN = (*CORE, 'algorithm', 'loss', 'metrics')


def trainer_for(model, algorithms, X=None, y=None, **kwargs):
    if X is None:
        X, y = tiny_data()
    return Trainer(model=model, train_dataloader=tiny_loader(X, y, 8), max_duration='2ba', algorithms=algorithms,
                   progress_bar=False, seed=3, **kwargs)


# ------------------------------------------------------------------------------------------- num_classes


@pytest.mark.parametrize('cls', [CutMix, MixUp, MixUpCutMix])
def test_num_classes_is_taken_from_a_composer_classifier(cls):
    algo = cls()
    rec = Recorder(algo)
    model = ComposerClassifier(tiny_net(48), num_classes=N_CLASSES)
    trainer_for(model, [algo], callbacks=[rec]).fit()
    assert algo.num_classes == N_CLASSES
    assert all(batch[1].shape == (8, N_CLASSES) for batch in rec.batches)


class Wrapper(ComposerModel):
    """A hand-written Composer model whose network says how many classes it has."""

    def __init__(self, net, *, on_module=True, n=N_CLASSES):
        super().__init__()
        self.module = net
        if on_module:
            self.module.num_classes = n
        else:
            self.num_classes = n

    def forward(self, batch):
        return self.module(batch[0])

    def loss(self, outputs, batch):
        return torch.nn.functional.cross_entropy(outputs, batch[1])


@pytest.mark.parametrize('on_module', [True, False])
def test_num_classes_from_an_integer_attribute_of_the_model_or_its_module(on_module):
    algo = CutMix()
    trainer_for(Wrapper(tiny_net(48), on_module=on_module), [algo]).fit()
    assert algo.num_classes == N_CLASSES


@pytest.mark.parametrize('cls', [CutMix, MixUp, MixUpCutMix])
def test_a_num_classes_that_disagrees_with_the_model_is_refused_at_trainer_construction(cls):
    model = ComposerClassifier(tiny_net(48), num_classes=N_CLASSES)
    with pytest.raises(MixingError) as info:
        trainer_for(model, [cls(num_classes=N_CLASSES + 5)])
    text = str(info.value)
    assert f'num_classes={N_CLASSES + 5}' in text and f'num_classes={N_CLASSES}' in text and 'leave num_classes out' in text


def test_an_unknown_class_count_is_refused_at_trainer_construction():
    class Bare(ComposerModel):
        def __init__(self):
            super().__init__()
            self.net = tiny_net(48)

        def forward(self, batch):
            return self.net(batch[0])

        def loss(self, outputs, batch):
            return torch.nn.functional.cross_entropy(outputs, batch[1])

    with pytest.raises(MixingError, match=r'declares none .* Pass it: CutMix\(num_classes=\.\.\.\)'):
        trainer_for(Bare(), [CutMix()])
    algo = CutMix(num_classes=N_CLASSES)  # given, on a model that declares none: nothing to check against
    trainer_for(Bare(), [algo]).fit()
    assert algo.num_classes == N_CLASSES


def test_alpha_passed_positionally_the_composer_way_gets_a_pointed_message():
    with pytest.raises(MixingError, match='alpha first; here pass it by name: alpha=1.0'):
        CutMix(1.0)


# ----------------------------------------------------------------------------- Composer's call, verbatim

COMPOSER_SCRIPT = '''
import torch
from composer import Trainer
from composer.models import ComposerClassifier
from torch.utils.data import DataLoader, TensorDataset
from composer.algorithms import CutMix

torch.manual_seed(0)
X, y = torch.randn(64, 3, 16, 16), torch.randint(0, 10, (64,))
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(8, 10))
model = ComposerClassifier(net, num_classes=10)
cutmix = CutMix(alpha=1.0, interpolate_loss=INTERPOLATE, uniform_sampling=UNIFORM, input_key=0, target_key=1)
trainer = Trainer(model=model, train_dataloader=DataLoader(TensorDataset(X, y), batch_size=16),
                  max_duration='2ep', algorithms=[cutmix], progress_bar=False, seed=1)
trainer.fit()
'''


@pytest.mark.parametrize('interpolate,uniform', [(False, False), (True, True)])
def test_a_trainer_script_written_for_composers_cutmix_trains_with_only_the_import_swapped(interpolate, uniform):
    script = COMPOSER_SCRIPT.replace('INTERPOLATE', str(interpolate)).replace('UNIFORM', str(uniform))
    swapped = script.replace('from composer.algorithms import CutMix', 'from composer_cutmix import CutMix')
    assert swapped != script and swapped.count('\n') == script.count('\n')
    for text, module in ((script, 'composer.algorithms'), (swapped, 'composer_cutmix.algorithm')):
        scope: dict = {}
        exec(compile(text, '<composer script>', 'exec'), scope)
        trainer, cutmix = scope['trainer'], scope['cutmix']
        assert type(cutmix).__module__.startswith(module)
        assert int(trainer.state.timestamp.batch) == 8
        assert torch.isfinite(trainer.state.loss).all()
    assert cutmix.num_classes == 10 and cutmix.uniform_sampling is uniform and cutmix.interpolate_loss is interpolate


# ---------------------------------------------------------------------------- Composer's box sampler


def composer_areas(n, img_h, img_w, uniform):
    from composer.algorithms.cutmix.cutmix import _rand_bbox

    np.random.seed(0)
    areas = []
    for _ in range(n):
        lam = np.random.beta(1.0, 1.0)
        # Composer's CutMix calls _rand_bbox(input.shape[2], input.shape[3], ...): rows first.
        r0, c0, r1, c1 = _rand_bbox(img_h, img_w, lam, uniform_sampling=uniform)
        areas.append((r1 - r0) * (c1 - c0))
    return np.array(areas)


def our_areas(n, img_h, img_w, **kwargs):
    g = torch.Generator().manual_seed(1)
    placement = check_placement(kwargs.get('uniform_sampling', False), kwargs.get('keep_box_inside', False))
    boxes = draw_cutmix(n, img_h, img_w, 1.0, placement=placement, per_sample=True, generator=g).bbox  # iid rows
    return ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).numpy()


@pytest.mark.parametrize('uniform', [False, True])
@pytest.mark.parametrize('size', [(28, 28), (24, 40)])
def test_box_areas_follow_composers_sampler(uniform, size):
    # Box areas in whole pixels, so equal boxes compare equal (the KS test is exact for ties only then).
    ours, theirs = our_areas(4000, *size, uniform_sampling=uniform), composer_areas(4000, *size, uniform)
    assert stats.ks_2samp(ours, theirs).pvalue > 0.01
    # and the two placements really differ: Composer's widened centres clip about twice as much of each box
    assert ours.mean() / (size[0] * size[1]) == pytest.approx(0.15 if uniform else 0.30, abs=0.02)


def test_keep_box_inside_is_its_own_placement():
    areas = our_areas(3000, 64, 64, keep_box_inside=True) / 64**2
    assert areas.mean() == pytest.approx(0.48, abs=0.02)  # never clipped: the drawn area, floored
    assert stats.ks_2samp(areas, composer_areas(3000, 64, 64, False) / 64**2).pvalue < 1e-6
    with pytest.raises(MixingError, match='two different placements'):
        CutMix(uniform_sampling=True, keep_box_inside=True)


# ---------------------------------------------------------------------------------------------- two wings


FRESH_PROCESS = """
import runpy, sys
import composer_cutmix
print(' '.join(sorted(sys.modules)))
import contextlib, io
from composer_cutmix.runner.cli import main
with contextlib.redirect_stdout(io.StringIO()) as listing:
    main(['recipes'])
print('recipes', len(listing.getvalue().splitlines()), 'composer' in sys.modules)
sys.argv = ['composer_cutmix', '--help']
try:
    runpy.run_module('composer_cutmix', run_name='__main__')
except SystemExit as e:
    print('exit', e.code, 'composer' in sys.modules)
"""

# Needs Composer (the Algorithms are exported): run in a fork of this worker, which has imported it already, with
# our own modules dropped so that the import is done afresh and whatever of the runner it loads shows.
STAR_IMPORT = """
import sys
for name in [m for m in sys.modules if m.split('.')[0] == 'composer_cutmix']:
    del sys.modules[name]
from composer_cutmix import *
print(' '.join(sorted(m for m in sys.modules if m.startswith('composer_cutmix.runner'))) or 'none')
print('CutMix' in dir(), 'Mixer' in dir(), 'train' in dir())
"""


@pytest.fixture(scope='session')
def fresh_process() -> list[str]:
    """One new interpreter, which never imports Composer: the modules ``import composer_cutmix`` loaded, whether
    ``composer-cutmix recipes`` loads Composer, then ``python -m composer_cutmix --help`` (and whether it did)."""
    out = subprocess.run([sys.executable, '-c', FRESH_PROCESS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_importing_the_plugin_loads_nothing_of_the_runner(fresh_process):
    loaded = fresh_process[0].split()
    ours = sorted(m for m in loaded if m.startswith('composer_cutmix'))
    assert ours == ['composer_cutmix', *(f'composer_cutmix.{m}' for m in sorted(CORE))], ours
    assert 'omegaconf' not in loaded and 'composer' not in loaded, 'the core needs neither the runner nor Composer'


def test_the_cli_lists_its_recipes_and_its_help_without_importing_composer(fresh_process):
    recipes = sorted(p.stem for p in (ROOT / 'yamls').glob('*.yaml'))
    assert fresh_process[1] == f'recipes {len(recipes) + 1} False'  # a line per recipe and the hint; no Composer
    help_text = '\n'.join(fresh_process[2:])
    assert fresh_process[-1] == 'exit 0 False' and 'train' in help_text and 'preview' in help_text


def test_star_import_loads_none_of_the_runner():
    out = forked.run([sys.executable, '-c', STAR_IMPORT], cwd=ROOT, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    runner, names = out.stdout.splitlines()
    assert runner == 'none', f'from composer_cutmix import * loaded: {runner}'
    assert names == 'True True False'


def test_the_runner_is_imported_from_the_runner():
    import composer_cutmix
    from composer_cutmix.runner import ConfigError, load_config, preview_batch, train  # noqa: F401

    for former in ('load_config', 'train', 'preview_batch', 'ConfigError'):
        assert not hasattr(composer_cutmix, former)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module('composer_cutmix.config')  # the 0.1 paths are gone (CHANGELOG)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('composer_cutmix'):
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith('composer_cutmix')]
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob('*.py')}


def test_no_private_names_are_imported_across_modules():
    offenders = [(name, mod, n) for name, path in MODULES.items() for mod, names in _imports(path)
                 for n in names if n.startswith('_')]
    assert offenders == []


def test_the_plugin_never_imports_the_runner_and_there_are_no_import_circles():
    graph = {name: {mod for mod, _ in _imports(path) if mod in MODULES and mod != name} for name, path in MODULES.items()}
    for m in PLUGIN:
        assert not any(dep.startswith('composer_cutmix.runner') for dep in graph[f'composer_cutmix.{m}'])
    assert {f'composer_cutmix.{m}' for m in PLUGIN} | {'composer_cutmix', 'composer_cutmix.__main__'} == \
        {name for name in MODULES if not name.startswith('composer_cutmix.runner')}

    def visit(node, stack):
        if node in stack:
            return stack[stack.index(node):]
        for dep in graph[node] - {'composer_cutmix', 'composer_cutmix.runner'}:  # package faces only re-export
            circle = visit(dep, stack + [node])
            if circle:
                return circle
        return None

    for name in graph:
        assert visit(name, []) is None, f'import circle: {visit(name, [])}'
