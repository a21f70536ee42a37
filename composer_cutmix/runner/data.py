"""Data sets for YAML runs, and :func:`build_dataloader`.

Small data sets (Fashion-MNIST, CIFAR, synthetic) live in memory as one ``uint8`` tensor ``(N, C, H, W)``.
A batch is fetched with one indexing operation (``Dataset.__getitems__``) and augmented and normalised as a
batch by :class:`BatchTransform` (random crop with zero padding, horizontal flip): on two CPU cores a
Fashion-MNIST epoch of data costs about a second, against about a minute of training for a ResNet-8.
ImageFolder trees (the ImageNet layout) use torchvision's per-image transforms and worker processes.
``streaming`` reads MDS shards written by ``composer-cutmix convert`` (from any of the others) through MosaicML's
``StreamingDataset`` (see :mod:`composer_cutmix.runner.streaming`); their batches come out as the in-memory sets'
do (a ``uint8`` batch through :class:`BatchTransform`), so the mixing algorithms see the same thing.

Every loader shards its data set with :func:`composer.utils.dist.get_sampler` (``streaming``: by its own
partitioning), so under DDP each rank sees its own ``1 / world_size`` of every epoch.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from composer_cutmix.runner.errors import ConfigError, DataNotFoundError

__all__ = [
    'CIFAR10_CLASSES',
    'DATASETS',
    'FASHION_MNIST_CLASSES',
    'FASHION_MNIST_DIR',
    'BatchTransform',
    'DatasetInfo',
    'TensorImageDataset',
    'build_dataloader',
    'build_dataset',
    'cache_dir',
    'check_dataset_name',
    'imagefolder_transform',
    'load_fashion_mnist',
    'random_crop',
    'random_hflip',
]

DATASETS = ('fashion_mnist', 'cifar10', 'cifar100', 'imagefolder', 'synthetic', 'streaming')
FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
FASHION_MNIST_CLASSES = ('T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                         'Ankle boot')
CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

# name -> (mean, std, crop padding) for the in-memory sets.
_STATS = {
    'fashion_mnist': ((0.2860,), (0.3530,), 2),
    'cifar10': ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 4),
    'cifar100': ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), 4),
    'imagefolder': ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 0),
}


@dataclass(frozen=True)
class DatasetInfo:
    """What a model, a preview or a check needs to know about a data set.

    Attributes:
        name: the config's ``name``.
        classes: class names, index ``i`` for label ``i``.
        mean: per-channel mean used to normalise (to undo it for display).
        std: per-channel standard deviation likewise.
        channels: image channels.
        image_size: ``(img_h, img_w)`` of a training batch.
    """

    name: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int
    image_size: tuple[int, int]


def check_dataset_name(name: str, key: str = 'train_data.name') -> None:
    """Raises :class:`ConfigError` unless ``name`` is one of :data:`DATASETS`."""
    if name not in DATASETS:
        raise ConfigError(
            f'{key}: unknown data set {name!r}. Accepted: {", ".join(DATASETS)} (imagefolder reads an ImageNet-style '
            f'tree root/train/<class>/*.jpg; synthetic makes random images; streaming reads the MDS shards that '
            f'`composer-cutmix convert` writes, from {key.split(".")[0]}.remote).',
        )


# --------------------------------------------------------------------------------------------------------------
# Batched augmentation.
# --------------------------------------------------------------------------------------------------------------


def random_crop(x: Tensor, pad: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Zero-pads ``(N, C, H, W)`` images by ``pad`` and crops each back to ``H x W`` at its own random offset.

    One gather for the whole batch (torchvision's ``RandomCrop(size, padding=pad)`` per image, vectorised).

    Example:
        >>> x = torch.ones(4, 1, 8, 8, dtype=torch.uint8)
        >>> out = random_crop(x, 2, torch.Generator().manual_seed(0))
        >>> out.shape == x.shape and int(out.sum()) >= 4 * 6 * 6
        True
    """
    if pad <= 0:
        return x
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator)
    rows = (oy + torch.arange(h)).view(n, 1, h, 1)
    cols = (ox + torch.arange(w)).view(n, 1, 1, w)
    return xp[torch.arange(n).view(n, 1, 1, 1), torch.arange(c).view(1, c, 1, 1), rows, cols]


