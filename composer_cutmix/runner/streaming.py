"""Image data sets as MDS shards: the metadata beside them, and reading them with MosaicML's ``streaming``.

``composer-cutmix convert`` (:mod:`composer_cutmix.runner.convert`) writes each split of a data set as MDS shards
with ``streaming``'s ``MDSWriter`` and, beside them, ``composer_cutmix.json``: a :class:`ShardInfo` (class names,
mean/std, image layout), so a run that reads the shards needs no other configuration.

Reading goes through ``streaming.StreamingDataset``, which gives every rank of every node its own part of each
epoch, shuffles with a seed, downloads shards ahead from a remote (``s3://``, ``gs://``... or a local folder) into
a local cache, and saves its position in Composer checkpoints to resume mid-epoch. :class:`StreamingImageDataset`
yields ``(image, label, sample_id, epoch)``; :class:`SeededBatchCollate` stacks them into a batch and augments it
with a generator seeded by the run's seed, the epoch and the batch's sample ids. That seeding is what makes a run
resumed mid-epoch augment the remaining batches exactly as the uninterrupted run did: when a data set resumes
itself, Composer does not replay the epoch's batches and restores its global RNG only at epoch starts.

This module knows the shard format and streaming; :mod:`composer_cutmix.runner.data` turns a :class:`ShardInfo`
into the runner's ``DatasetInfo`` and transforms. Importing it imports ``streaming`` (the ``streaming`` extra).

Example:
    >>> info = ShardInfo('synthetic', 'train', 4, 'tensor', ('a', 'b'), (0.5,), (0.289,), 1, (8, 8), 2,
    ...                  {'x': 'ndarray:uint8:1,8,8', 'y': 'int'})
    >>> ShardInfo.from_json(info.to_json(), 'here') == info
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Optional

import numpy as np
import torch
from streaming import StreamingDataLoader, StreamingDataset
from torch import Tensor

from composer_cutmix.runner.errors import DataNotFoundError

__all__ = [
    'INDEX_FILE',
    'LAYOUTS',
    'SHARD_INFO_FILE',
    'SeededBatchCollate',
    'ShardInfo',
    'StreamingDataLoader',
    'StreamingImageDataset',
    'batch_seed',
    'is_url',
    'open_streaming_dataset',
    'read_shard_info',
    'resolve_local',
    'write_shard_info',
]

#: The metadata file ``convert`` writes in each split folder, beside streaming's ``index.json``.
SHARD_INFO_FILE = 'composer_cutmix.json'
#: streaming's index of the shards of a split.
INDEX_FILE = 'index.json'
#: ``tensor``: fixed-size ``uint8 (C, H, W)`` arrays (in-memory sets); ``encoded``: image files as stored (JPEG/PNG).
LAYOUTS = ('tensor', 'encoded')
_FORMAT = 'composer_cutmix/mds-images'
_VERSION = 1


@dataclass(frozen=True)
class ShardInfo:
    """What ``composer_cutmix.json`` records about one split of shards.

    Attributes:
        source: the data set the shards were converted from (``fashion_mnist``, ``synthetic``...).
        split: ``train`` or ``eval``.
        num_samples: samples in the split.
        layout: ``tensor`` (column ``x`` is ``uint8 (C, H, W)``) or ``encoded`` (column ``x`` holds an image file's
            bytes, decoded and transformed per sample).
        classes: class names, index ``i`` for label ``i`` (column ``y``).
        mean: per-channel mean used to normalise.
        std: per-channel standard deviation.
        channels: image channels.
        image_size: ``(img_h, img_w)`` of a batch.
        crop_padding: padding of the training random crop (``tensor`` layout).
        columns: the MDS columns, name -> encoding.
    """

    source: str
    split: str
    num_samples: int
    layout: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int
    image_size: tuple[int, int]
    crop_padding: int
    columns: dict[str, str]

    def to_json(self) -> str:
        """The JSON text of ``composer_cutmix.json``."""
        return json.dumps({'format': _FORMAT, 'version': _VERSION, **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str) -> ShardInfo:
        """Parses ``composer_cutmix.json``; ``where`` names the file in errors.

        Raises:
            ValueError: not JSON, another format, or a field missing or of the wrong kind.
        """
        obj = json.loads(text)
        if not isinstance(obj, dict) or obj.get('format') != _FORMAT:
            raise ValueError(f'{where} is not a {_FORMAT} file')
        missing = [f.name for f in fields(cls) if f.name not in obj]
        if missing:
            raise ValueError(f'{where} lacks {", ".join(missing)}')
        info = cls(str(obj['source']), str(obj['split']), int(obj['num_samples']), str(obj['layout']),
                   tuple(map(str, obj['classes'])), tuple(map(float, obj['mean'])), tuple(map(float, obj['std'])),
                   int(obj['channels']), (int(obj['image_size'][0]), int(obj['image_size'][1])),
                   int(obj['crop_padding']), {str(k): str(v) for k, v in obj['columns'].items()})
        if info.layout not in LAYOUTS:
            raise ValueError(f'{where}: layout {info.layout!r} is not one of {", ".join(LAYOUTS)}')
        return info


def write_shard_info(folder: str, info: ShardInfo) -> str:
    """Writes ``folder/composer_cutmix.json``; returns its path."""
    path = os.path.join(folder, SHARD_INFO_FILE)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(info.to_json() + '\n')
    return path


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL (``s3://...``) rather than a local folder."""
    return '://' in path


