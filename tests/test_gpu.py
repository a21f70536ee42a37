"""GPU behaviour: the batch moves to the device and is mixed there, pixel for pixel as on the CPU, without a single
host-device synchronisation in this package's code.

Every test here needs CUDA (``gpu`` marker; skipped without a device), and ``make gpu-check`` runs them on a GPU
machine. So that they cannot rot before one shows up, ``COMPOSER_CUTMIX_GPU_TESTS_ON=cpu`` runs the same tests on
the CPU (unmarked, Trainer on ``cpu``, no sync checks: there is no device to wait for); ``make gpu-check DRY=1``,
and with it the suite's ``tests/test_gpu_check.py``, does that.
"""

from __future__ import annotations

import functools
import os

import pytest
import torch
from composer import Trainer
from composer.core import Event
from composer.devices import DeviceCPU, DeviceGPU
from composer.models import ComposerClassifier
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.syncs import SyncCensus
from composer_cutmix import CutMix, Mixer, MixUp, MixUpCutMix, apply, cutmix_batch, mix_targets, mixup_batch
from composer_cutmix.mixing import draw_cutmix, draw_mixup
from tests.helpers import N_CLASSES, Recorder, tiny_data, tiny_loader, tiny_net

# 'cuda' (default): the real thing. 'cpu': the same tests as a dry run of their logic (see the module docstring).
DEVICE = os.environ.get('COMPOSER_CUTMIX_GPU_TESTS_ON', 'cuda')
if DEVICE not in ('cuda', 'cpu'):
    raise ValueError(f"COMPOSER_CUTMIX_GPU_TESTS_ON must be 'cuda' or 'cpu', got {DEVICE!r}")
TRAINER_DEVICE = 'gpu' if DEVICE == 'cuda' else 'cpu'
AMP_BF16 = 'amp_bf16' if DEVICE == 'cuda' else 'fp32'  # Composer refuses mixed precision on the CPU
pytestmark = [pytest.mark.gpu] if DEVICE == 'cuda' else []

ALGORITHMS = {
    'cutmix': lambda: CutMix(N_CLASSES),
    'cutmix_elem': lambda: CutMix(N_CLASSES, mode='elem'),
    'mixup': lambda: MixUp(N_CLASSES, alpha=1.0),
    'mixup_elem': lambda: MixUp(N_CLASSES, alpha=1.0, mode='elem'),
    'mixup_cutmix': lambda: MixUpCutMix(N_CLASSES, label_smoothing=0.1),
    'mixup_cutmix_elem': lambda: MixUpCutMix(N_CLASSES, mode='elem'),
}
DTYPES = [torch.float32, torch.bfloat16, torch.uint8]
LAYOUTS = [torch.contiguous_format, torch.channels_last]


def images(n: int = 16, dtype: torch.dtype = torch.float32, layout=torch.contiguous_format, seed: int = 0):
    """``(n, 3, 8, 6)`` images of ``dtype`` (uint8: 0..255) in ``layout``, and labels, on the CPU."""
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        X = torch.randint(0, 256, (n, 3, 8, 6), generator=g, dtype=torch.uint8)
    else:
        X = torch.randn(n, 3, 8, 6, generator=g).to(dtype)
    return X.contiguous(memory_format=layout), torch.randint(0, N_CLASSES, (n,), generator=g)


def assert_same(gpu: torch.Tensor, cpu: torch.Tensor, exact: bool = True) -> None:
    assert gpu.device.type == DEVICE and gpu.dtype == cpu.dtype and gpu.shape == cpu.shape
    if exact:
        assert torch.equal(gpu.cpu(), cpu), 'CUDA and CPU results differ'
    else:  # torch.lerp's float rounding may differ by an ulp between the two backends
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------- functional parity