def random_hflip(x: Tensor, p: float = 0.5, generator: Optional[torch.Generator] = None) -> Tensor:
    """Flips each image of ``(N, C, H, W)`` left-right with probability ``p``."""
    flip = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


class BatchTransform:
    """The collate function of the in-memory sets: ``uint8`` batch -> augmented, normalised ``float32`` batch.

    Args:
        mean: per-channel mean (of pixels scaled to [0, 1]).
        std: per-channel standard deviation.
        augment: random crop (zero padding ``pad``) and horizontal flip.
        pad: crop padding in pixels.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], augment: bool = False, pad: int = 4) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.augment = augment
        self.pad = pad

    def __call__(self, batch: Union[tuple[Tensor, Tensor], list[tuple[Tensor, Any]]],
                 generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
        """``(X uint8, y)`` or a list of samples -> ``(X float32 normalised, y int64)``; ``generator`` draws the
        augmentation (default: torch's global RNG)."""
        if isinstance(batch, tuple) and len(batch) == 2 and isinstance(batch[0], Tensor) and batch[0].ndim == 4:
            x, y = batch
        else:  # a list of samples (e.g. through a torch Subset): stack them
            x = torch.stack([s[0] for s in batch])
            y = torch.as_tensor([int(s[1]) for s in batch], dtype=torch.int64)
        if self.augment:
            x = random_hflip(random_crop(x, self.pad, generator), generator=generator)
        x = x.to(torch.float32).div_(255.0).sub_(self.mean).div_(self.std)
        return x, y


class TensorImageDataset(Dataset):
    """Images ``(N, C, H, W)`` ``uint8`` and labels ``(N,)`` in memory; batches are fetched with one gather.

    ``dataset[i]`` is ``(image uint8 (C, H, W), label)``; ``dataset.__getitems__(indices)`` (what a DataLoader
    with a batch size calls) is the whole ``(images, labels)`` batch, which :class:`BatchTransform` then turns
    into float.
    """

    def __init__(self, images: Tensor, labels: Tensor, info: DatasetInfo) -> None:
        if images.ndim != 4 or images.dtype != torch.uint8:
            raise ValueError(f'images must be a uint8 tensor (N, C, H, W), got {images.dtype} {tuple(images.shape)}.')
        if labels.shape != (images.shape[0],):
            raise ValueError(f'labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}.')
        self.images, self.labels, self.info = images, labels.to(torch.int64), info

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i], int(self.labels[i])

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return self.images.index_select(0, idx), self.labels.index_select(0, idx)


# --------------------------------------------------------------------------------------------------------------
# Fashion-MNIST from idx files.
# --------------------------------------------------------------------------------------------------------------


def cache_dir() -> str:
    """Where decompressed files go: ``$COMPOSER_CUTMIX_CACHE``, else ``$XDG_CACHE_HOME/composer_cutmix``, else
    ``~/.cache/composer_cutmix``."""
    env = os.environ.get('COMPOSER_CUTMIX_CACHE')
    if env:
        return env
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'composer_cutmix')


def _find_idx(root: str, stem: str) -> Optional[str]:
    for folder in (root, os.path.join(root, 'raw'), os.path.join(root, 'FashionMNIST', 'raw')):
        for name in (stem, stem + '.gz'):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


