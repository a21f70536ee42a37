"""``composer-cutmix convert CONFIG.yaml OUT_DIR``: a run's data sets as MDS shards, for ``train_data.name=streaming``.

Each split the config names (``train_data`` -> ``OUT_DIR/train``, ``eval_data`` -> ``OUT_DIR/eval``) is written
with ``streaming``'s ``MDSWriter``: in-memory sets (Fashion-MNIST, CIFAR, synthetic) as ``uint8 (C, H, W)`` arrays
and int labels, ImageFolder trees as their image files' bytes (JPEG/PNG as stored) and int labels. Beside the
shards goes ``composer_cutmix.json`` (:class:`~composer_cutmix.runner.streaming.ShardInfo`: class names, mean/std,
layout), so reading them back needs only ``remote``. The splits are written exactly as the run would load them
(``subset`` applies; ``synthetic`` uses the run's ``seed``).

Example:
    >>> import tempfile
    >>> from composer_cutmix.runner.config import load_config
    >>> with tempfile.TemporaryDirectory() as out:
    ...     written = convert(load_config('yamls/synthetic.yaml'), out, progress=False)
    ...     sorted(os.listdir(os.path.join(out, 'train')))
    ['composer_cutmix.json', 'index.json', 'shard.00000.mds']
    >>> [(s.split, s.num_samples, s.layout) for s in written.values()]
    [('train', 64, 'tensor'), ('eval', 32, 'tensor')]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any, Optional

from omegaconf import DictConfig

from composer_cutmix.runner.data import TensorImageDataset, build_dataset
from composer_cutmix.runner.errors import ConfigError
from composer_cutmix.runner.streaming import ShardInfo, write_shard_info

__all__ = ['SPLITS', 'convert', 'read_back_overrides']

#: config section -> the folder under OUT_DIR its shards go to.
SPLITS = {'train_data': 'train', 'eval_data': 'eval'}

_PAD = {'fashion_mnist': 2, 'cifar10': 4, 'cifar100': 4, 'synthetic': 2}


def _samples(ds: Any) -> tuple[int, str, dict[str, str], Iterator[dict[str, Any]]]:
    """``(count, layout, MDS columns, iterator of samples)`` of a data set as :func:`build_dataset` built it."""
    if isinstance(ds, TensorImageDataset):
        c, h, w = ds.images.shape[1:]
        images, labels = ds.images.numpy(), ds.labels.tolist()
        gen = ({'x': images[i], 'y': labels[i]} for i in range(len(labels)))
        return len(labels), 'tensor', {'x': f'ndarray:uint8:{c},{h},{w}', 'y': 'int'}, gen
    # An ImageFolder, or a Subset of one: its files as stored.
    base = getattr(ds, 'dataset', ds)
    indices = list(getattr(ds, 'indices', range(len(base))))

    def files() -> Iterator[dict[str, Any]]:
        for i in indices:
            path, label = base.samples[i]
            with open(path, 'rb') as f:
                yield {'x': f.read(), 'y': int(label)}

    return len(indices), 'encoded', {'x': 'bytes', 'y': 'int'}, files()


def _check_out(out_dir: str, folders: list[str], overwrite: bool) -> None:
    """Makes ``out_dir`` and checks its split ``folders`` before anything is written: one paragraph when unusable."""
    if '://' in out_dir:
        raise ConfigError(f'convert writes to a local folder, got {out_dir!r}. Write the shards locally, copy the '
                          f'folder to your object store (aws s3 cp --recursive, gsutil -m cp -r...), and read them '
                          f'with train_data.remote=s3://... .')
    for folder in (out_dir, *folders):
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise ConfigError(f'convert: {folder!r} is a file; OUT_DIR must be a folder (it gets train/ and eval/). '
                              f'Choose another OUT_DIR, or move the file away.')
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:  # a file on the way (NotADirectoryError), no permission, a read-only disk...
        raise ConfigError(f'convert: cannot make the folder {out_dir!r} ({e.strerror or e}). Choose an OUT_DIR you can '
                          f'write to, e.g. shards/fmnist under your working folder.') from None
    for folder in folders:
        if os.path.isdir(folder) and os.listdir(folder) and not overwrite:
            raise ConfigError(f'convert: {folder!r} is not empty (it holds {len(os.listdir(folder))} files). '
                              f'Choose a new OUT_DIR, or pass --overwrite to empty it and write anew.')


def convert(cfg: DictConfig, out_dir: str, *, overwrite: bool = False, progress: bool = True,
            size_limit: Optional[int] = None) -> dict[str, ShardInfo]:
    """Writes the config's ``train_data`` and ``eval_data`` as MDS shards under ``out_dir``.

    Args:
        cfg: a run config (:func:`~composer_cutmix.runner.config.load_config`'s result).
        out_dir: a local folder; gets ``train/`` and (unless ``eval_data`` is null) ``eval/``.
        overwrite: empty and rewrite split folders that are not empty.
        progress: show a progress bar per split (on stderr).
        size_limit: bytes per shard before a new one starts (streaming's default: 64 MiB).

    Returns:
        ``{'train_data': ShardInfo, 'eval_data': ShardInfo}`` of what was written.

    Raises:
        ConfigError: a split is already ``streaming`` or an out folder is not usable.
        DataNotFoundError: the source data is missing.
    """
    from streaming import MDSWriter
    from tqdm.auto import tqdm

    keys = [key for key in SPLITS if cfg[key] is not None]
    for key in keys:
        if cfg[key].name == 'streaming':
            raise ConfigError(f'{key}.name is already streaming: its shards are in {cfg[key].remote!r}. Convert the '
                              f'config of the original data set.')
    _check_out(out_dir, [os.path.join(out_dir, SPLITS[key]) for key in keys], overwrite)
    written: dict[str, ShardInfo] = {}
    for key in keys:
        data = cfg[key]
        folder = os.path.join(out_dir, SPLITS[key])
        ds = build_dataset(data, train=(key == 'train_data'), seed=cfg.seed, key=key)
        n, layout, columns, samples = _samples(ds)
        info = ds.info
        shards = ShardInfo(data.name, SPLITS[key], n, layout, tuple(info.classes), tuple(info.mean), tuple(info.std),
                           info.channels, tuple(info.image_size), _PAD.get(data.name, 0), columns)
        kwargs: dict[str, Any] = {'size_limit': size_limit} if size_limit else {}
        if os.path.isdir(folder) and os.listdir(folder):  # --overwrite: MDSWriter empties the folder first
            kwargs['exist_ok'] = True
        bar = tqdm(total=n, desc=f'{key} -> {folder}', unit='img', file=sys.stderr, disable=not progress,
                   dynamic_ncols=True, mininterval=0.5)
        with MDSWriter(out=folder, columns=columns, **kwargs) as writer:
            for sample in samples:
                writer.write(sample)
                bar.update(1)
        bar.close()
        write_shard_info(folder, shards)  # last: its presence marks a complete split
        written[key] = shards
    return written


def read_back_overrides(cfg: DictConfig, out_dir: str, written: dict[str, ShardInfo]) -> list[str]:
    """The ``key=value`` overrides that train the same config on the shards ``convert`` wrote."""
    overrides = []
    for key in written:
        overrides += [f'{key}.name=streaming', f'{key}.remote={os.path.join(out_dir, SPLITS[key])}']
        if cfg[key].subset is not None:
            overrides.append(f'{key}.subset=null')  # the shards hold the subset already
    return overrides
