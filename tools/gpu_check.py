"""``make gpu-check``: all the GPU evidence in one command of about 8 minutes, on a machine with CUDA and no network.

Usage::

    python3 tools/gpu_check.py [--wheels .whl] [--data .gpu-data/fashion-mnist] [--budget-s 450]
    python  tools/gpu_check.py --dry [--out-dir DIR]      # every step on the CPU, tiny, in about a minute

On the GPU machine (``docs/gpu_check.md`` says how to get there with the device tool) it

1. makes a virtual environment ``.gpu-venv`` that sees the image's torch (``--system-site-packages``, plus a
   ``.pth`` to the site-packages of ``python3`` itself when that is a virtual environment, as on the GPU image), and
   installs the wheels of ``.whl/`` (``make wheels``) and the project into it with ``--no-index --no-deps``;
2. records the machine: GPU, driver, torch, CUDA, whether Composer imports next to this torch, and which version
   pins of the installed wheels the image does not meet;
3. runs ``pytest -m gpu`` (``tests/test_gpu.py``: placement, no host-device sync in our per-step work, amp_bf16,
   CUDA-vs-CPU pixel parity, uint8, channels_last; ``tests/test_compile.py``: a mixing step captured in a CUDA
   graph), and a probe of the functional path that needs no Composer;
4. ``mix_speed.py --device cuda``: one CutMix, MixUp, ResizeMix and FMix step against Composer, timm, torchvision,
   kornia (mmpretrain where installed) and the floors, float32, bfloat16 and uint8;
5. ``train_overhead.py --device cuda``: ResNet-50, batch 256, amp_bf16, channels_last: the mixing cost as a share of
   a training step and the host-device syncs per step, ours and Composer's (a plain PyTorch loop without Composer);
6. ``gpu_study.py``: the accuracy study, sized to the minutes left;

each in a subprocess with a time limit, so one step that hangs or fails costs only itself. It writes
``docs/gpu_results.json`` (every measurement, the device, the versions, the date, the summary),
``docs/gpu_mix_speed.png`` and ``docs/gpu_study.png``, copies them and the log into ``$OUT`` when that is set (the
device tool brings back only what is there), updated after every step, and prints a summary.

``--dry`` runs every step of the same script on the CPU with tiny sizes and writes into a temporary folder: the
virtual environment (in the temporary folder, without installs), the GPU tests' CPU twins
(``COMPOSER_CUTMIX_GPU_TESTS_ON=cpu``), the probe, ``mix_speed.py --tiny``, ``train_overhead.py --tiny`` and
``gpu_study.py --dry``, so the script cannot rot before a GPU shows up. ``tests/test_gpu_check.py`` runs it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Optional

try:
    from tools import forked
except ImportError:  # run as a script: tools/ is sys.path[0]
    import forked

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / 'benchmarks'  # the measurements the check runs
TOOLS = REPO / 'tools'  # this script and the wheel tooling
OUT_FILES = ('gpu_results.json', 'gpu_mix_speed.png', 'gpu_study.png', 'gpu_check.log')

# Seconds each step may take on the GPU machine (the study takes what is left, less RESERVE_S).
LIMITS = {'env': 90, 'tests': 150, 'probe': 60, 'mix_speed': 120, 'train_overhead': 150}
RESERVE_S = 20  # the summary, the copies into $OUT
MIN_STUDY_S = 60


class Log:
    """Prints and keeps everything the check and its steps say, in a file that is copied into ``$OUT``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.file = path.open('w', buffering=1)
        self.lock = threading.Lock()

    def __call__(self, line: str = '') -> None:
        with self.lock:
            print(line, flush=True)
            self.file.write(line + '\n')


# ------------------------------------------------------------------------------------------------- the venv


def python_info(python: str) -> dict[str, Any]:
    code = ('import json, site, sys; print(json.dumps({"prefix": sys.prefix, "base": sys.base_prefix, '
            '"site": site.getsitepackages(), "version": sys.version.split()[0]}))')
    return json.loads(subprocess.run([python, '-c', code], capture_output=True, text=True, check=True).stdout)