def _decompressed(path: str) -> str:
    """``path`` itself, or for ``.gz`` a decompressed copy in :func:`cache_dir` (made once, atomically)."""
    if not path.endswith('.gz'):
        return path
    st = os.stat(path)
    key = hashlib.sha1(f'{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}'.encode()).hexdigest()[:12]
    out_dir = os.path.join(cache_dir(), 'idx')
    out = os.path.join(out_dir, f'{os.path.basename(path)[:-3]}-{key}')
    if not os.path.isfile(out):
        os.makedirs(out_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix='.tmp-')
        try:
            with gzip.open(path, 'rb') as src, os.fdopen(fd, 'wb') as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
            os.replace(tmp, out)  # atomic: concurrent ranks each write their own tmp and the last one wins
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return out


def _fashion_mnist_missing(root: str, key: str, download_hint: bool = True) -> DataNotFoundError:
    return DataNotFoundError(
        f'{key}: Fashion-MNIST not found: no train-images-idx3-ubyte(.gz) / t10k-images-idx3-ubyte(.gz) in '
        f'{root!r} (nor in its raw/ or FashionMNIST/raw/). Get it with `sudo apt-get install dataset-fashion-mnist` '
        f'(Debian/Ubuntu; files land in {FASHION_MNIST_DIR}), or put the four idx files in a folder and set '
        f'{key.split(".")[0]}.root=/that/folder'
        + (f', or set {key.split(".")[0]}.download=true when this machine is online.' if download_hint else '.'),
    )


@functools.lru_cache(maxsize=4)
def load_fashion_mnist(root: str = FASHION_MNIST_DIR, train: bool = True, download: bool = False,
                       key: str = 'train_data') -> tuple[Tensor, Tensor]:
    """Fashion-MNIST as ``(images uint8 (N, 1, 28, 28), labels int64 (N,))``, read with torchvision's idx reader.

    Looks in ``root``, ``root/raw`` and ``root/FashionMNIST/raw`` (torchvision's layout) for the idx files,
    gzipped or not; gzipped files are decompressed once into :func:`cache_dir`. With ``download=True`` and no
    files, torchvision downloads them into ``root``.

    Raises:
        DataNotFoundError: the files are missing; the message says how to get them.
    """
    from torchvision.datasets.mnist import read_image_file, read_label_file

    prefix = 'train' if train else 't10k'
    img, lab = _find_idx(root, f'{prefix}-images-idx3-ubyte'), _find_idx(root, f'{prefix}-labels-idx1-ubyte')
    if img is None or lab is None:
        if not download:
            raise _fashion_mnist_missing(root, f'{key}.root')
        from torchvision.datasets import FashionMNIST

        try:
            ds = FashionMNIST(root, train=train, download=True)
        except Exception as e:  # URLError, OSError, RuntimeError: whatever the network does
            raise DataNotFoundError(f'{key}: downloading Fashion-MNIST into {root!r} failed ({e}). '
                                    f'{_fashion_mnist_missing(root, key + ".root", False)}') from None
        return ds.data.unsqueeze(1).contiguous(), ds.targets.long()
    images, labels = _read_idx(img, read_image_file, key), _read_idx(lab, read_label_file, key)
    if images.shape[0] != labels.shape[0]:
        raise DataNotFoundError(
            f'{key}.root: {img!r} holds {images.shape[0]} images but {lab!r} holds {labels.shape[0]} labels: the two '
            f'files are not a pair (one of them is truncated or from another set). Reinstall the data set '
            f'(sudo apt-get install --reinstall dataset-fashion-mnist) or replace the files.',
        )
    return images.unsqueeze(1).contiguous(), labels


def _read_idx(path: str, reader: Any, key: str) -> Tensor:
    """One idx file through torchvision's reader; a corrupt or truncated file is a one-paragraph error."""
    try:
        return reader(_decompressed(path))
    except (OSError, EOFError, RuntimeError, ValueError, AssertionError) as e:  # gzip, torch.frombuffer/view, magic
        detail = ' '.join(str(e).split())[:200] or type(e).__name__
        raise DataNotFoundError(
            f'{key}.root: {path!r} is corrupt or truncated and cannot be read as an idx file ({detail}). Reinstall the '
            f'data set (sudo apt-get install --reinstall dataset-fashion-mnist) or replace the file, and delete the '
            f'decompressed copies in {os.path.join(cache_dir(), "idx")} if the .gz file changed.',
        ) from None


