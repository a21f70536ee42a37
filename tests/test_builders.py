"""The builders a YAML run is wired from: data, models, optimizer and schedule, loggers."""

from __future__ import annotations

import json

import pytest
import torch
from composer.optim import CosineAnnealingScheduler, CosineAnnealingWithWarmupScheduler, MultiStepWithWarmupScheduler
from composer.utils import dist

from composer_cutmix.runner.data import (
    FASHION_MNIST_CLASSES,
    build_dataloader,
    build_dataset,
    load_fashion_mnist,
    random_crop,
    random_hflip,
)
from composer_cutmix.runner.errors import ConfigError, DataNotFoundError
from composer_cutmix.runner.loggers import format_metrics_table, summarize_metrics
from composer_cutmix.runner.models import build_model, cifar_resnet
from composer_cutmix.runner.optim import build_optimizer, build_scheduler

SYNTH = {'name': 'synthetic', 'num_samples': 40, 'image_size': 12, 'channels': 3, 'num_classes': 4, 'batch_size': 8}


def _fashion_mnist_or_skip():
    try:
        return load_fashion_mnist()
    except DataNotFoundError as e:
        pytest.skip(f'Fashion-MNIST is not on this machine: {e}')


# ------------------------------------------------------------------------------------------------------ data


def test_random_crop_is_a_shifted_window_of_the_padded_image():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.int64).view(2, 1, 6, 6) + 1  # no zeros inside the image
    out = random_crop(x, pad=2, generator=torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(padded[i, :, dy:dy + 6, dx:dx + 6], out[i])]
        assert len(windows) == 1


def test_random_hflip_flips_exactly_the_drawn_images():
    x = torch.arange(4 * 5, dtype=torch.float32).view(4, 1, 1, 5)
    out = random_hflip(x, p=0.5, generator=torch.Generator().manual_seed(0))
    flipped = torch.rand(4, generator=torch.Generator().manual_seed(0)) < 0.5
    for i in range(4):
        assert torch.equal(out[i], x[i].flip(-1) if flipped[i] else x[i])


def test_synthetic_is_deterministic_and_train_differs_from_eval():
    a, b = build_dataset(SYNTH, train=True, seed=3), build_dataset(SYNTH, train=True, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, build_dataset(SYNTH, train=False, seed=3).images)
    assert a.images.shape == (40, 3, 12, 12) and a.info.classes == ('class 0', 'class 1', 'class 2', 'class 3')


def test_loader_batches_are_normalised_and_the_eval_loader_keeps_the_order():
    dl = build_dataloader({**SYNTH, 'augment': False}, train=False)
    X, y = next(iter(dl))
    ds = dl.dataset
    expected = (ds.images[:8].float() / 255 - 0.5) / 0.289
    assert X.dtype == torch.float32 and torch.allclose(X, expected, atol=1e-5)
    assert torch.equal(y, ds.labels[:8])
    assert len(build_dataloader(SYNTH, train=True)) == 5 and len(build_dataloader({**SYNTH, 'subset': 20}, True)) == 2


def test_loader_shards_with_composers_sampler():
    dl = build_dataloader(SYNTH, train=True, seed=5)
    assert isinstance(dl.sampler, torch.utils.data.DistributedSampler)
    assert (dl.sampler.num_replicas, dl.sampler.rank, dl.sampler.shuffle, dl.sampler.seed) == \
        (dist.get_world_size(), dist.get_global_rank(), True, 5)


def test_fashion_mnist_from_the_debian_package():
    images, labels = _fashion_mnist_or_skip()
    assert images.shape == (60000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [6000] * 10
    dl = build_dataloader({'name': 'fashion_mnist', 'batch_size': 1000, 'subset': 1000}, train=False)
    X, _ = next(iter(dl))
    assert abs(X.mean().item()) < 0.1 and abs(X.std().item() - 1.0) < 0.1  # mean 0.2860, std 0.3530
    assert dl.dataset.info.classes == FASHION_MNIST_CLASSES


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError) as e:
        build_dataset({'name': 'fashion_mnist', 'root': str(tmp_path)}, train=True)
    assert 'apt-get install dataset-fashion-mnist' in str(e.value) and 'train_data.root' in str(e.value)
    with pytest.raises(DataNotFoundError, match='eval_data.download=true'):
        build_dataset({'name': 'cifar10', 'root': str(tmp_path)}, train=False)


