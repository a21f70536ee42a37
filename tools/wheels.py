"""The wheels the GPU check needs and the GPU machine lacks: download them into ``.whl/``, then prove the set complete.

Usage (where PyPI is reachable; ``make wheels`` runs the first)::

    python3 tools/wheels.py                 # download into .whl/, drop stale wheels, check, print the size
    python3 tools/wheels.py --check-only    # only the check of what .whl/ holds
    python  tools/wheels.py --installed     # in the GPU check's venv: are the requirements of what it
                                                 # installed met by what it sees (a `pip check` of ours)?

The GPU machine (see ``docs/gpu_check.md``) has no network and a Python 3.12 image with torch 2.11, torchvision
0.26, numpy, timm, matplotlib, scipy, pytest and more (``IMAGE`` below, copied from the device tool's list of the
image's packages), but not Composer. ``make gpu-check`` installs the wheels with ``pip install --no-index
--no-deps``, so nothing resolves their requirements there: this script does it here. For every wheel in
``.whl/`` it reads ``Requires-Dist`` from the wheel's METADATA (markers evaluated for CPython 3.12 on x86-64
Linux, extras followed where a parent asks for them) and checks that each requirement is met by another wheel of
the set or by a package of the image. A requirement met by neither is MISSING and fails the check; a version pin
the image's known version does not meet (Composer's ``torch<2.7.1`` against the image's 2.11, say) is listed as
a warning: ``--no-deps`` installs past it, and the GPU check itself reports whether Composer imports.

The versions carried are the ones of the CPU virtual environment this repository is tested in, so the GPU run
differs from the CPU one only by what the image brings (torch, torchvision, numpy...). torchmetrics is carried
although the image has it: Composer 0.32 pins ``torchmetrics<1.7.5`` and the image has 1.9.0.
"""

from __future__ import annotations

import argparse
import configparser
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Optional

try:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.tags import compatible_tags, cpython_tags
    from packaging.utils import canonicalize_name, parse_wheel_filename
    from packaging.version import Version
except ImportError:  # pip vendors packaging; a bare system Python often has pip and nothing else
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]
    from pip._vendor.packaging.tags import compatible_tags, cpython_tags  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

__all__ = ['CARRY', 'IMAGE', 'IMAGE_VERSIONS', 'check', 'download', 'main', 'roots']

REPO = Path(__file__).resolve().parents[1]
WHEEL_DIR = REPO / '.whl'
SIZE_LIMIT_MIB = 30  # the wheels travel with the working tree (64 MiB in all) beside ~30 MiB of Fashion-MNIST

# name -> version: what the GPU image lacks (or has in a version Composer refuses), pinned to the CPU venv's.
CARRY = {
    'mosaicml': '0.32.1',
    # Composer's own needs that the image lacks.
    'coolname': '2.2.0',
    'importlib-metadata': '8.9.0',
    'torch-optimizer': '0.3.0',
    'pytorch-ranger': '0.1.1',
    'torchmetrics': '1.7.4',  # Composer pins < 1.7.5; the image has 1.9.0
    # mosaicml-cli: Composer's loggers import it at `import composer`.
    'mosaicml-cli': '0.7.5',
    'argcomplete': '3.7.2',
    'arrow': '1.4.0',
    'tzdata': '2026.6',
    'backoff': '2.2.1',
    'gql': '3.5.3',
    'graphql-core': '3.2.6',
    'websockets': '11.0.3',
    'prompt-toolkit': '3.0.36',
    'wcwidth': '0.9.4',
    'questionary': '2.0.1',
    'ruamel-yaml': '0.19.1',
    'validators': '0.36.0',
    'termcolor': '3.3.0',
    # This project's own needs, and the benchmark peer the image lacks.
    'omegaconf': '2.4.0',
    'kornia': '0.9.0',
    'kornia-rs': '0.2.0',
}