# --------------------------------------------------------------------------------------------------------------
# The data sets.
# --------------------------------------------------------------------------------------------------------------


def _cifar(cfg: Any, train: bool, key: str) -> TensorImageDataset:
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if cfg.name == 'cifar10' else CIFAR100
    root = cfg.root or 'data'
    try:
        ds = cls(root, train=train, download=cfg.download)
    except RuntimeError as e:
        raise DataNotFoundError(
            f'{key}.root: {cfg.name} not found in {root!r} ({e}). Put the python version of the data set there '
            f"(the folder {cls.base_folder}/ from {cls.filename}), set {key}.root to the folder holding it, or set "
            f'{key}.download=true when this machine is online.',
        ) from None
    mean, std, _ = _STATS[cfg.name]
    info = DatasetInfo(cfg.name, tuple(ds.classes), mean, std, 3, (32, 32))
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    return TensorImageDataset(images, torch.as_tensor(ds.targets), info)


def _synthetic(cfg: Any, train: bool, seed: int) -> TensorImageDataset:
    g = torch.Generator().manual_seed(seed * 2 + (0 if train else 1))
    n, s = cfg.num_samples, cfg.image_size
    images = torch.randint(0, 256, (n, cfg.channels, s, s), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, cfg.num_classes, (n,), generator=g)
    classes = tuple(f'class {i}' for i in range(cfg.num_classes))
    info = DatasetInfo('synthetic', classes, (0.5,) * cfg.channels, (0.289,) * cfg.channels, cfg.channels, (s, s))
    return TensorImageDataset(images, labels, info)


def imagefolder_transform(size: int, augment: bool, mean: Sequence[float], std: Sequence[float]) -> Any:
    """torchvision's per-image pipeline for ImageNet-style images: PIL image -> normalised ``(3, size, size)``.

    ``augment``: RandomResizedCrop and a horizontal flip (training); otherwise resize to ``size / 0.875`` and
    center-crop (evaluation).
    """
    from torchvision import transforms as T

    if augment:
        tf = [T.RandomResizedCrop(size), T.RandomHorizontalFlip()]
    else:
        tf = [T.Resize(int(round(size / 0.875))), T.CenterCrop(size)]
    return T.Compose([*tf, T.ToTensor(), T.Normalize(mean, std)])


def _imagefolder(cfg: Any, train: bool, key: str) -> Dataset:
    from torchvision.datasets import ImageFolder

    split = os.path.join(cfg.root, 'train' if train else 'val')
    root = split if os.path.isdir(split) else cfg.root
    if not os.path.isdir(root):
        raise DataNotFoundError(
            f'{key}.root: {cfg.root!r} is not a folder. imagefolder reads an ImageNet-style tree: '
            f'root/train/<class>/*.jpg and root/val/<class>/*.jpg (or root/<class>/*.jpg). Set {key}.root.',
        )
    mean, std, _ = _STATS['imagefolder']
    size = cfg.image_size
    try:
        ds = ImageFolder(root, transform=imagefolder_transform(size, train and cfg.augment, mean, std))
    except (FileNotFoundError, RuntimeError) as e:
        raise DataNotFoundError(f'{key}.root: no images in {root!r} ({e}).') from None
    ds.info = DatasetInfo('imagefolder', tuple(ds.classes), mean, std, 3, (size, size))
    return ds