def _not_written_by_convert(key: str, remote: str, detail: str) -> DataNotFoundError:
    return DataNotFoundError(
        f'{key}.remote: {remote!r} {detail}. Point it at a split folder written by `composer-cutmix convert CONFIG '
        f'OUT_DIR` (OUT_DIR/train or OUT_DIR/eval), a local path or a URL streaming reads (s3://bucket/out/train); '
        f'shards written otherwise need a {SHARD_INFO_FILE} beside their {INDEX_FILE} (see docs/data_at_scale.md).',
    )


def read_shard_info(remote: str, key: str) -> ShardInfo:
    """Reads and checks the :class:`ShardInfo` of the shards at ``remote``, before anything is trained.

    Args:
        remote: a local split folder or a URL (its ``composer_cutmix.json`` is downloaded with streaming's
            downloader into a temporary folder).
        key: the config key for messages (``train_data``).

    Raises:
        DataNotFoundError: the folder or URL is missing, holds no shards, lacks ``composer_cutmix.json``, or
            cannot be read; one paragraph naming ``{key}.remote`` and the path.
    """
    if not is_url(remote):
        if not os.path.isdir(remote):
            raise _not_written_by_convert(key, remote, 'is not a folder' if not os.path.exists(remote)
                                          else 'is a file, not a folder of shards')
        if not os.path.isfile(os.path.join(remote, INDEX_FILE)):
            raise _not_written_by_convert(key, remote, f'holds no MDS shards (no {INDEX_FILE})')
        path = os.path.join(remote, SHARD_INFO_FILE)
        if not os.path.isfile(path):
            raise _not_written_by_convert(key, remote, f'holds MDS shards but no {SHARD_INFO_FILE} (class names, '
                                                       f'mean/std, image layout)')
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except OSError as e:
            raise _not_written_by_convert(key, remote, f'cannot be read ({e})') from None
    else:
        from streaming.base.storage import CloudDownloader

        url = remote.rstrip('/') + '/' + SHARD_INFO_FILE
        with tempfile.TemporaryDirectory(prefix='composer_cutmix_') as folder:
            path = os.path.join(folder, SHARD_INFO_FILE)
            try:
                CloudDownloader.direct_download(url, path, 60)
                with open(path, encoding='utf-8') as f:
                    text = f.read()
            except Exception as e:  # boto/gcs/azure/http errors, missing credentials, unknown schemes alike
                detail = ' '.join(str(e).split())[:200] or type(e).__name__
                raise _not_written_by_convert(key, remote, f'cannot be read: downloading {url} failed ({detail}); '
                                                           f'check the URL and the credentials streaming uses') from None
    try:
        return ShardInfo.from_json(text, os.path.join(remote, SHARD_INFO_FILE))
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise _not_written_by_convert(key, remote, f'has an unreadable {SHARD_INFO_FILE} ({e})') from None


def resolve_local(remote: str, local: Optional[str], key: str, local_root: Optional[str]) -> tuple[Optional[str], str]:
    """``(remote, local)`` for ``StreamingDataset``.

    A local ``remote`` with no ``local`` is read in place (``remote=None``); a local equal to the remote likewise.
    A URL with no ``local`` is cached in ``local_root/key`` (the run folder's ``streaming/``), or, without a
    ``local_root``, in a temporary folder named after the URL.
    """
    if local is None and not is_url(remote):
        return None, remote
    if local is not None and not is_url(remote) and os.path.abspath(local) == os.path.abspath(remote):
        return None, remote
    if local is None:
        if local_root is None:
            digest = hashlib.sha1(remote.encode()).hexdigest()[:12]
            local_root = os.path.join(tempfile.gettempdir(), 'composer_cutmix_streaming', digest)
        local = os.path.join(local_root, key)
    return remote, local


def batch_seed(seed: int, epoch: int, sample_ids: Sequence[int]) -> int:
    """A 63-bit seed from the run's seed, the epoch and a batch's sample ids (stable across processes).

    Example:
        >>> batch_seed(17, 0, [3, 1]) == batch_seed(17, 0, [3, 1]) != batch_seed(17, 1, [3, 1])
        True
    """
    data = np.asarray([seed, epoch, *sample_ids], dtype=np.int64).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), 'little') & (2**63 - 1)