def make_venv(path: Path, base_python: str, log: Log) -> str:
    """A venv at ``path`` that sees ``base_python``'s packages (torch); returns its interpreter.

    ``--system-site-packages`` gives a venv the packages of the base installation of the interpreter that made it.
    When that interpreter is itself a venv (the GPU image's ``python3`` is ``/opt/torch/.venv/bin/python3``), torch
    lives in its own site-packages instead, so a ``.pth`` file adds those (with their own ``.pth`` files), after the
    new venv's own packages. Made ``--without-pip``: installs go through ``base_python``'s pip.
    """
    info = python_info(base_python)
    if path.exists():
        shutil.rmtree(path)
    subprocess.run([base_python, '-m', 'venv', '--system-site-packages', '--without-pip', str(path)], check=True,
                   capture_output=True, text=True)
    python = str(path / 'bin' / 'python')
    if info['prefix'] != info['base']:
        own = python_info(python)['site'][0]
        lines = ''.join(f'import site; site.addsitedir({d!r})\n' for d in info['site'])
        Path(own, '_gpu_check_parent_site.pth').write_text(lines)
        log(f'>> {path}: a venv of {base_python}, which is itself a venv: its site-packages added by a .pth')
    # Found, not imported: the first step imports it (and the rest) anyway, and an import of torch costs seconds.
    code = 'import importlib.metadata as m, importlib.util as u; assert u.find_spec("torch"); print(m.version("torch"))'
    probe = subprocess.run([python, '-c', code], capture_output=True, text=True)
    if probe.returncode != 0:
        raise RuntimeError(f'the venv at {path} does not see torch: {probe.stderr.strip()[-300:]}')
    log(f'>> {path}: Python {info["version"]}, sees torch {probe.stdout.strip()}')
    return python


def install(site_dir: str, base_python: str, wheels: Path, log: Log) -> dict[str, Any]:
    """The wheels of ``wheels`` and the project into ``site_dir`` (a venv's site-packages, or a folder for
    PYTHONPATH), offline, without resolving, with ``base_python``'s pip."""
    result: dict[str, Any] = {'wheels': sorted(p.name for p in wheels.glob('*.whl'))}
    common = [base_python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-index', '--no-deps',
              '--no-cache-dir', '--upgrade', '--target', site_dir]
    if result['wheels']:
        proc = subprocess.run(common + ['--no-compile'] + [str(wheels / w) for w in result['wheels']],
                              capture_output=True, text=True)
        result['wheels_ok'] = proc.returncode == 0
        if proc.returncode:
            log(f'!! installing the wheels failed: {proc.stderr.strip()[-600:]}')
    else:
        result['wheels_ok'] = False
        log(f'!! no wheels in {wheels}: Composer and omegaconf are likely missing (run `make wheels` where PyPI is '
            f'reachable, and carry .whl)')
    proc = subprocess.run(common + ['--no-build-isolation', str(REPO)], capture_output=True, text=True)
    result['project_ok'] = proc.returncode == 0
    if proc.returncode:  # the steps import the project from the repository (PYTHONPATH) anyway
        errors = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if 'error:' in ln.lower()]
        log(f'>> installing the project failed (the steps import it from the repository): '
            f'{" / ".join(errors[:3])[:300]}')
    log(f'>> installed {len(result["wheels"])} wheels ({"ok" if result["wheels_ok"] else "FAILED"}) and the project '
        f'({"ok" if result["project_ok"] else "from the repository"})')
    return result


def cuda_available(python: str) -> bool:
    code = 'import torch; print(torch.cuda.is_available())'
    return subprocess.run([python, '-c', code], capture_output=True, text=True).stdout.strip() == 'True'


# ------------------------------------------------------------------------------------------------- steps