def _streaming(cfg: Any, train: bool, seed: int, key: str, local_root: Optional[str]) -> Dataset:
    try:
        from composer_cutmix.runner import streaming as mds
    except ImportError as e:
        raise ConfigError(
            f"{key}.name=streaming needs MosaicML's streaming library ({e}). Install it with "
            f"pip install 'composer-cutmix[streaming]' (or pip install 'mosaicml-streaming<1').",
        ) from None
    shards = mds.read_shard_info(cfg.remote, key)
    info = DatasetInfo('streaming', shards.classes, shards.mean, shards.std, shards.channels, shards.image_size)
    augment = train and cfg.augment
    sample_transform = None
    if shards.layout == 'encoded':
        sample_transform = imagefolder_transform(shards.image_size[0], augment, shards.mean, shards.std)
    shuffle = train if cfg.shuffle is None else cfg.shuffle
    ds = mds.open_streaming_dataset(
        cfg.remote, cfg.local, key, shards, local_root=local_root, seed=seed, sample_transform=sample_transform,
        batch_size=cfg.batch_size, shuffle=shuffle, shuffle_seed=seed, shuffle_algo=cfg.shuffle_algo,
        shuffle_block_size=cfg.shuffle_block_size, num_canonical_nodes=cfg.num_canonical_nodes,
        predownload=cfg.predownload, cache_limit=cfg.cache_limit)
    ds.info = info
    return ds


def build_dataset(cfg: Any, train: bool, *, seed: int = 0, key: Optional[str] = None,
                  local_root: Optional[str] = None) -> Dataset:
    """The data set a ``train_data``/``eval_data`` config names, with ``.info`` (a :class:`DatasetInfo`).

    Args:
        cfg: a :class:`~composer_cutmix.runner.schema.DataConfig` section of a run config (trusted: checked when
            the run was loaded), or a mapping with its keys (checked here, see
            :func:`~composer_cutmix.runner.schema.checked`).
        train: the training split (else the test/validation split).
        seed: seeds the ``synthetic`` images (the eval split gets other images than the train split).
        key: the config key for messages; defaults to ``train_data``/``eval_data``.
        local_root: ``streaming``: where the default cache folders go (``{run_folder}/streaming``); None: a
            temporary folder.

    Raises:
        ConfigError: a mapping with a bad key or value.
        DataNotFoundError: the files are not there; the message says how to get them.
    """
    from composer_cutmix.runner.schema import DataConfig, checked

    key = key or ('train_data' if train else 'eval_data')
    cfg = checked(cfg, DataConfig, key, check_name=check_dataset_name)
    if cfg.name == 'fashion_mnist':
        root = cfg.root or FASHION_MNIST_DIR
        images, labels = load_fashion_mnist(root, train, cfg.download, key)
        mean, std, _ = _STATS['fashion_mnist']
        ds: Dataset = TensorImageDataset(images, labels,
                                         DatasetInfo('fashion_mnist', FASHION_MNIST_CLASSES, mean, std, 1, (28, 28)))
    elif cfg.name in ('cifar10', 'cifar100'):
        ds = _cifar(cfg, train, key)
    elif cfg.name == 'synthetic':
        ds = _synthetic(cfg, train, seed)
    elif cfg.name == 'streaming':
        return _streaming(cfg, train, seed, key, local_root)
    else:
        ds = _imagefolder(cfg, train, key)
    if cfg.subset is not None and cfg.subset < len(ds):
        if isinstance(ds, TensorImageDataset):
            ds = TensorImageDataset(ds.images[:cfg.subset], ds.labels[:cfg.subset], ds.info)
        else:
            info = ds.info
            ds = torch.utils.data.Subset(ds, range(cfg.subset))
            ds.info = info
    return ds