@pytest.mark.parametrize('layout', LAYOUTS, ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('inplace', [False, True], ids=['out_of_place', 'inplace'])
def test_cutmix_on_cuda_matches_cpu_pixel_for_pixel(dtype, layout, inplace):
    X, y = images(dtype=dtype, layout=layout)
    idx = torch.randperm(16)
    cpu = cutmix_batch(X, y, N_CLASSES, bbox=(1, 1, 6, 4), indices=idx)
    gpu = cutmix_batch(X.to(DEVICE), y.to(DEVICE), N_CLASSES, bbox=(1, 1, 6, 4), indices=idx, inplace=inplace)
    assert_same(gpu[0], cpu[0])
    assert_same(gpu[1], cpu[1])
    assert gpu[0].is_contiguous(memory_format=layout)


@pytest.mark.parametrize('layout', LAYOUTS, ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('inplace', [False, True], ids=['out_of_place', 'inplace'])
def test_mixup_on_cuda_matches_cpu(dtype, layout, inplace):
    X, y = images(dtype=dtype, layout=layout)
    idx = torch.randperm(16)
    cpu = mixup_batch(X, y, N_CLASSES, lam=0.3, indices=idx)
    gpu = mixup_batch(X.to(DEVICE), y.to(DEVICE), N_CLASSES, lam=0.3, indices=idx, inplace=inplace)
    # uint8 and bfloat16 are blended in float32 with the formula as written, then cast: bit for bit the same.
    assert_same(gpu[0], cpu[0], exact=dtype != torch.float32)
    assert_same(gpu[1], cpu[1], exact=False)
    assert gpu[0].is_contiguous(memory_format=layout)


DRAWS = {
    'cutmix': lambda g: draw_cutmix(16, 8, 6, 1.0, generator=g),
    'cutmix_elem': lambda g: draw_cutmix(16, 8, 6, 1.0, per_sample=True, generator=g),
    'mixup': lambda g: draw_mixup(16, 1.0, generator=g),
    'mixup_elem': lambda g: draw_mixup(16, 1.0, per_sample=True, generator=g),
    'mixup_cutmix_elem': lambda g: Mixer(0.8, 1.0, prob=0.8, mode='elem', num_classes=N_CLASSES,
                                         generator=g).draw(16, 8, 6),
}


@pytest.mark.parametrize('layout', LAYOUTS, ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('draw', list(DRAWS))
def test_per_step_work_on_device_data_never_synchronises(draw, dtype, layout):
    """What the algorithms run per step once the batch is on the device, under sync debug mode 'error'."""
    X, y = images(dtype=dtype, layout=layout)
    params = DRAWS[draw](torch.Generator().manual_seed(0))
    expected = apply(X, params)
    Xd, yd = X.to(DEVICE, copy=True), y.to(DEVICE)
    with SyncCensus(mode='error'):
        Xm = apply(Xd, params, inplace=True)
        ym = mix_targets(yd, params, N_CLASSES, smoothing=0.1)
    assert Xm is Xd and Xm.is_contiguous(memory_format=layout)
    assert_same(Xm, expected, exact=dtype != torch.float32 or params.op == 'cutmix')
    assert_same(ym, mix_targets(y, params, N_CLASSES, smoothing=0.1), exact=False)


# ------------------------------------------------------------------------------------------- the algorithms


class ToFloat(nn.Module):
    """uint8 images in [0, 255] -> float in [0, 1]; float images pass."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def conv_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(ToFloat(), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, N_CLASSES))


def loader(X: torch.Tensor, y: torch.Tensor, layout=torch.contiguous_format, pin: bool = False) -> DataLoader:
    def collate(samples):
        xs, ys = zip(*samples)
        return torch.stack(xs).contiguous(memory_format=layout), torch.stack(ys)

    return DataLoader(TensorDataset(X, y), batch_size=8, shuffle=False, collate_fn=collate,
                      pin_memory=pin and DEVICE == 'cuda')


def trainer_for(algorithm, X, y, *, layout=torch.contiguous_format, precision='fp32', batches=2, pin=False,
                callbacks=()) -> Trainer:
    model = ComposerClassifier(conv_net(), num_classes=N_CLASSES)
    if layout == torch.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Trainer(model=model, train_dataloader=loader(X, y, layout, pin), max_duration=f'{batches}ba',
                   optimizers=torch.optim.SGD(model.parameters(), lr=0.01),
                   algorithms=[algorithm], callbacks=list(callbacks), device=TRAINER_DEVICE, precision=precision,
                   progress_bar=False, log_to_console=False, loggers=[], seed=1)


def test_batch_is_moved_and_mixed_on_the_device_leaving_host_memory_alone():
    X, y = tiny_data()
    X_keep = X.clone()
    cutmix = CutMix(N_CLASSES)
    rec = Recorder(cutmix)
    model = ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES)
    Trainer(model=model, train_dataloader=tiny_loader(X, y, 8), max_duration='2ba', algorithms=[cutmix],
            callbacks=[rec], device=TRAINER_DEVICE, progress_bar=False, seed=1).fit()
    Xm, ym = rec.batches[0]
    assert Xm.device.type == ym.device.type == DEVICE
    p = rec.params[0]
    assert p.op == 'cutmix' and torch.equal(Xm.cpu(), apply(X[:8], p))
    assert torch.equal(X, X_keep)


@pytest.mark.parametrize('layout', LAYOUTS, ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('name', list(ALGORITHMS))
def test_algorithm_step_on_a_real_state_never_synchronises(name, dtype, layout):
    """``_mix`` on the State of a real GPU Trainer, a host batch in, under sync debug mode 'error': the batch
    comes out on the device, in its layout, equal to the same draw applied on the CPU."""
    X, y = images(dtype=dtype, layout=layout)
    algorithm, trainer = trainer_with(name)
    state = trainer.state
    assert isinstance(state.device, DeviceGPU if DEVICE == 'cuda' else DeviceCPU)
    state.batch = [X[:8].clone(), y[:8].clone()]
    with SyncCensus(mode='error'):
        algorithm._mix(state, trainer.logger)
    Xm, ym = state.batch
    assert Xm.device.type == ym.device.type == DEVICE and Xm.is_contiguous(memory_format=layout)
    params = algorithm.last_params
    assert params is not None
    blended = params.op != 'cutmix'  # float32 blends: an ulp apart at most
    assert_same(Xm, apply(X[:8], params), exact=dtype != torch.float32 or not blended)


@functools.cache
def trainer_with(name: str) -> tuple:
    """One GPU Trainer per algorithm, built once (Event.INIT has run: num_classes, the generator), for its State."""
    algorithm = ALGORITHMS[name]()
    X, y = images()
    return algorithm, trainer_for(algorithm, X, y)


@pytest.mark.parametrize('name', ['cutmix', 'mixup', 'mixup_cutmix'])
def test_trainer_steps_no_sync_in_our_events(name):
    """Whole Trainer steps: our AFTER_DATALOADER work under sync debug mode 'error' (any sync raises), the rest of
    the step under 'warn' with every sync traced to its line: none is asked for by this package's code (Composer's
    own per-step ``.item()`` calls are listed in the captured output, not ours to fix)."""
    X, y = images(n=32)
    algorithm = ALGORITHMS[name]()
    original = algorithm.apply

    def apply_without_syncs(event, state, logger):
        if event != Event.AFTER_DATALOADER:
            return original(event, state, logger)
        with SyncCensus(mode='error', flush=False):
            return original(event, state, logger)

    algorithm.apply = apply_without_syncs
    rec = Recorder(algorithm)
    trainer = trainer_for(algorithm, X, y, batches=4, pin=True, callbacks=[rec])
    with SyncCensus() as census:
        trainer.fit()
    trainer.close()
    print(f'{census.count()} syncs over 4 steps with {name}; by site:')
    for site, count in census.by_site().most_common():
        print(f'  {count:3d}  {site}')
    assert census.count('composer_cutmix') == 0, census.by_site()
    assert len(rec.batches) == 4 and all(b[0].device.type == DEVICE for b in rec.batches)


@pytest.mark.parametrize('name', ['cutmix', 'mixup', 'mixup_cutmix'])
def test_bf16_autocast_channels_last_run(name):
    X, y = images(n=32)
    algorithm = ALGORITHMS[name]()
    rec = Recorder(algorithm)
    trainer = trainer_for(algorithm, X, y, layout=torch.channels_last, precision=AMP_BF16, batches=3,
                          callbacks=[rec])
    trainer.fit()
    trainer.close()
    assert all(torch.isfinite(loss) for loss in rec.losses)
    for (Xm, _), params, start in zip(rec.batches, rec.params, (0, 8, 16)):
        assert Xm.is_contiguous(memory_format=torch.channels_last)
        assert_same(Xm, apply(X[start:start + 8], params), exact=False)
