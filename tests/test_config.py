"""YAML + overrides -> a checked config; every mistake is one ConfigError paragraph, and exit code 2 on the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from composer.algorithms import ChannelsLast, LabelSmoothing

from composer_cutmix.algorithm import CutMix, FMix, MixUp
from composer_cutmix.runner.cli import main
from composer_cutmix.runner.config import ConfigError, config_from_dict, load_config
from composer_cutmix.runner.registry import ENTRY_POINT_GROUP, algorithm_names, build_algorithms, register_algorithm
from tools import forked

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = str(ROOT / 'yamls' / 'synthetic.yaml')


def test_overrides_merge_into_the_yaml():
    cfg = load_config(SYNTHETIC, ['max_duration=2ba', 'train_data.batch_size=4', 'algorithms.cutmix.alpha=0.5',
                                  'save_folder=${run_folder}/ckpt'])
    assert cfg.max_duration == '2ba'
    assert cfg.train_data.batch_size == 4
    assert cfg.train_data.num_samples == 64  # from the YAML, untouched
    assert cfg.algorithms.cutmix.alpha == 0.5
    assert cfg.run_name == 'synthetic'  # the file's stem
    assert cfg.run_folder == os.path.join('runs', 'synthetic')
    assert cfg.save_folder == os.path.join('runs', 'synthetic', 'ckpt')  # interpolation resolved


def test_overrides_convert_types_and_defaults_fill_in():
    cfg = config_from_dict({}, ['seed=3', 'optimizer.lr=0.01', 'loggers.progress_bar=false', 'eval_data=null'])
    assert (cfg.seed, cfg.optimizer.lr, cfg.loggers.progress_bar, cfg.eval_data) == (3, 0.01, False, None)
    assert (cfg.model.name, cfg.model.depth, cfg.train_data.name) == ('cifar_resnet', 8, 'fashion_mnist')


@pytest.mark.parametrize('override, names', [
    ('trian_data.batch_size=4', ["'trian_data'", 'train_data', 'max_duration']),
    ('train_data.batchsize=4', ["'train_data.batchsize'", 'batch_size', 'num_workers']),
    ('model.dept=20', ["'model.dept'", 'depth', 'width']),
])
def test_unknown_key_names_the_key_and_lists_the_accepted_ones(override, names):
    with pytest.raises(ConfigError) as e:
        load_config(SYNTHETIC, [override])
    msg = str(e.value)
    for name in names:
        assert name in msg
    assert '\n' not in msg


def test_unknown_key_in_the_yaml_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('model:\n  name: cifar_resnet\n  widht: 8\n')
    with pytest.raises(ConfigError, match=r"unknown config key 'model\.widht'.*width"):
        load_config(path)


@pytest.mark.parametrize('override, expected', [
    ('train_data.batch_size=abc', ["'train_data.batch_size'", 'int', "'abc'"]),
    ('seed=1.5', ["'seed'", 'int', '1.5']),
    ('loggers.metrics_jsonl=maybe', ["'loggers.metrics_jsonl'", 'bool', "'maybe'"]),
])
def test_wrong_type_names_key_type_and_value(override, expected):
    with pytest.raises(ConfigError) as e:
        load_config(SYNTHETIC, [override])
    for part in expected:
        assert part in str(e.value)


@pytest.mark.parametrize('override, expected', [
    ('algorithms.cutmx.alpha=1.0', ["'cutmx'", 'cutmix', 'label_smoothing', 'channels_last', ENTRY_POINT_GROUP]),
    ('algorithms.cutmix.alpah=1.0', ["algorithms.cutmix", "'alpah'", 'alpha', 'uniform_sampling']),
    ('algorithms.cutmix.alpha=-1', ['algorithms.cutmix', 'alpha', '-1']),
    ('model.name=resnet5', ["'resnet5'", 'cifar_resnet', 'resnet50', 'timm:<name>']),
    ('train_data.name=mnist', ["train_data.name", "'mnist'", 'fashion_mnist', 'synthetic']),
    ('optimizer.name=adam', ["optimizer.name", "'adam'", 'sgd, adamw']),
    ('scheduler.name=step', ["scheduler.name", "'step'", 'cosine, multistep, constant']),
    ('precision=fp16', ['precision', "'fp16'", 'amp_bf16']),
    ('max_duration=3epochs', ['max_duration', "'3epochs'", "'2ba'"]),
    ('max_duration=0ba', ['max_duration must be a positive number', "got '0ba'"]),
    ('max_duration=1dur', ['max_duration must be a positive number', "got '1dur'"]),
    ('eval_data.subset=0', ['eval_data.subset', '>= 1', '0']),
    ('algorithms.random_mix.ops.ema={}', ['algorithms.random_mix.ops', "'ema'", 'mixup, cutmix, resizemix, fmix']),
    ('algorithms.random_mix.probs=[1.0]', ['algorithms.random_mix.ops', 'needs a mapping', 'fmix: {}']),
    ('algorithms.resizemix.scale=[0.9,0.1]', ['algorithms.resizemix', '0 < lo <= hi <= 1']),
    ('algorithms.fmix.decay_power=0', ['algorithms.fmix', 'decay_power must be']),
])
def test_unknown_names_and_bad_values_say_what_is_accepted(override, expected):
    with pytest.raises(ConfigError) as e:
        cfg = load_config(SYNTHETIC, [override])
        build_algorithms(cfg.algorithms, num_classes=10)  # algorithm kwargs are checked when building
    for part in expected:
        assert part in str(e.value), str(e.value)


def test_malformed_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="'max_duration' is not of the form key=value"):
        load_config(SYNTHETIC, ['max_duration'])
    with pytest.raises(ConfigError, match='not found'):
        load_config(tmp_path / 'nope.yaml')
    (tmp_path / 'list.yaml').write_text('- 1\n- 2\n')
    with pytest.raises(ConfigError, match='mapping'):
        load_config(tmp_path / 'list.yaml')
    (tmp_path / 'broken.yaml').write_text('model: [unclosed\n')
    with pytest.raises(ConfigError, match='YAML'):
        load_config(tmp_path / 'broken.yaml')


def test_registry_builds_in_order_and_fills_num_classes():
    algos = build_algorithms({'cutmix': {'alpha': 0.5}, 'label_smoothing': {'smoothing': 0.1}, 'channels_last': None},
                             num_classes=7)
    assert [type(a) for a in algos] == [CutMix, LabelSmoothing, ChannelsLast]
    assert (algos[0].num_classes, algos[0].alpha) == (7, 0.5)
    assert build_algorithms({'cutmix': {'num_classes': 3}}, num_classes=7)[0].num_classes == 3
    assert build_algorithms({}) == []
    cfg = load_config(SYNTHETIC, ['algorithms.cutmix=false'])  # the baseline of a CutMix YAML
    assert build_algorithms(cfg.algorithms, num_classes=10) == []
    with pytest.raises(ConfigError, match='algorithms.cutmix: expected a mapping'):
        load_config(SYNTHETIC, ['algorithms.cutmix=0.5'])


def test_random_mix_builds_its_ops_in_the_order_written():
    mix = ['algorithms.cutmix=false', 'algorithms.random_mix.ops.fmix.decay_power=4.0',
           'algorithms.random_mix.ops.mixup={}', 'algorithms.random_mix.ops.resizemix=false']
    (algo,) = build_algorithms(load_config(SYNTHETIC, [*mix, 'algorithms.random_mix.probs=[0.3,0.6]']).algorithms,
                               num_classes=10)
    assert [type(op) for op in algo.ops] == [FMix, MixUp] and algo.probs == (0.3, 0.6)  # resizemix: false, left out
    assert algo.ops[0].decay_power == 4.0 and algo.num_classes == 10
    for extra, message in [
        (['algorithms.random_mix.probs=[0.5]'], 'algorithms.random_mix: probs must be a list of 2 numbers'),
        (['algorithms.random_mix.ops.mixup.alpah=1'], "algorithms.random_mix.ops.mixup: unknown argument 'alpah'"),
        (['algorithms.random_mix.ops.mixup=false', 'algorithms.random_mix.ops.fmix=false'], 'every op is turned off'),
        (['algorithms.random_mix.ops.cutmix=0.5'], 'algorithms.random_mix.ops.cutmix: expected a mapping'),
    ]:
        with pytest.raises(ConfigError) as e:
            build_algorithms(load_config(SYNTHETIC, [*mix, *extra]).algorithms, num_classes=10)
        assert message in str(e.value), str(e.value)


def test_registry_finds_the_entry_point_and_runtime_registrations(monkeypatch):
    from composer_cutmix.runner import registry

    assert registry._entry_points()['cutmix'].value == 'composer_cutmix.algorithm:CutMix'  # declared in setup.cfg
    monkeypatch.setattr(registry, '_REGISTERED', {})
    register_algorithm('my_cutmix', lambda num_classes, alpha=2.0: CutMix(num_classes, alpha))
    assert 'my_cutmix' in algorithm_names()
    (algo,) = build_algorithms({'my_cutmix': {}}, num_classes=4)
    assert (algo.num_classes, algo.alpha) == (4, 2.0)


def test_cli_returns_2_with_one_paragraph(capsys):
    assert main(['train', SYNTHETIC, 'algorithms.cutmx.alpha=1']) == 2
    err = capsys.readouterr().err
    assert err.startswith('composer-cutmix: error: algorithms: unknown algorithm')
    assert 'Traceback' not in err and '\n\n' not in err.strip()
    assert main(['preview', SYNTHETIC, '--out', 'x.png', 'model.dept=2']) == 2
    assert "unknown config key 'model.dept'" in capsys.readouterr().err


def test_cli_subprocess_exit_code_2_and_no_traceback(tmp_path):
    proc = forked.run(  # its own process (a fork of this one: no second import of Composer)
        [sys.executable, '-m', 'composer_cutmix', 'train', SYNTHETIC, 'train_data.name=fashion_mnist',
         f'train_data.root={tmp_path}', f'run_folder={tmp_path}/run'],
        capture_output=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert 'apt-get install dataset-fashion-mnist' in proc.stderr
    assert 'train_data.root' in proc.stderr


def test_a_section_given_as_a_scalar_says_it_needs_a_mapping():
    with pytest.raises(ConfigError, match=r"'model' expects a mapping with the keys name, num_classes.*'resnet50'"):
        config_from_dict({'model': 'resnet50'})
    with pytest.raises(ConfigError, match=r"'optimizer.betas' expects list\[float\], but got 1 \(int\)"):
        config_from_dict({'optimizer': {'betas': 1}})
    with pytest.raises(ConfigError, match=r"'loggers.mlflow' expects a mapping with the keys tracking_uri.*'x'.*"
                                          r"from the command-line overrides"):
        config_from_dict({}, ['loggers.mlflow=x'])  # a nested section, from an override
    with pytest.raises(ConfigError, match=r"'model' expects a mapping with the keys name.*got None"):
        config_from_dict({'model': None})
    with pytest.raises(ConfigError, match=r"'train_data.shuffle' expects Optional\[bool\], but got 'sometimes'"):
        config_from_dict({'train_data': {'shuffle': 'sometimes'}})


@pytest.mark.parametrize('override, expected', [
    ('train_data.subset=8', 'train_data.subset is not supported with streaming'),
    ('optimizer.momentum=0', 'nesterov=true needs momentum > 0'),
    ('scheduler.name=multistep', 'multistep needs at least one milestone'),
    ('model.depth=10', r'depth must be 6n\+2 .*got 10; the nearest valid depths are 8 and 14'),
    ('model.kwargs.zero_init=1', 'cifar_resnet takes no extra arguments'),
    ('eval_data.num_samples=0', 'eval_data.num_samples: synthetic data: num_samples must be >= 1'),
    ('loggers.console_log_interval=10sp', r"console_log_interval must be a positive number of epochs or batches"),
    ('loggers.log_mixed_images=2ba', 'sends pictures to loggers that show images, and none is on'),
])
def test_checks_the_builders_had_are_made_when_the_config_is_loaded(override, expected):
    extra = ['train_data.name=streaming', 'train_data.remote=out/train'] if 'subset' in override else []
    with pytest.raises(ConfigError, match=expected):
        load_config(SYNTHETIC, [*extra, override])


def test_a_loaded_run_is_checked_once_and_a_plain_mapping_once(monkeypatch, tmp_path):
    """The builders trust the sections of a validated run: building a run checks each section exactly once."""
    from composer_cutmix.runner import schema
    from composer_cutmix.runner.data import build_dataloader
    from composer_cutmix.runner.train import build_trainer

    calls = []
    for name in ('check_data', 'check_model', 'check_optimizer', 'check_scheduler', 'check_loggers',
                 'check_algorithms'):
        real = getattr(schema, name)
        monkeypatch.setattr(schema, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name),
                                                                                   _real(*a, **k))[1])
    for cls, check in list(schema.SECTION_CHECKS.items()):  # what checked() calls for a mapping
        monkeypatch.setitem(schema.SECTION_CHECKS, cls, getattr(schema, check.__name__))
    cfg = load_config(SYNTHETIC, ['max_duration=1ba', f'run_folder={tmp_path}', 'loggers.progress_bar=false'])
    assert sorted(calls) == sorted(['check_data', 'check_data', 'check_model', 'check_optimizer', 'check_scheduler',
                                    'check_loggers', 'check_algorithms'])
    calls.clear()
    trainer, _ = build_trainer(cfg)
    trainer.close()
    assert calls == []  # every builder took its section as validated
    build_dataloader({'name': 'synthetic', 'num_samples': 8, 'batch_size': 4}, train=True)
    assert calls == ['check_data']  # a plain mapping: checked once, by the same check
    with pytest.raises(ConfigError, match="train_data.name: unknown data set 'mnist'"):
        build_dataloader({'name': 'mnist'}, train=True)


def test_a_built_in_recipe_by_name_and_the_recipes_and_version_commands(capsys):
    from composer_cutmix import __version__

    assert load_config('synthetic', ['max_duration=2ba']).train_data.num_samples == 64  # yamls/synthetic.yaml
    assert load_config('synthetic.yaml').run_name == 'synthetic'
    with pytest.raises(ConfigError, match=r"'fashion' not found.*built-in recipe \(cifar10_resnet, fashion_mnist"):
        load_config('fashion')
    assert main(['recipes']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].split(None, 1) == ['synthetic', 'A tiny run on random images, for smoke tests: seconds on a CPU, '
                                                     'no data needed.']  # the recipe's first comment line
    with pytest.raises(SystemExit) as e:
        main(['--version'])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f'composer-cutmix {__version__}'