# ---------------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize('depth, params', [(20, 0.27e6), (56, 0.85e6)])
def test_cifar_resnet_has_the_papers_size(depth, params):
    net = cifar_resnet(depth=depth, num_classes=10, in_channels=3, width=16)
    n = sum(p.numel() for p in net.parameters())
    assert abs(n - params) / params < 0.03  # He et al. Table 6: ResNet-20 0.27M, ResNet-56 0.85M


def test_cifar_resnet_takes_28_and_32_pixel_images():
    net = cifar_resnet(depth=8, num_classes=10, in_channels=1, width=4)
    assert net(torch.zeros(2, 1, 28, 28)).shape == net(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_cifar_resnet_rejects_bad_depths():
    with pytest.raises(ValueError, match='6n\\+2.*got 10.*8 and 14'):
        cifar_resnet(depth=10)


def test_cifar_resnet_by_blocks_is_the_resnet18_of_the_gpu_study():
    net = cifar_resnet(num_classes=10, in_channels=3, width=64, blocks=(2, 2, 2, 2))
    assert net.depth == 18 and len(net.stages) == 4 and net.fc.in_features == 512
    assert sum(p.numel() for p in net.parameters()) == 11_173_962  # the CIFAR ResNet-18's 11.17M parameters
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match='blocks must be a non-empty sequence'):
        cifar_resnet(blocks=(2, 0))


def test_build_model_torchvision_with_one_channel():
    model = build_model({'name': 'resnet18', 'num_classes': 7, 'in_channels': 1})
    assert model.module.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 7)


def test_timm_without_timm_is_a_config_error():
    try:
        import timm  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match='needs timm'):
            build_model({'name': 'timm:resnet18'})
    else:
        assert build_model({'name': 'timm:resnet18', 'num_classes': 3}).module is not None


# ------------------------------------------------------------------------------------------ optim, loggers


def test_optimizer_and_schedules():
    net = torch.nn.Linear(2, 2)
    sgd = build_optimizer({'name': 'sgd', 'lr': 0.1, 'momentum': 0.9, 'nesterov': True}, net)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults['nesterov'] and sgd.defaults['lr'] == 0.1
    assert isinstance(build_optimizer({'name': 'adamw', 'lr': 1e-3}, net), torch.optim.AdamW)
    with pytest.raises(ConfigError, match='nesterov=true needs momentum'):
        build_optimizer({'name': 'sgd', 'momentum': 0.0}, net)
    assert isinstance(build_scheduler({'name': 'cosine', 't_warmup': '1ep'}), CosineAnnealingWithWarmupScheduler)
    assert isinstance(build_scheduler({'name': 'cosine'}), CosineAnnealingScheduler)
    ms = build_scheduler({'name': 'multistep', 't_warmup': '2ep', 'milestones': ['150ep', '225ep']})
    assert isinstance(ms, MultiStepWithWarmupScheduler)
    with pytest.raises(ConfigError, match='milestone'):
        build_scheduler({'name': 'multistep'})


def test_final_table_has_one_row_per_metric_and_one_column_per_phase():
    summary = summarize_metrics({'loss/train/total': 0.5, 'metrics/train/MulticlassAccuracy': 0.8,
                                 'metrics/eval/MulticlassAccuracy': 0.875, 'time/epoch': 3.0})
    assert summary == {'train/MulticlassAccuracy': 0.8, 'train/loss': 0.5, 'eval/MulticlassAccuracy': 0.875}
    rows = [r.split() for r in format_metrics_table(summary).splitlines()[1:]]
    assert rows == [['metric', 'train', 'eval'], ['MulticlassAccuracy', '0.8000', '0.8750'], ['loss', '0.5000', '-']]
    json.dumps(summary)
    means = summarize_metrics({'loss/train/total': 0.5}, {'loss/train/total': 0.7})
    assert means == {'train/loss': 0.7}