def run_step(name: str, cmd: list[str], limit: float, log: Log, env: dict[str, str], fork: bool = False
             ) -> dict[str, Any]:
    """Runs ``cmd`` with its output streamed into the log; kills its whole process group after ``limit`` s.
    With ``fork`` (the dry run: CPU only), the Python command line runs in a fork of this interpreter
    (:mod:`tools.forked`), which skips the ~15 s of imports a new interpreter pays.

    The step's output is also kept whole, unprefixed, beside the log in ``<name>.out`` (spaces as ``_``), so its
    tables can be read back as the script printed them (``tests/test_benchmarks.py`` does).
    """
    shown = ' '.join('<code>' if '\n' in str(c) else str(c) for c in cmd)
    log(f'\n== {name}: {shown}  (limit {limit:.0f} s{", in a fork of this interpreter" if fork else ""}) ==')
    t0 = time.perf_counter()
    proc = forked.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, fork=fork)
    tail: list[str] = []
    tagged: dict[str, Any] = {}
    raw = log.path.with_name(name.replace(' ', '_') + '.out').open('w', buffering=1)

    def pump() -> None:
        for line in proc.stdout:
            raw.write(line)
            line = line.rstrip('\n')
            log(f'  | {line}')
            tail.append(line)
            del tail[:-40]
            tag, _, rest = line.partition(' ')
            if tag in TAGS and rest.startswith('{'):
                try:
                    tagged[tag] = json.loads(rest)
                except ValueError:
                    pass

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=max(1.0, limit))
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(timeout=5)
    raw.close()
    seconds = time.perf_counter() - t0
    status = 'timed out' if timed_out else ('ok' if proc.returncode == 0 else f'failed (exit {proc.returncode})')
    log(f'== {name}: {status} after {seconds:.0f} s ==')
    return {'command': shown, 'status': status, 'ok': proc.returncode == 0 and not timed_out,
            'seconds': round(seconds, 1), 'tail': tail[-15:], 'tagged': tagged}


WARM = ('torch', 'torchvision', 'composer', 'composer_cutmix.runner.cli', 'matplotlib.pyplot', 'timm', 'kornia',
        'pytest')


def warm_up(env: dict[str, str]) -> None:
    """The dry run's steps run in forks of this interpreter: import once here what they all import."""
    os.environ.update(OMP_NUM_THREADS=env['OMP_NUM_THREADS'], MPLBACKEND=env['MPLBACKEND'])  # before torch loads
    sys.path[1:1] = [p for p in env['PYTHONPATH'].split(os.pathsep) if p not in sys.path]
    for name in WARM:
        try:
            __import__(name)
        except Exception:  # the step that needs it says why, in its own output
            pass
    for name in [m for m in sys.modules if m == 'tests' or m.startswith('tests.')]:  # when forked from the suite:
        del sys.modules[name]  # the tests step imports the tests afresh, under its own environment


