"""Where a run's metrics go: ``metrics.jsonl``, the console, the final table, and the team's experiment trackers.

:class:`JSONLinesLogger` is a Composer :class:`~composer.loggers.LoggerDestination` that writes one JSON object
per logging step; :func:`build_loggers` picks Composer's progress bar on a terminal or one plain line per
epoch elsewhere, and adds Composer's own ``TensorboardLogger``, ``MLFlowLogger`` and ``WandBLogger`` when the
config asks (each an optional extra); :func:`build_logging_callbacks` adds the run's config as hyperparameters and
:class:`MixedImagesCallback`, which sends a picture of the mixed batch the model is fed;
:func:`format_metrics_table` renders the final train/eval table.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from composer.core import Callback, State, Time, TimeUnit
from composer.loggers import FileLogger, Logger, LoggerDestination
from composer.utils import dist

from composer_cutmix.algorithm import is_mixing_algorithm
from composer_cutmix.runner.errors import ConfigError

__all__ = [
    'ConfigHyperparameters',
    'EpochLineLogger',
    'JSONLinesLogger',
    'MixedImagesCallback',
    'build_loggers',
    'build_logging_callbacks',
    'flatten_config',
    'format_metrics_table',
    'summarize_metrics',
]

#: config key -> (the extra to install, the module it provides).
EXTRAS = {'tensorboard': ('tensorboard', 'tensorboard'), 'mlflow': ('mlflow', 'mlflow'), 'wandb': ('wandb', 'wandb')}


def _to_number(value: Any) -> Optional[float]:
    if hasattr(value, 'item') and getattr(value, 'numel', lambda: 1)() == 1:
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    return None


def _is_train_metric(name: str) -> bool:
    return name == 'loss/train/total' or name.startswith('metrics/train/')


class _EpochMeans:
    """Means of the per-batch training metrics since the epoch began (Composer resets them every batch)."""

    def _reset_means(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def _add(self, name: str, value: float) -> None:
        self._sums[name] = self._sums.get(name, 0.0) + value
        self._counts[name] = self._counts.get(name, 0) + 1

    @property
    def train_means(self) -> dict[str, float]:
        """``{composer name: mean over this epoch's batches so far}`` for the training loss and metrics."""
        return {k: v / self._counts[k] for k, v in self._sums.items()}


class JSONLinesLogger(_EpochMeans, LoggerDestination):
    """Writes ``metrics.jsonl``: one JSON object per logging step, on global rank 0.

    Each line holds the training time (``epoch``, ``batch``, ``sample``), the seconds since the fit started
    (``time_s``), and every metric Composer logged at that step under its Composer name
    (``loss/train/total``, ``metrics/train/MulticlassAccuracy``, ``metrics/eval/MulticlassAccuracy``...). A
    value that is not a finite number is written as ``null``. When a run stops inside a batch (killed, or an
    error), what was logged for that batch is written with its batch number and ``"incomplete": true``.

    A resumed run (``append``) keeps the lines up to the checkpoint it resumed from and drops those after it (the
    batches it redoes, and the incomplete one of a killed run), so each batch appears once.

    Args:
        path: the file (its folder is created); ``None`` writes nothing and only keeps :attr:`latest`.
        append: keep the lines already in the file up to the loaded checkpoint (a resumed run) instead of starting
            the file anew.

    Attributes:
        latest: the last value of every metric logged (on every rank), for the final table.
        train_means: the training loss and metrics averaged over the batches of the current (last) epoch.
    """

    def __init__(self, path: Optional[str], append: bool = False) -> None:
        self.path = path
        self.append = append
        self.latest: dict[str, float] = {}
        self._pending: dict[str, Optional[float]] = {}
        self._file = None
        self._t0 = time.perf_counter()
        self._state: Optional[State] = None
        self._in_batch = False
        self._reset_means()

    def epoch_start(self, state: State, logger: Logger) -> None:
        self._reset_means()

    def init(self, state: State, logger: Logger) -> None:
        del logger
        self._state = state
        self._t0 = time.perf_counter()
        if self.path is not None and dist.get_global_rank() == 0:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            if not self.append:
                self._file = open(self.path, 'w', encoding='utf-8')

    def after_load(self, state: State, logger: Logger) -> None:
        del logger
        if self.path is None or dist.get_global_rank() != 0 or self._file is not None:
            return
        # Resuming: the checkpoint's timestamp is known now. Lines past it are batches the run does again (and the
        # incomplete batch of a killed attempt); dropping them keeps each batch once.
        resumed = int(state.timestamp.batch)
        if os.path.exists(self.path):
            kept = []
            with open(self.path, encoding='utf-8') as f:
                for line in f:
                    try:
                        record = json.loads(line)
                    except ValueError:  # a line the kill cut short
                        continue
                    if int(record.get('batch', 0)) <= resumed and not record.get('incomplete'):
                        kept.append(line if line.endswith('\n') else line + '\n')
            tmp = f'{self.path}.tmp'
            with open(tmp, 'w', encoding='utf-8') as f:
                f.writelines(kept)
            os.replace(tmp, self.path)
        self._file = open(self.path, 'a', encoding='utf-8')

    def log_metrics(self, metrics: dict[str, Any], step: Optional[int] = None) -> None:
        del step
        for name, value in metrics.items():
            number = _to_number(value)
            self._pending[name] = number
            if number is not None:
                self.latest[name] = number
                if _is_train_metric(name):
                    self._add(name, number)

    def _flush(self, state: State) -> None:
        if not self._pending:
            return
        if self._file is not None:
            ts = state.timestamp
            line = {
                'epoch': int(ts.epoch),
                'batch': int(ts.batch),
                'sample': int(ts.sample),
                'time_s': round(time.perf_counter() - self._t0, 3),
                **self._pending,
            }
            if self._in_batch:  # a run stopped inside a batch (killed, or an error): say which, and that it did
                line.update(batch=int(ts.batch) + 1, incomplete=True)
            self._file.write(json.dumps(line) + '\n')
            self._file.flush()
        self._pending = {}

    def after_dataloader(self, state: State, logger: Logger) -> None:
        self._in_batch = True  # what is logged from here to batch_end belongs to the batch under way

    def batch_end(self, state: State, logger: Logger) -> None:
        self._in_batch = False
        self._flush(state)

    def epoch_end(self, state: State, logger: Logger) -> None:
        self._flush(state)

    def eval_end(self, state: State, logger: Logger) -> None:
        self._flush(state)

    def fit_end(self, state: State, logger: Logger) -> None:
        self._flush(state)

    def close(self, state: State, logger: Logger) -> None:
        self._flush(state)
        if self._file is not None:
            self._file.close()
            self._file = None


class EpochLineLogger(_EpochMeans, LoggerDestination):
    """Prints one plain line per epoch (and per evaluation) on global rank 0: for logs, CI and pipes.

    Training loss and metrics are means over the epoch's batches so far (Composer computes them per batch).

    ``[epoch 1/3 | batch 469 | 64.1 s] train loss 0.5123  MulticlassAccuracy 0.8123`` then
    ``[epoch 1/3 | batch 469 | 69.0 s] eval  MulticlassAccuracy 0.8712  CrossEntropy 0.3610``.

    Args:
        interval: ``'1ep'`` (every epoch), ``'2ep'``, or ``'100ba'`` (every 100 batches).
        stream: where to print; ``None`` is ``sys.stdout`` at print time.
    """

    def __init__(self, interval: str = '1ep', stream: Any = None) -> None:
        self.interval = Time.from_input(interval, TimeUnit.EPOCH)
        if self.interval.unit not in (TimeUnit.EPOCH, TimeUnit.BATCH) or self.interval.value < 1:
            raise ValueError(f"console_log_interval must be a positive number of epochs or batches ('1ep', '100ba'), "
                             f'got {interval!r}.')
        self.stream = stream
        self._eval: dict[str, float] = {}
        self._reset_means()
        self._t0 = time.perf_counter()
        self._last_printed_batch = -1

    def fit_start(self, state: State, logger: Logger) -> None:
        self._t0 = time.perf_counter()

    def epoch_start(self, state: State, logger: Logger) -> None:
        self._reset_means()

    def log_metrics(self, metrics: dict[str, Any], step: Optional[int] = None) -> None:
        del step
        for name, value in metrics.items():
            number = _to_number(value)
            if number is None:
                continue
            if _is_train_metric(name):
                self._add(name, number)
            elif name.startswith('metrics/'):
                self._eval[name.split('/', 2)[2]] = number

    def _print(self, state: State, phase: str, values: dict[str, float]) -> None:
        if dist.get_global_rank() != 0 or not values:
            return
        ts, max_d = state.timestamp, state.max_duration
        epoch = f'epoch {int(ts.epoch)}'
        if max_d is not None and max_d.unit == TimeUnit.EPOCH:
            epoch += f'/{int(max_d.value)}'
        head = f'[{epoch} | batch {int(ts.batch)} | {time.perf_counter() - self._t0:.1f} s]'
        body = '  '.join(f'{k} {v:.4f}' for k, v in values.items())
        print(f'{head} {phase.ljust(5)} {body}', file=self.stream or sys.stdout, flush=True)

    def _print_train(self, state: State) -> None:
        means = {('loss' if k == 'loss/train/total' else k.split('/', 2)[2]): v for k, v in self.train_means.items()}
        self._print(state, 'train', means)
        self._last_printed_batch = int(state.timestamp.batch)

    def batch_end(self, state: State, logger: Logger) -> None:
        if self.interval.unit == TimeUnit.BATCH and int(state.timestamp.batch) % self.interval.value == 0:
            self._print_train(state)

    def epoch_end(self, state: State, logger: Logger) -> None:
        if self.interval.unit == TimeUnit.EPOCH and int(state.timestamp.epoch) % self.interval.value == 0:
            self._print_train(state)

    def eval_start(self, state: State, logger: Logger) -> None:
        self._eval = {}

    def eval_end(self, state: State, logger: Logger) -> None:
        if int(state.timestamp.batch) != self._last_printed_batch:
            self._print_train(state)  # a run that ends between epochs still shows its training metrics
        self._print(state, 'eval', self._eval)

    def fit_end(self, state: State, logger: Logger) -> None:
        if int(state.timestamp.batch) != self._last_printed_batch:
            self._print_train(state)


def _require(key: str) -> None:
    """Raises a one-paragraph :class:`ConfigError` when the optional extra behind ``loggers.<key>`` is missing."""
    extra, module = EXTRAS[key]
    try:
        __import__(module)
    except ImportError as e:
        raise ConfigError(
            f"loggers.{key} needs the {module} package, which is not installed ({e}). Install the extra with "
            f"pip install 'composer-cutmix[{extra}]' (from a clone: pip install -e '.[{extra}]'), or turn the "
            f'logger off ({"loggers.tensorboard=false" if key == "tensorboard" else f"loggers.{key}=null"}).',
        ) from None


def _experiment_loggers(cfg: Any, run_folder: str) -> list[LoggerDestination]:
    """Composer's TensorBoard, MLflow and W&B destinations that ``cfg`` turns on."""
    out: list[LoggerDestination] = []
    if cfg.tensorboard:
        _require('tensorboard')
        if dist.get_global_rank() == 0:  # Composer's logger writes metrics on rank 0 only; no empty files elsewhere
            from composer.loggers import TensorboardLogger

            out.append(TensorboardLogger(log_dir=os.path.join(run_folder, 'tensorboard'), flush_interval=50))
    if cfg.mlflow is not None:
        _require('mlflow')
        from composer.loggers import MLFlowLogger

        m = cfg.mlflow
        out.append(MLFlowLogger(experiment_name=m.experiment_name, tracking_uri=m.tracking_uri, tags=dict(m.tags),
                                log_system_metrics=m.log_system_metrics, synchronous=m.synchronous))
    if cfg.wandb is not None:
        _require('wandb')
        from composer.loggers import WandBLogger

        w = cfg.wandb
        init_kwargs: dict[str, Any] = {'dir': run_folder}
        if w.mode is not None:
            init_kwargs['mode'] = w.mode
        if dist.get_global_rank() == 0:
            os.makedirs(run_folder, exist_ok=True)
        out.append(WandBLogger(project=w.project, entity=w.entity, group=w.group, tags=list(w.tags) or None,
                               init_kwargs=init_kwargs))
    return out


def build_loggers(cfg: Any, run_folder: str, *, append: bool = False) -> tuple[list[LoggerDestination], dict[str, Any]]:
    """The logger destinations of a run, and the console arguments for :class:`composer.Trainer`.

    Args:
        cfg: a :class:`~composer_cutmix.runner.schema.LoggersConfig` section of a run config (trusted: checked when
            the run was loaded), or a mapping with its keys (checked here).
        run_folder: where ``metrics.jsonl`` (and ``log-rank{rank}.txt``, ``tensorboard/``, ``wandb/``) go.
        append: append to an existing ``metrics.jsonl`` (resuming).

    Returns:
        ``(destinations, trainer_kwargs)``: ``trainer_kwargs`` turns Composer's progress bar (drawn on stderr) on
        or off. With ``progress_bar: null`` the bar is shown when stdout is a terminal; otherwise an
        :class:`EpochLineLogger` prints one plain line per ``console_log_interval`` to stdout. TensorBoard writes
        ``{run_folder}/tensorboard/{run_name}/events.out.tfevents.*``; W&B keeps its files in
        ``{run_folder}/wandb``; MLflow writes where ``tracking_uri`` says.

    Raises:
        ConfigError: an experiment logger is asked for but its extra is not installed.
    """
    from composer_cutmix.runner.schema import LoggersConfig, checked

    cfg = checked(cfg, LoggersConfig, 'loggers')
    destinations: list[LoggerDestination] = []
    if cfg.metrics_jsonl:
        destinations.append(JSONLinesLogger(os.path.join(run_folder, 'metrics.jsonl'), append=append))
    if cfg.text_log:
        destinations.append(FileLogger(os.path.join(run_folder, 'log-rank{rank}.txt'), capture_stdout=False,
                                       capture_stderr=False, overwrite=True))
    bar = cfg.progress_bar if cfg.progress_bar is not None else sys.stdout.isatty()
    if not bar:
        destinations.append(EpochLineLogger(cfg.console_log_interval))
    destinations += _experiment_loggers(cfg, run_folder)
    return destinations, {'progress_bar': bool(bar), 'log_to_console': False, 'console_stream': 'stderr'}


def summarize_metrics(
    latest: Mapping[str, float],
    train_means: Optional[Mapping[str, float]] = None,
) -> dict[str, float]:
    """Composer's metric names -> ``{'train/loss', 'train/<Metric>', 'eval/<Metric>', ...}``.

    Args:
        latest: the last logged value of each metric.
        train_means: if given, replaces the last (single-batch) training values by these epoch means.
    """
    out: dict[str, float] = {}
    for name, value in {**latest, **(train_means or {})}.items():
        parts = name.split('/')
        if name == 'loss/train/total':
            out['train/loss'] = value
        elif len(parts) == 3 and parts[0] == 'metrics':
            out[f'{parts[1]}/{parts[2]}'] = value
    return dict(sorted(out.items(), key=lambda kv: (kv[0].split('/')[0] != 'train', kv[0])))


def format_metrics_table(summary: Mapping[str, float], title: str = 'final metrics') -> str:
    """A plain-text table: one row per metric, one column per phase (train, eval...).

    Example:
        >>> print(format_metrics_table({'train/loss': 0.5, 'eval/MulticlassAccuracy': 0.875}))
        final metrics
        metric                 train    eval
        MulticlassAccuracy         -  0.8750
        loss                  0.5000       -
    """
    phases: list[str] = []
    rows: dict[str, dict[str, float]] = {}
    for key, value in summary.items():
        phase, _, metric = key.partition('/')
        if phase not in phases:
            phases.append(phase)
        rows.setdefault(metric, {})[phase] = value
    width = max([len('metric'), *map(len, rows)]) + 2
    lines = [title, 'metric'.ljust(width) + ''.join(p.rjust(8) for p in phases)]
    for metric in sorted(rows):
        cells = ''.join((f'{rows[metric][p]:.4f}' if p in rows[metric] else '-').rjust(8) for p in phases)
        lines.append(metric.ljust(width) + cells)
    return '\n'.join(lines)


# --------------------------------------------------------------------------------------------------------------
# What the experiment trackers get besides metrics: the config, and a picture of the mixed batch.
# --------------------------------------------------------------------------------------------------------------


def flatten_config(cfg: Any, prefix: str = '') -> dict[str, Any]:
    """A nested mapping as ``{'train_data.batch_size': 128, ...}``: lists and ``None`` become strings.

    Example:
        >>> flatten_config({'model': {'name': 'cifar_resnet', 'kwargs': {}}, 'seed': 17, 'x': None})
        {'model.name': 'cifar_resnet', 'seed': 17, 'x': 'None'}
    """
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            out.update(flatten_config(value, name + '.'))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


class ConfigHyperparameters(Callback):
    """Logs the run's resolved config as hyperparameters (MLflow params, W&B config, TensorBoard hparams).

    Args:
        config: the flat ``{'dotted.key': value}`` of :func:`flatten_config`.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)

    def fit_start(self, state: State, logger: Logger) -> None:
        logger.log_hyperparameters({f'config/{k}': v for k, v in self.config.items()})


class MixedImagesCallback(Callback):
    """Sends a picture of the mixed training batch to the loggers that show images (TensorBoard, MLflow, W&B).

    Every ``interval`` (``'500ba'``: batches 0, 500, 1000...; ``'1ep'``: the first batch of each epoch), on global
    rank 0, right after the mixing algorithm has run (``Event.AFTER_DATALOADER``): the first ``n`` images as the
    model gets them, drawn by :func:`composer_cutmix.runner.preview.draw_batch` from the mixer's ``last_params``
    (boxes outlined, labels weighed), logged with ``logger.log_images(name='mixed_batch', step=batch)``.

    Args:
        interval: a Composer time in batches or epochs.
        class_names: names for the labels.
        mean: per-channel mean to undo the normalisation.
        std: per-channel standard deviation likewise.
        n: images in the picture.
    """

    def __init__(self, interval: str, class_names: Sequence[str], mean: Sequence[float], std: Sequence[float],
                 n: int = 16) -> None:
        self.interval = Time.from_input(interval, TimeUnit.BATCH)
        if self.interval.unit not in (TimeUnit.EPOCH, TimeUnit.BATCH) or self.interval.value < 1:
            raise ConfigError(f"loggers.log_mixed_images must be a positive number of batches or epochs ('500ba', "
                              f"'1ep'), got {interval!r}.")
        if n < 1:
            raise ConfigError(f'loggers.mixed_images_n must be >= 1, got {n!r}.')
        self.class_names, self.mean, self.std, self.n = tuple(class_names), tuple(mean), tuple(std), n
        #: the batches (global index) pictured so far
        self.logged: list[int] = []

    def _due(self, state: State) -> bool:
        ts = state.timestamp
        if self.interval.unit == TimeUnit.BATCH:
            return int(ts.batch) % self.interval.value == 0
        return int(ts.batch_in_epoch) == 0 and int(ts.epoch) % self.interval.value == 0

    def after_dataloader(self, state: State, logger: Logger) -> None:
        if dist.get_global_rank() != 0 or not self._due(state):
            return
        from composer_cutmix.runner.preview import draw_batch

        mixer = next((a for a in state.algorithms if is_mixing_algorithm(a)), None)
        params = getattr(mixer, 'last_params', None)
        images = state.batch_get_item(mixer.input_key if mixer is not None else 0)
        targets = state.batch_get_item(mixer.target_key if mixer is not None else 1)
        # the labels before mixing, which the mixer keeps (Composer's mixers do not: their dominant label)
        labels = getattr(mixer, 'last_labels', None)
        if labels is None:
            labels = targets if targets.ndim == 1 else targets.argmax(1)
        picture = draw_batch(images[:self.n], labels, params, self.class_names, self.mean, self.std)
        step = int(state.timestamp.batch)
        import numpy as np

        logger.log_images(np.asarray(picture), name='mixed_batch', channels_last=True, step=step, use_table=False)
        self.logged.append(step)


def build_logging_callbacks(cfg: Any, run_config: Any, info: Any) -> list[Callback]:
    """The callbacks that feed the experiment loggers: the config as hyperparameters, the mixed-batch picture.

    Args:
        cfg: the :class:`~composer_cutmix.runner.schema.LoggersConfig` of a validated run config (its
            ``log_mixed_images`` comes with a logger that shows images).
        run_config: the whole run config, logged as hyperparameters when an experiment logger is on.
        info: the training set's ``DatasetInfo`` (class names, mean, std).
    """
    trackers = cfg.tensorboard or cfg.mlflow is not None or cfg.wandb is not None
    callbacks: list[Callback] = [ConfigHyperparameters(flatten_config(run_config))] if trackers else []
    if cfg.log_mixed_images is not None:  # with a tracker: schema.check_loggers saw to it
        callbacks.append(MixedImagesCallback(cfg.log_mixed_images, info.classes, info.mean, info.std,
                                             n=cfg.mixed_images_n))
    return callbacks