def build_dataloader(cfg: Any, train: bool, *, seed: int = 0, key: Optional[str] = None,
                     local_root: Optional[str] = None) -> DataLoader:
    """A DataLoader for a ``train_data``/``eval_data`` config, sharded across ranks with Composer's sampler.

    Batches are ``(X float32 (N, C, H, W), y int64 (N,))``, normalised; training batches are augmented when
    ``cfg.augment``. ``loader.dataset.info`` is the :class:`DatasetInfo` (class names, mean, std).

    Args:
        cfg: a :class:`~composer_cutmix.runner.schema.DataConfig` section of a run config (trusted: checked when
            the run was loaded), or a mapping with its keys (checked here, see
            :func:`~composer_cutmix.runner.schema.checked`).
        train: training loader (shuffled, augmented, drops the last incomplete batch unless ``drop_last``
            says otherwise) or evaluation loader.
        seed: seeds shuffling (with the epoch) and the ``synthetic`` images.
        key: the config key for messages.
        local_root: ``streaming``: where the default cache folders go.

    Returns:
        DataLoader: with a :class:`~torch.utils.data.DistributedSampler` from
        :func:`composer.utils.dist.get_sampler` (each rank its own shard); for ``streaming`` a
        ``StreamingDataLoader`` over a ``StreamingDataset``, which partitions the samples among ranks itself and
        whose position Composer saves in checkpoints (a resumed run continues mid-epoch with the same samples,
        augmented the same way).

    Raises:
        ConfigError: a mapping with a bad key or value, or too few samples for one batch (an epoch of no batches
            never ends).
        DataNotFoundError: the data is not there.

    Example:
        >>> dl = build_dataloader({'name': 'synthetic', 'num_samples': 16, 'batch_size': 8}, train=True)
        >>> X, y = next(iter(dl))
        >>> tuple(X.shape), X.dtype, tuple(y.shape)
        ((8, 1, 28, 28), torch.float32, (8,))
    """
    from composer.utils import dist  # here only: the readers and transforms above load without Composer

    from composer_cutmix.runner.schema import DataConfig, checked

    key = key or ('train_data' if train else 'eval_data')
    cfg = checked(cfg, DataConfig, key, check_name=check_dataset_name)
    ds = build_dataset(cfg, train, seed=seed, key=key, local_root=local_root)
    drop_last = train if cfg.drop_last is None else cfg.drop_last
    if cfg.name == 'streaming':
        loader, samples = _streaming_loader(ds, cfg, train, seed, drop_last), len(ds)  # this rank's share
    else:
        shuffle = train if cfg.shuffle is None else cfg.shuffle
        sampler = dist.get_sampler(ds, shuffle=shuffle, drop_last=drop_last, seed=seed)
        collate = None
        if cfg.name != 'imagefolder':
            pad = _STATS[cfg.name][2] if cfg.name in _STATS else 2
            collate = BatchTransform(ds.info.mean, ds.info.std, augment=train and cfg.augment, pad=pad)
        loader = DataLoader(
            ds,
            batch_size=cfg.batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=cfg.num_workers,
            collate_fn=collate,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=cfg.num_workers > 0,
        )
        samples = len(sampler)  # this rank's share
    if len(loader) == 0:  # Composer would run empty epochs for ever towards a duration in batches or samples
        ranks = dist.get_world_size()
        share = f' (the share of each of {ranks} ranks)' if ranks > 1 else ''
        why = (f'{samples} samples{share} make no full batch of {cfg.batch_size}, and {key}.drop_last drops the '
               f'incomplete one' if samples else f'no samples{share}')
        fix = (f'Set {key}.batch_size={samples} or less, or {key}.drop_last=false' if samples else
               f'Check {key}.subset and where the data is')
        raise ConfigError(f'{key}: {why}, so an epoch would have no batches and the run would never end. {fix}.')
    return loader


def _streaming_loader(ds: Any, cfg: Any, train: bool, seed: int, drop_last: bool) -> DataLoader:
    from composer_cutmix.runner.streaming import SeededBatchCollate, StreamingDataLoader

    transform = BatchTransform(ds.info.mean, ds.info.std, augment=train and cfg.augment, pad=ds.shard_info.crop_padding)
    return StreamingDataLoader(
        ds,
        batch_size=cfg.batch_size,
        collate_fn=SeededBatchCollate(transform, seed),
        drop_last=drop_last,
        num_workers=cfg.num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=cfg.num_workers > 0,
    )