def read_json(path: Path) -> Optional[Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def junit_summary(path: Path) -> dict[str, Any]:
    """Counts, failures and the sync census the tests printed, from pytest's JUnit XML."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {'read': False}
    cases = root.iter('testcase')
    out: dict[str, Any] = {'read': True, 'passed': 0, 'failed': [], 'skipped': 0, 'census': []}
    for case in cases:
        name = f'{case.get("name")}'
        failure = case.find('failure') if case.find('failure') is not None else case.find('error')
        if failure is not None:
            out['failed'].append(f'{name}: {(failure.get("message") or "")[:300]}')
        elif case.find('skipped') is not None:
            out['skipped'] += 1
        else:
            out['passed'] += 1
        text = case.findtext('system-out') or ''
        if 'syncs over 4 steps' in text:
            out['census'].append(text.strip()[:2000])
    return out


PROBE_CODE = '''
import json, sys, torch
from benchmarks.machine import load_functional
from benchmarks.syncs import SyncCensus
F = load_functional()
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
checks = []
for op in ('cutmix', 'mixup'):
    for dtype in (torch.float32, torch.bfloat16, torch.uint8):
        for layout in (torch.contiguous_format, torch.channels_last):
            g = torch.Generator().manual_seed(0)
            X = (torch.randint(0, 256, (32, 3, 16, 12), generator=g, dtype=torch.uint8) if dtype == torch.uint8
                 else torch.randn(32, 3, 16, 12, generator=g).to(dtype)).contiguous(memory_format=layout)
            y = torch.randint(0, 10, (32,), generator=g)
            p = (F.mixing.draw_cutmix(32, 16, 12, 1.0, generator=g) if op == 'cutmix'
                 else F.mixing.draw_mixup(32, 1.0, generator=g))
            expected = F.apply(X, p)
            Xd, yd = X.to(dev, copy=True), y.to(dev)
            with SyncCensus(mode='warn') as census:
                out = F.apply(Xd, p, inplace=True)
                t = F.mix_targets(yd, p, 10)
            diff = (out.cpu().float() - expected.float()).abs().max().item()
            exact = op == 'cutmix' or dtype != torch.float32
            checks.append({'op': op, 'dtype': str(dtype)[6:], 'layout': 'channels_last' if layout ==
                           torch.channels_last else 'contiguous', 'max_abs_diff': diff,
                           'parity': diff == 0 if exact else diff <= 1e-6, 'syncs': census.count(),
                           'layout_kept': out.is_contiguous(memory_format=layout), 'device': str(out.device)})
print('PROBE ' + json.dumps({'device': dev, 'checks': checks}))
'''

ENV_CODE = '''
import json, platform, subprocess, sys, torch
info = {'python': platform.python_version(), 'torch': torch.__version__, 'cuda': torch.version.cuda,
        'cuda_available': torch.cuda.is_available(), 'cpu_count': __import__('os').cpu_count()}
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    info.update(device=torch.cuda.get_device_name(0), capability='.'.join(map(str, torch.cuda.get_device_capability(0))),
                memory_gib=round(p.total_memory / 2**30, 1), multiprocessors=p.multi_processor_count)
else:
    info['device'] = 'CPU: ' + (platform.processor() or platform.machine())
for name in ('torchvision', 'numpy', 'timm', 'torchmetrics', 'kornia', 'omegaconf', 'matplotlib'):
    try:
        info[name] = __import__(name).__version__
    except Exception as e:
        info[name] = f'not importable ({type(e).__name__}: {str(e)[:120]})'
try:
    import composer, composer_cutmix
    info['composer'] = composer.__version__
    info['composer_ok'] = True
except Exception as e:
    info['composer'] = f'not importable ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ""})'
    info['composer_ok'] = False
print('ENV ' + json.dumps(info))
'''


TAGS = ('ENV', 'PROBE')  # a step's output line 'TAG {json}' is kept whole, however much follows it


def tagged_json(step: dict[str, Any], tag: str) -> Optional[dict]:
    return step.get('tagged', {}).get(tag)


# ------------------------------------------------------------------------------------------------- summary


def _met(flag: Optional[bool]) -> str:
    return {True: 'MET', False: 'MISSED', None: 'n/a'}[flag]


def summarise(results: dict[str, Any]) -> list[str]:
    """The human summary: one or a few lines per step."""
    env = results.get('env') or {}
    lines = [f'== GPU check summary{" (DRY RUN on the CPU)" if results["dry"] else ""}: {env.get("device", "?")}, '
             f'torch {env.get("torch", "?")}, composer {env.get("composer", "?")}, {results["date"]} ==']
    tests = results['steps'].get('tests', {})
    t = tests.get('junit') or {}
    if t.get('read'):
        lines.append(f'tests ({tests.get("what")}): {t["passed"]} passed, {len(t["failed"])} failed, {t["skipped"]} '
                     f'skipped ({tests["seconds"]:.0f} s)')
        lines += [f'    FAILED {f}' for f in t['failed'][:8]]
    elif tests:
        lines.append(f'tests: {tests.get("status")} {tests.get("why", "")}')
    probe = results.get('probe')
    if probe:
        checks = probe['checks']
        lines.append(f'functional probe on {probe["device"]}: parity {sum(c["parity"] for c in checks)}/{len(checks)}, '
                     f'layout kept {sum(c["layout_kept"] for c in checks)}/{len(checks)}, syncs '
                     f'{sum(c["syncs"] for c in checks)}')
    ms = results.get('mix_speed')
    if ms:
        for check in ms['targets']:
            if check['case'] == 'imagenet' and check['met'] is not None and 'memory' not in check['target']:
                lines.append(f'mix speed [{_met(check["met"]):6s}] {check["op"]} {check["dtype"]} {check["device"]}: '
                             f'{check["target"]}: {check["detail"]}')
    elif 'mix_speed' in results['steps']:
        lines.append(f'mix speed: {results["steps"]["mix_speed"]["status"]}')
    to = results.get('train_overhead')
    if to:
        s = to['setup']
        lines.append(f'train overhead ({s["model"]}, batch {s["batch_shape"][0]}, {s["precision"]}'
                     f'{", channels_last" if s.get("channels_last") else ""}{", plain loop" if to["plain"] else ""}): '
                     f'step {to["summary"]["none"]["step_ms"]:.1f} ms without augmentation')
        for check in to['targets']:
            lines.append(f'    [{_met(check["met"]):6s}] {check["target"]}: {check["detail"]}')
        for config, e in to['summary'].items():
            c = e.get('census') or {}
            if c.get('measured'):
                owners = ', '.join(f'{o} {v:.1f}' for o, v in sorted(c['by_owner'].items())) or 'none'
                lines.append(f'    syncs per whole step, {config}: {c["syncs_per_step"]:.1f} ({owners})')
        if 'composer' in to['summary']:
            comp = to['summary']['composer']
            lines.append(f"    Composer's CutMix: mixing {comp['mix_fraction']:.2%} of a step, end to end "
                         f"{comp['overhead_quartiles'][1]:+.2%}")
    elif 'train_overhead' in results['steps']:
        lines.append(f'train overhead: {results["steps"]["train_overhead"]["status"]}')
    study = results.get('study')
    if study and study.get('summary'):
        p = study['plan']
        parts = []
        for arm, e in study['summary']['arms'].items():
            te = e['test_error']
            vs = f' ({te["vs_baseline"]:+.2f})' if te.get('vs_baseline') is not None else ''
            parts.append(f'{arm} {te["mean"]:.2f}±{te["sd"]:.2f}%{vs}')
        lines.append(f'study ({p["train_images"]} images, {p["epochs"]} epochs, seeds {study["summary"]["seeds"]}): '
                     f'test error ' + ', '.join(parts))
        if study.get('stopped'):
            lines.append(f'    {study["stopped"]}')
    elif 'study' in results['steps']:
        st = results['steps']['study']
        lines.append(f'study: {st.get("status")} {st.get("why", "")}')
    lines.append(f'total {results.get("wall_s", 0):.0f} s; steps: ' + ', '.join(
        f'{k} {v.get("status")} ({v.get("seconds", 0):.0f} s)' for k, v in results['steps'].items()))
    return lines


# ------------------------------------------------------------------------------------------------- main


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dry', action='store_true', help='every step on the CPU with tiny sizes, into a temporary folder')
    p.add_argument('--wheels', default=str(REPO / '.whl'), help='the wheels of `make wheels` (default: .whl)')
    p.add_argument('--data', default=str(REPO / '.gpu-data' / 'fashion-mnist'),
                   help='the Fashion-MNIST idx files of `make gpu-data`')
    p.add_argument('--budget-s', type=float, default=450.0, help='seconds for everything, the venv included')
    p.add_argument('--out-dir', help='where the results go (default: docs/; with --dry a temporary folder)')
    p.add_argument('--venv', help='where the venv goes (default: .gpu-venv; with --dry inside the output folder)')
    p.add_argument('--work-dir', help='the log and the steps\' raw JSON (default: runs/gpu_check; with --dry inside '
                                      'the output folder)')
    args = p.parse_args(argv)
    start = time.perf_counter()
    dry = args.dry
    out_dir = Path(args.out_dir) if args.out_dir else (Path(tempfile.mkdtemp(prefix='gpu-check-dry-')) if dry
                                                       else REPO / 'docs')
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(args.work_dir) if args.work_dir else (out_dir / 'gpu_check_work' if dry else REPO / 'runs' / 'gpu_check')
    work.mkdir(parents=True, exist_ok=True)
    log = Log(work / 'gpu_check.log')
    base_python = sys.executable
    export = Path(os.environ['OUT']) if os.environ.get('OUT') else None
    results: dict[str, Any] = {
        'dry': dry, 'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'command': 'make gpu-check' + (' DRY=1' if dry else ''), 'budget_s': args.budget_s, 'steps': {},
    }

    def left() -> float:
        return args.budget_s - (time.perf_counter() - start)

    def save() -> None:
        results['wall_s'] = round(time.perf_counter() - start, 1)
        (out_dir / 'gpu_results.json').write_text(json.dumps(results, indent=1, default=str))
        if dry:  # beside the results; on the GPU machine the log stays in runs/ (and goes to $OUT), not in docs/
            shutil.copy(log.path, out_dir / 'gpu_check.log')
        if export is not None:
            export.mkdir(parents=True, exist_ok=True)
            for name in OUT_FILES:
                src = log.path if name == 'gpu_check.log' else out_dir / name
                if src.exists():
                    shutil.copy(src, export / name)

    log(f'>> make gpu-check{" DRY=1: every step on the CPU, tiny" if dry else ""}; results in {out_dir}'
        f'{f" (copied into {export})" if export else ""}; budget {args.budget_s:.0f} s')

    # 1. The environment.
    if not dry:
        if not cuda_available(base_python):
            log('!! no CUDA device here: `make gpu-check` is for the GPU machine (docs/gpu_check.md); '
                '`make gpu-check DRY=1` runs every step on the CPU')
            return 2
    venv = Path(args.venv) if args.venv else (work / 'venv' if dry else REPO / '.gpu-venv')
    t0 = time.perf_counter()
    paths = [str(REPO)]  # the steps import composer_cutmix from the repository
    try:
        python = make_venv(venv, base_python, log)
        results['install'] = {'wheels': [], 'skipped': 'dry run: no installs'} if dry else \
            install(python_info(python)['site'][0], base_python, Path(args.wheels), log)
    except Exception as e:  # no venv: the base interpreter with the wheels on PYTHONPATH, as the device README does
        log(f'!! no venv ({type(e).__name__}: {str(e)[:300]}); {base_python} with the wheels on PYTHONPATH instead')
        python = base_python
        site_dir = venv.with_name(venv.name + '-site')
        shutil.rmtree(site_dir, ignore_errors=True)
        site_dir.mkdir(parents=True)
        paths.append(str(site_dir))
        results['install'] = {'venv_error': str(e)[:500]}
        if not dry:
            results['install'].update(install(str(site_dir), base_python, Path(args.wheels), log))
    results['install']['seconds'] = round(time.perf_counter() - t0, 1)
    results['python'] = python

    if os.environ.get('PYTHONPATH'):
        paths.append(os.environ['PYTHONPATH'])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED='1', MPLBACKEND='Agg')
    if dry:
        env['OMP_NUM_THREADS'] = '1'  # a shared CPU stalls every parallel op; one thread each does not wait
        warm_up(env)
    threads = ['--threads', '1'] if dry else []

    # One interpreter for the machine's facts and the probe of the functional path (which needs no Composer).
    step = run_step('env and probe', [python, '-c', ENV_CODE + PROBE_CODE], LIMITS['env'] + LIMITS['probe'], log,
                    env, fork=dry)
    results['steps']['env'] = step
    results['env'] = tagged_json(step, 'ENV') or {}
    results['probe'] = tagged_json(step, 'PROBE')
    installed = subprocess.run([python, str(TOOLS / 'wheels.py'), '--installed'], capture_output=True, text=True,
                               env=env, cwd=REPO)
    results['env']['wheel_pins'] = json.loads(installed.stdout) if installed.returncode == 0 else installed.stderr
    if not dry:
        smi = shutil.which('nvidia-smi')
        if smi:
            q = subprocess.run([smi, '--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'],
                               capture_output=True, text=True)
            results['env']['nvidia_smi'] = q.stdout.strip()
    composer_ok = bool(results['env'].get('composer_ok'))
    log(f'>> {results["env"].get("device")}, torch {results["env"].get("torch")}, composer '
        f'{results["env"].get("composer")}')
    for line in (results['env'].get('wheel_pins') or {}).get('unmet', []) if isinstance(
            results['env'].get('wheel_pins'), dict) else []:
        log(f'   pin not met (installed with --no-deps): {line}')
    save()

    # 2. The tests.
    junit = work / 'junit.xml'
    if composer_ok:
        test_env = dict(env)
        if dry:
            test_env['COMPOSER_CUTMIX_GPU_TESTS_ON'] = 'cpu'
            cmd = [python, '-m', 'pytest', 'tests/test_gpu.py']
            what = 'tests/test_gpu.py on the CPU (COMPOSER_CUTMIX_GPU_TESTS_ON=cpu)'
        else:
            cmd = [python, '-m', 'pytest', '-m', 'gpu', 'tests/test_gpu.py', 'tests/test_compile.py']
            what = 'pytest -m gpu (with the CUDA-graph capture of a mixing step)'
        cmd += ['-q', '-rfE', '-p', 'no:cacheprovider', f'--junitxml={junit}', '-o', 'junit_logging=system-out']
        step = run_step('tests', cmd, min(LIMITS['tests'], max(30, left() - 200)), log, test_env, fork=dry)
        step['what'] = what
        step['junit'] = junit_summary(junit)
    else:
        step = {'status': 'skipped', 'ok': False, 'seconds': 0,
                'why': f'Composer does not import next to this torch: {results["env"].get("composer")}'}
        log(f'!! tests skipped: {step["why"]}')
    results['steps']['tests'] = step
    save()

    # 3. One mixing step.
    ms_json = work / 'mix_speed.json'
    size = ['--tiny', '--device', 'cpu'] if dry else ['--device', 'cuda']  # dry: float32 and uint8, as on the GPU
    step = run_step('mix_speed', [python, BENCH / 'mix_speed.py', '--op', 'all', *size, *threads, '--json', ms_json],
                    min(LIMITS['mix_speed'], max(30, left() - 150)), log, env, fork=dry)
    results['steps']['mix_speed'] = step
    results['mix_speed'] = read_json(ms_json)
    if results['mix_speed']:
        plot = run_step('plot', [python, BENCH / 'plot_mix_speed.py', '--json', ms_json, '--out',
                                 out_dir / 'gpu_mix_speed.png'], 60, log, env, fork=dry)
        step['plot'] = plot['status']
    save()

    # 4. Whole training steps.
    to_json = work / 'train_overhead.json'
    size = ['--tiny', '--device', 'cpu'] if dry else ['--device', 'cuda']
    step = run_step('train_overhead', [python, BENCH / 'train_overhead.py', *size, *threads, '--json', to_json],
                    min(LIMITS['train_overhead'], max(30, left() - MIN_STUDY_S - RESERVE_S)), log, env, fork=dry)
    results['steps']['train_overhead'] = step
    results['train_overhead'] = read_json(to_json)
    save()

    # 5. The accuracy study, in what is left.
    study_json = work / 'study.json'
    data = Path(args.data)
    budget = int(left() - RESERVE_S)  # whole seconds: the study's --budget-s and its limit below agree exactly
    if dry:
        cmd = [python, BENCH / 'gpu_study.py', '--dry', '--data', data]
    elif not any(data.glob('train-images-idx3-ubyte*')):
        cmd = []
        why = f'no Fashion-MNIST in {data} (run `make gpu-data` here and carry .gpu-data)'
    elif budget < MIN_STUDY_S:
        cmd = []
        why = f'only {budget} s left (at least {MIN_STUDY_S} s needed)'
    else:
        cmd = [python, BENCH / 'gpu_study.py', '--budget-s', str(budget), '--data', data]
    if cmd:
        cmd += ['--json', study_json, '--plot', out_dir / 'gpu_study.png']
        step = run_step('study', cmd, (120 if dry else budget + 15), log, env, fork=dry)
        results['study'] = read_json(study_json)  # written after every run: a study cut short keeps its runs
        if not step['ok'] and results['study'] and results['study'].get('runs'):
            run_step('plot', [python, BENCH / 'gpu_study.py', '--replot', study_json, '--plot',
                              out_dir / 'gpu_study.png'], 60, log, env, fork=dry)
    else:
        step = {'status': 'skipped', 'ok': False, 'seconds': 0, 'why': why}
        log(f'!! study skipped: {why}')
    results['steps']['study'] = step
    save()

    results['wall_s'] = round(time.perf_counter() - start, 1)
    results['summary'] = summarise(results)
    log('')
    for line in results['summary']:
        log(line)
    save()
    written = [str(out_dir / n) for n in OUT_FILES[:-1] if (out_dir / n).exists()]
    log(f'\n>> wrote {", ".join(written)}' + (f'; copies and the log in {export}' if export else ''))
    failed = [k for k, v in results['steps'].items() if v.get('status') not in ('ok', 'skipped')]
    if failed:
        log(f'!! steps that did not finish cleanly: {", ".join(failed)}')
    save()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