class StreamingImageDataset(StreamingDataset):
    """A ``StreamingDataset`` of shards written by ``convert``: samples are ``(image, label, sample_id, epoch)``.

    ``image`` is the ``uint8 (C, H, W)`` array of a ``tensor`` layout, or, for an ``encoded`` layout, the output of
    ``sample_transform`` on the decoded RGB image, run under a torch RNG seeded by ``(seed, epoch, sample_id)``.

    Args:
        shard_info: the split's :class:`ShardInfo`.
        seed: seeds the per-sample transform of ``encoded`` shards.
        sample_transform: PIL image -> tensor, for ``encoded`` shards.
        kwargs: ``StreamingDataset``'s (``remote``, ``local``, ``shuffle``, ``shuffle_seed``, ``batch_size``...).

    Attributes:
        shard_info: as given.
        info: set by the caller: what the rest of the runner reads (class names, mean/std...).
    """

    def __init__(self, *, shard_info: ShardInfo, seed: int = 0,
                 sample_transform: Optional[Callable[[Any], Tensor]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard_info = shard_info
        self.seed = seed
        self.sample_transform = sample_transform
        self.info: Any = None
        self._epoch = 0

    def _resume_incr_epoch(self) -> tuple[int, int]:
        # The one place streaming tells an iteration which epoch it is (after resuming from a checkpoint too).
        epoch, sample_in_epoch = super()._resume_incr_epoch()
        self._epoch = epoch
        return epoch, sample_in_epoch

    def get_item(self, sample_id: int, retry: int = 7) -> tuple[Any, int, int, int]:
        sample = super().get_item(sample_id, retry)
        x = sample['x']
        if self.shard_info.layout == 'encoded':
            import io

            from PIL import Image

            image = Image.open(io.BytesIO(x)).convert('RGB')
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(batch_seed(self.seed, self._epoch, [sample_id]))
                x = self.sample_transform(image) if self.sample_transform is not None else image
        return x, int(sample['y']), int(sample_id), self._epoch


class SeededBatchCollate:
    """Collates ``(image, label, sample_id, epoch)`` samples into ``(X, y)`` like the in-memory sets.

    ``uint8`` images are stacked into ``(N, C, H, W)`` and passed, with the labels, to ``transform`` (the runner's
    ``BatchTransform``: augment and normalise) together with a ``torch.Generator`` seeded by
    :func:`batch_seed` of the run's seed, the epoch and the sample ids; already transformed tensors (``encoded``
    shards) are stacked as they are.

    Args:
        transform: called as ``transform((X, y), generator=g)``, returns ``(X, y)``.
        seed: the run's seed.
    """

    def __init__(self, transform: Callable[..., tuple[Tensor, Tensor]], seed: int) -> None:
        self.transform = transform
        self.seed = seed

    def __call__(self, samples: Sequence[tuple[Any, int, int, int]]) -> tuple[Tensor, Tensor]:
        images, labels, ids, epochs = zip(*samples)
        y = torch.as_tensor(labels, dtype=torch.int64)
        if isinstance(images[0], Tensor):
            return torch.stack(images), y
        x = torch.from_numpy(np.stack(images))
        g = torch.Generator().manual_seed(batch_seed(self.seed, epochs[0], ids))
        return self.transform((x, y), generator=g)


def open_streaming_dataset(remote: str, local: Optional[str], key: str, shard_info: ShardInfo, *,
                           local_root: Optional[str] = None, **kwargs: Any) -> StreamingImageDataset:
    """Builds a :class:`StreamingImageDataset`, turning streaming's start-up errors into one paragraph.

    Args:
        remote: the split folder or URL.
        local: the cache folder, or None for the default of :func:`resolve_local`.
        key: the config key for messages.
        shard_info: from :func:`read_shard_info`.
        local_root: where default caches go.
        kwargs: for :class:`StreamingImageDataset`.

    Raises:
        DataNotFoundError: the shards cannot be opened (index missing or corrupt, the cache folder in use by
            another live data set).
    """
    remote_arg, local_arg = resolve_local(remote, local, key, local_root)
    try:
        return StreamingImageDataset(remote=remote_arg, local=local_arg, shard_info=shard_info, **kwargs)
    except ValueError as e:
        if 'Reused local directory' in str(e):
            raise DataNotFoundError(
                f'{key}.local: the cache folder {local_arg!r} is in use by another streaming data set on this node '
                f'(this run\'s other split, another run, or shared memory left by a run that was killed together with '
                f'its resource tracker). Give each data set its own {key}.local; if no other run is alive, clear the '
                f"stale shared memory with python -c 'from streaming.base.util import clean_stale_shared_memory as c; "
                f"c()'.",
            ) from None
        raise DataNotFoundError(f'{key}.remote: cannot open the shards in {remote!r}: {e}') from None
    except (OSError, RuntimeError, KeyError, json.JSONDecodeError) as e:
        detail = ' '.join(str(e).split())[:300] or type(e).__name__
        raise DataNotFoundError(
            f'{key}.remote: cannot open the shards in {remote!r} ({detail}). Check that the folder or URL holds a '
            f'complete split written by `composer-cutmix convert` ({INDEX_FILE}, the shard files, {SHARD_INFO_FILE}).',
        ) from None