# The GPU image's Python packages (docs of the device tool, read 2026-11-17), and the versions known of some.
IMAGE = frozenset(canonicalize_name(n) for n in """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy
peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy
seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers statsmodels sympy
tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
IMAGE_VERSIONS = {
    'torch': '2.11.0', 'torchvision': '0.26.0', 'torchaudio': '2.11.0', 'numpy': '2.5.2', 'torchmetrics': '1.9.0',
    'triton': '3.6.0', 'safetensors': '0.8.0', 'huggingface-hub': '1.33.0', 'jax': '0.11.2',
}

# What a wheel built for the GPU image must suit: CPython 3.12 on x86-64 Linux.
TARGET_ENV = {
    'python_version': '3.12', 'python_full_version': '3.12.3', 'implementation_name': 'cpython',
    'platform_python_implementation': 'CPython', 'sys_platform': 'linux', 'platform_system': 'Linux',
    'platform_machine': 'x86_64', 'os_name': 'posix', 'platform_release': '', 'platform_version': '',
    'implementation_version': '3.12.3',
}
PLATFORMS = ['manylinux_2_39_x86_64', 'manylinux_2_35_x86_64', 'manylinux_2_34_x86_64', 'manylinux_2_31_x86_64',
             'manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_24_x86_64', 'manylinux_2_17_x86_64',
             'manylinux2014_x86_64', 'manylinux1_x86_64', 'linux_x86_64']

# The check imports these beside the project's install_requires (mix_speed's peers, plots, the tests).
EXTRA_ROOTS = ['timm>=0.9', 'kornia>=0.7', 'matplotlib>=3.5', 'pytest>=7', 'scipy']


def roots() -> list[Requirement]:
    """The project's ``install_requires`` (from setup.cfg) and what the check imports besides."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / 'setup.cfg')
    lines = [ln.strip() for ln in cfg['options']['install_requires'].splitlines() if ln.strip()]
    return [Requirement(r) for r in lines + EXTRA_ROOTS]


def download(wheel_dir: Path, python: str = sys.executable) -> list[str]:
    """``pip download --no-deps`` of every wheel in :data:`CARRY` for CPython 3.12; drops wheels not in it."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wanted = {canonicalize_name(n): Version(v) for n, v in CARRY.items()}
    failed = []
    for name, version in CARRY.items():
        if _present(wheel_dir, canonicalize_name(name), Version(version)):
            continue
        cmd = [python, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', '3.12',
               '--implementation', 'cp', '--abi', 'cp312', '--abi', 'abi3', '--abi', 'none', '-d', str(wheel_dir),
               '-q', '--disable-pip-version-check']
        for platform in PLATFORMS:
            cmd += ['--platform', platform]
        proc = subprocess.run(cmd + [f'{name}=={version}'], capture_output=True, text=True)
        if proc.returncode != 0:
            tail = [ln for ln in proc.stderr.splitlines() if 'is ignored' not in ln][-3:]
            failed.append(f'{name}=={version}: ' + ' | '.join(tail))
            print(f'!! pip download {name}=={version} failed: {" | ".join(tail)}', flush=True)
        else:
            print(f'>> {name}=={version}', flush=True)
    for path in sorted(wheel_dir.glob('*.whl')):
        name, version, _, _ = parse_wheel_filename(path.name)
        if wanted.get(name) != version:
            print(f'>> removing {path.name}: not in the list (one version of each package, or the install stops)')
            path.unlink()
    return failed


def _present(wheel_dir: Path, name: str, version: Version) -> bool:
    for path in wheel_dir.glob('*.whl'):
        n, v, _, _ = parse_wheel_filename(path.name)
        if n == name and v == version:
            return True
    return False


def read_metadata(path: Path) -> dict:
    """``Name``, ``Version``, ``Requires-Python`` and the ``Requires-Dist`` lines of a wheel."""
    with zipfile.ZipFile(path) as zf:
        meta = next(n for n in zf.namelist() if re.fullmatch(r'[^/]+\.dist-info/METADATA', n))
        msg = Parser().parsestr(zf.read(meta).decode('utf-8'))
    return {'name': canonicalize_name(msg['Name']), 'version': Version(msg['Version']),
            'requires_python': msg.get('Requires-Python'), 'requires': msg.get_all('Requires-Dist') or []}


def target_tags() -> frozenset:
    """The wheel tags CPython 3.12 on x86-64 Linux (glibc 2.39, Ubuntu 24.04's) installs."""
    platforms = PLATFORMS + [f'manylinux_2_{n}_x86_64' for n in range(5, 40)]
    return frozenset([*cpython_tags((3, 12), platforms=platforms), *compatible_tags((3, 12), 'cp312', platforms)])


def pip_accepts(wheel_dir: Path, python: str = sys.executable) -> tuple[bool, str]:
    """Whether pip installs the whole folder for CPython 3.12 offline, as ``make gpu-check`` will (into a
    throw-away folder)."""
    import tempfile

    wheels = sorted(str(p) for p in wheel_dir.glob('*.whl'))
    with tempfile.TemporaryDirectory() as target:
        cmd = [python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-index', '--no-deps',
               '--no-compile', '--only-binary=:all:', '--python-version', '3.12', '--implementation', 'cp',
               '--abi', 'cp312', '--target', target]
        for platform in PLATFORMS:
            cmd += ['--platform', platform]
        proc = subprocess.run(cmd + wheels, capture_output=True, text=True)
    err = ' | '.join(ln for ln in proc.stderr.splitlines() if 'is ignored' not in ln)[-400:]
    return proc.returncode == 0, err


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**TARGET_ENV, 'extra': e}) for e in (extras or {''}))


