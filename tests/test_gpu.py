"""GPU behaviour: the batch moves to the device and is mixed there, without host-device synchronisation."""

from __future__ import annotations

import pytest
import torch
from composer import Trainer
from composer.devices import DeviceGPU
from composer.models import ComposerClassifier

from composer_cutmix import CutMix, apply_cutmix, cutmix_batch
from tests.conftest import N_CLASSES, Recorder, tiny_data, tiny_loader, tiny_net

pytestmark = pytest.mark.gpu


def test_functional_on_cuda_matches_cpu():
    X, y = tiny_data()
    idx = torch.randperm(32)
    cpu = cutmix_batch(X, y, N_CLASSES, bbox=(1, 1, 6, 4), indices=idx)
    gpu = cutmix_batch(X.cuda(), y.cuda(), N_CLASSES, bbox=(1, 1, 6, 4), indices=idx)
    assert gpu[0].is_cuda and torch.equal(gpu[0].cpu(), cpu[0]) and torch.equal(gpu[1].cpu(), cpu[1])


def _fit(precision='fp32', **kwargs):
    X, y = tiny_data()
    X_keep = X.clone()
    cutmix = CutMix(N_CLASSES, **kwargs)
    rec = Recorder(cutmix)
    model = ComposerClassifier(tiny_net(X[0].numel()), num_classes=N_CLASSES)
    Trainer(model=model, train_dataloader=tiny_loader(X, y, 8), max_duration='2ba', algorithms=[cutmix],
            callbacks=[rec], device='gpu', precision=precision, progress_bar=False, seed=1).fit()
    return X, y, X_keep, rec


def test_batch_is_moved_and_mixed_on_the_device_leaving_host_memory_alone():
    X, y, X_keep, rec = _fit()
    Xm, ym = rec.batches[0]
    assert Xm.is_cuda and ym.is_cuda
    p = rec.params[0]
    assert torch.equal(Xm.cpu(), apply_cutmix(X[:8], p.bbox, p.indices))
    assert torch.equal(X, X_keep)


def test_mixing_step_does_not_synchronise():
    X, y = tiny_data()
    cutmix = CutMix(N_CLASSES)
    cutmix._seed(0)

    class FakeState:
        device = DeviceGPU()
        batch = [X, y]

        def __init__(self):
            self.timestamp = None

    state = FakeState()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        cutmix._mix(state, logger=None)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert state.batch[0].is_cuda


def test_bf16_autocast_run():
    _, _, _, rec = _fit(precision='amp_bf16')
    assert all(torch.isfinite(loss) for loss in rec.losses)