def check(wheel_dir: Path) -> tuple[bool, list[str]]:
    """Whether every requirement of the wheels (and of the project) is met by the set or the image; the report."""
    wheels = {}
    lines: list[str] = []
    ok = True
    for path in sorted(wheel_dir.glob('*.whl')):
        meta = read_metadata(path)
        if meta['name'] in wheels:
            lines.append(f'ERROR   two wheels of {meta["name"]}: keep one, or the install stops')
            ok = False
        wheels[meta['name']] = meta
        if not parse_wheel_filename(path.name)[3] & target_tags():
            lines.append(f'ERROR   {path.name} does not install on CPython 3.12 for x86-64 Linux')
            ok = False
        rp = meta['requires_python']
        if rp and not SpecifierSet(rp).contains(TARGET_ENV['python_full_version']):
            lines.append(f'ERROR   {path.name} requires Python {rp}, the GPU image has 3.12')
            ok = False
    # Walk from the roots: every requirement (and the extras asked of it) must be met.
    asked: dict[str, set[str]] = {}
    todo: list[tuple[str, Requirement]] = [('the project', r) for r in roots()]
    todo += [(m['name'], Requirement(r)) for m in wheels.values() for r in m['requires']]
    seen = set()
    while todo:
        who, req = todo.pop(0)
        extras_of_parent = asked.get(canonicalize_name(who), set())
        if not _applies(req, extras_of_parent):
            continue
        name = canonicalize_name(req.name)
        key = (who, str(req))
        if key in seen:
            continue
        seen.add(key)
        if req.extras:
            new = set(req.extras) - asked.get(name, set())
            asked.setdefault(name, set()).update(req.extras)
            if new and name in wheels:  # the extra's own requirements now apply
                todo += [(name, Requirement(r)) for r in wheels[name]['requires']]
        if name in wheels:
            have = wheels[name]['version']
            if req.specifier and not req.specifier.contains(have, prereleases=True):
                lines.append(f'ERROR   {who} needs {req}, the set carries {name} {have}')
                ok = False
        elif name in IMAGE:
            known = IMAGE_VERSIONS.get(name)
            if known and req.specifier and not req.specifier.contains(Version(known), prereleases=True):
                lines.append(f'warning {who} needs {req}; the image has {name} {known} (installed past it with '
                             f'--no-deps)')
        else:
            lines.append(f'MISSING {who} needs {req}: neither in .whl/ nor on the GPU image')
            ok = False
    installs, err = pip_accepts(wheel_dir)
    if not installs:
        lines.append(f'ERROR   pip install --no-index --no-deps for CPython 3.12 fails: {err}')
        ok = False
    carried = sorted(wheels)
    lines.append(f'{len(carried)} wheels: ' + ', '.join(f'{n} {wheels[n]["version"]}' for n in carried))
    return ok, lines


def check_installed() -> tuple[list[str], list[str]]:
    """In the running environment: the version of each package of :data:`CARRY` it imports from, and each
    requirement of theirs that what it sees does not meet (version pins past which ``--no-deps`` installed)."""
    from importlib import metadata

    found, unmet = [], []
    for name in CARRY:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            unmet.append(f'{name}: not installed')
            continue
        found.append(f'{name} {dist.version}')
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({'extra': ''}):
                continue
            try:
                have = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                unmet.append(f'{name} needs {req}: not installed')
                continue
            if req.specifier and not req.specifier.contains(have, prereleases=True):
                unmet.append(f'{name} needs {req}: {req.name} {have} is installed')
    return found, unmet


def size_mib(wheel_dir: Path) -> float:
    return sum(p.stat().st_size for p in wheel_dir.glob('*.whl')) / 2**20


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dir', default=str(WHEEL_DIR), help='where the wheels go (default: .whl/ in the repo)')
    p.add_argument('--check-only', action='store_true', help='check what the folder holds; download nothing')
    p.add_argument('--installed', action='store_true',
                   help='check the packages this environment imports instead (JSON on stdout); no folder needed')
    args = p.parse_args(argv)
    if args.installed:
        import json

        found, unmet = check_installed()
        print(json.dumps({'installed': found, 'unmet': unmet}))
        return 0
    wheel_dir = Path(args.dir)
    failed = [] if args.check_only else download(wheel_dir)
    ok, lines = check(wheel_dir)
    print('\n'.join(lines))
    size = size_mib(wheel_dir)
    print(f'{wheel_dir}: {size:.1f} MiB (limit {SIZE_LIMIT_MIB} MiB: they travel with the working tree, 64 MiB in all, '
          f'beside ~30 MiB of Fashion-MNIST)')
    if failed:
        print('!! downloads failed: ' + '; '.join(failed))
    if size > SIZE_LIMIT_MIB:
        print('!! the wheels are over the limit')
    if not ok or failed or size > SIZE_LIMIT_MIB:
        print('!! the wheel set is NOT ready for an offline install')
        return 1
    print('>> the wheel set is complete for `pip install --no-index --no-deps` on the GPU image')
    return 0


if __name__ == '__main__':
    sys.exit(main())
