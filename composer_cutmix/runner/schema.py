"""The typed schema of a YAML run (OmegaConf structured configs), :func:`coerce` into it, and :func:`validate`.

Each section of a run is a dataclass; :func:`coerce` merges a mapping into one and turns OmegaConf's errors into a
:class:`~composer_cutmix.runner.errors.ConfigError` of one paragraph naming the key, what was given and what is
accepted. :func:`validate` then checks what the types cannot (names, ranges, times): it is the runner's one
validator, and the builders trust what went through it (:func:`checked`). Names that the builders own (models, data
sets, algorithms) are checked by the functions it is given (:mod:`composer_cutmix.runner.config` passes the
builders' own): this module imports no builder.

Example:
    >>> cfg = coerce({'name': 'synthetic', 'batch_size': 8}, DataConfig, 'train_data')
    >>> cfg.name, cfg.batch_size, cfg.augment
    ('synthetic', 8, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, Callable, Optional, Union, get_args, get_origin, get_type_hints

from omegaconf import DictConfig, Node, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from composer_cutmix.runner.errors import ConfigError, DataNotFoundError

__all__ = [
    'DEVICES',
    'OPTIMIZERS',
    'PRECISIONS',
    'RANDOM_MIX_OPS',
    'SCHEDULERS',
    'SECTION_CHECKS',
    'DataConfig',
    'LoggersConfig',
    'MLflowConfig',
    'ModelConfig',
    'OptimizerConfig',
    'RunConfig',
    'SchedulerConfig',
    'WandBConfig',
    'as_config_error',
    'check_algorithms',
    'check_data',
    'check_loggers',
    'check_model',
    'check_optimizer',
    'check_scheduler',
    'checked',
    'coerce',
    'merge_into',
    'validate',
]

DEVICES = ('auto', 'cpu', 'gpu', 'mps')
PRECISIONS = ('fp32', 'amp_bf16', 'amp_fp16')
OPTIMIZERS = ('sgd', 'adamw')
SCHEDULERS = ('cosine', 'multistep', 'constant')
#: the algorithms ``random_mix`` picks among (``algorithms.random_mix.ops``), by their names in the registry.
RANDOM_MIX_OPS = ('mixup', 'cutmix', 'resizemix', 'fmix')


@dataclass
class ModelConfig:
    """``model:`` the network and its size.

    Attributes:
        name: ``cifar_resnet``, a torchvision classifier (``resnet18``, ``resnet50``...), or ``timm:<name>``.
        num_classes: outputs of the classifier; also CutMix's ``num_classes`` unless the algorithm sets one.
        in_channels: image channels (1 for Fashion-MNIST, 3 for CIFAR and ImageNet).
        depth: ``cifar_resnet`` only: ``6n + 2`` layers (8, 20, 56, 110...).
        width: ``cifar_resnet`` only: channels of the first stage (16 in the paper).
        kwargs: extra keyword arguments for torchvision's ``get_model`` or timm's ``create_model``.
    """

    name: str = 'cifar_resnet'
    num_classes: int = 10
    in_channels: int = 1
    depth: int = 8
    width: int = 16
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """``train_data:`` / ``eval_data:`` a data set and how it is loaded.

    Attributes:
        name: ``fashion_mnist``, ``cifar10``, ``cifar100``, ``imagefolder``, ``synthetic``, or ``streaming`` (MDS
            shards written by ``composer-cutmix convert``, read with MosaicML's ``streaming``: needs ``remote``).
        root: where the files are; ``None`` uses the data set's default (Fashion-MNIST:
            ``/usr/share/datasets/fashion-mnist``; CIFAR: ``data``, relative to the working folder, which holds
            torchvision's ``cifar-10-batches-py/`` or ``cifar-100-python/``).
        batch_size: samples per batch on each process (the global batch is ``batch_size * world_size``).
        num_workers: DataLoader worker processes; 0 loads in the training process (fastest for in-memory sets).
        augment: training augmentation (random crop with padding and horizontal flip; RandomResizedCrop for
            ``imagefolder``). Ignored for evaluation.
        download: let torchvision download Fashion-MNIST or CIFAR into ``root`` when missing (needs a network).
        subset: keep only the first ``subset`` samples.
        num_samples: ``synthetic`` only: number of samples.
        image_size: ``synthetic``: side of the square images; ``imagefolder``: the crop size (224).
        channels: ``synthetic`` only: image channels.
        num_classes: ``synthetic`` only: number of classes.
        drop_last: drop the last incomplete batch; ``None`` drops it for training only.
        shuffle: shuffle the samples (a new order every epoch, seeded by the run's ``seed``); ``None`` shuffles
            training data only.
        remote: ``streaming`` only: the folder of shards (``OUT_DIR/train`` from ``composer-cutmix convert``), a
            local path or any URL ``streaming`` reads (``s3://``, ``gs://``, ``oci://``, ``azure://``, ``hf://``...).
        local: ``streaming`` only: the cache folder the shards are downloaded into, one per data set and shared by
            the ranks of a node. ``None``: a local ``remote`` folder is read in place, and a URL is cached in
            ``{run_folder}/streaming/train_data`` (``eval_data``).
        shuffle_algo: ``streaming`` only: its shuffle algorithm (``py1e``, ``py1br``, ``py1s``, ``py2s``...).
        shuffle_block_size: ``streaming`` only: samples per shuffle block; ``None``: streaming's default.
        num_canonical_nodes: ``streaming`` only: the number of nodes the sample order is laid out for; keep it fixed
            to resume on a different number of nodes with the same order (``None``: the nodes of the first run).
        predownload: ``streaming`` only: samples each worker downloads ahead; ``None``: ``8 * batch_size``.
        cache_limit: ``streaming`` only: evict shards from ``local`` above this size (``'10gb'``); ``None``: keep all.
    """

    name: str = 'fashion_mnist'
    root: Optional[str] = None
    batch_size: int = 128
    num_workers: int = 0
    augment: bool = True
    download: bool = False
    subset: Optional[int] = None
    num_samples: int = 512
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10
    drop_last: Optional[bool] = None
    shuffle: Optional[bool] = None
    remote: Optional[str] = None
    local: Optional[str] = None
    shuffle_algo: str = 'py1e'
    shuffle_block_size: Optional[int] = None
    num_canonical_nodes: Optional[int] = None
    predownload: Optional[int] = None
    cache_limit: Optional[str] = None


@dataclass
class OptimizerConfig:
    """``optimizer:`` ``sgd`` (momentum, optionally Nesterov) or ``adamw``.

    ``weight_decay`` is PyTorch's: coupled L2 for SGD, decoupled for AdamW.
    """

    name: str = 'sgd'
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5.0e-4
    nesterov: bool = True
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class SchedulerConfig:
    """``scheduler:`` the learning-rate schedule, one of Composer's.

    Attributes:
        name: ``cosine`` (CosineAnnealingWithWarmupScheduler), ``multistep`` (MultiStepWithWarmupScheduler) or
            ``constant`` (ConstantWithWarmupScheduler).
        t_warmup: linear warmup length, a Composer time (``'1ep'``, ``'200ba'``, ``'0.05dur'``).
        alpha_f: ``cosine``: final learning rate as a fraction of the initial one.
        milestones: ``multistep``: times at which the rate is multiplied by ``gamma`` (``['150ep', '225ep']``).
        gamma: ``multistep``: the factor.
    """

    name: str = 'cosine'
    t_warmup: str = '0ba'
    alpha_f: float = 0.0
    milestones: list[str] = field(default_factory=list)
    gamma: float = 0.1


@dataclass
class MLflowConfig:
    """``loggers.mlflow:`` Composer's ``MLFlowLogger`` (``pip install 'composer-cutmix[mlflow]'``).

    Attributes:
        tracking_uri: the tracking server (``http://host:5000``, ``databricks``) or a local store
            (``file:./mlruns``); ``None``: MLflow's default (``$MLFLOW_TRACKING_URI``, else ``./mlruns``).
        experiment_name: ``None``: ``$MLFLOW_EXPERIMENT_NAME``, else Composer's default.
        tags: tags of the MLflow run.
        log_system_metrics: also log CPU/GPU/memory use (MLflow's system metrics).
        synchronous: log synchronously (slower; the default logs in the background and flushes at the end).
    """

    tracking_uri: Optional[str] = None
    experiment_name: Optional[str] = None
    tags: dict[str, str] = field(default_factory=dict)
    log_system_metrics: bool = False
    synchronous: bool = False


@dataclass
class WandBConfig:
    """``loggers.wandb:`` Composer's ``WandBLogger`` (``pip install 'composer-cutmix[wandb]'``).

    Attributes:
        project: the W&B project.
        entity: the team or user; ``None``: your default entity.
        group: groups runs (e.g. the seeds of one setting).
        tags: tags of the run.
        mode: ``online``, ``offline`` (written under ``{run_folder}/wandb``; ``wandb sync`` uploads it later) or
            ``disabled``; ``None``: W&B's default (``$WANDB_MODE``, else online).
    """

    project: Optional[str] = None
    entity: Optional[str] = None
    group: Optional[str] = None
    tags: list[str] = field(default_factory=list)
    mode: Optional[str] = None


@dataclass
class LoggersConfig:
    """``loggers:`` where metrics go.

    Attributes:
        progress_bar: Composer's progress bar (on stderr); ``None`` shows it when stdout is a terminal and
            otherwise prints one plain line per ``console_log_interval`` to stdout.
        console_log_interval: how often the plain console logger prints (``'1ep'``, ``'100ba'``).
        metrics_jsonl: write ``{run_folder}/metrics.jsonl``, one JSON object per logging step.
        speed_monitor: log throughput and wall-clock time (Composer's SpeedMonitor).
        text_log: also keep Composer's FileLogger text log, one file per rank: ``{run_folder}/log-rank{rank}.txt``
            (``log-rank0.txt`` on one process).
        tensorboard: write TensorBoard event files under ``{run_folder}/tensorboard/{run_name}`` (Composer's
            ``TensorboardLogger``; ``pip install 'composer-cutmix[tensorboard]'``).
        mlflow: log to MLflow (see :class:`MLflowConfig`); ``null``: off.
        wandb: log to Weights & Biases (see :class:`WandBConfig`); ``null``: off.
        log_mixed_images: how often to send a picture of the mixed training batch the model is fed (``'500ba'``,
            ``'1ep'``) to the loggers that show images (TensorBoard, MLflow, W&B); ``null``: never.
        mixed_images_n: images in that picture.
    """

    progress_bar: Optional[bool] = None
    console_log_interval: str = '1ep'
    metrics_jsonl: bool = True
    speed_monitor: bool = True
    text_log: bool = False
    tensorboard: bool = False
    mlflow: Optional[MLflowConfig] = None
    wandb: Optional[WandBConfig] = None
    log_mixed_images: Optional[str] = None
    mixed_images_n: int = 16


@dataclass
class RunConfig:
    """The whole run: one YAML file's top-level keys.

    Attributes:
        run_name: the run's name; defaults to the YAML file's stem.
        run_folder: where ``metrics.jsonl`` and ``config.yaml`` go; defaults to ``runs/{run_name}``.
        seed: seeds Composer (model init, CutMix draws, shuffling, augmentation).
        device: ``auto`` (gpu when CUDA is available, else cpu), ``cpu``, ``gpu`` or ``mps``.
        precision: ``fp32``, ``amp_bf16`` or ``amp_fp16``.
        max_duration: a positive Composer time: ``'3ep'``, ``'2ba'`` (a smoke run), ``'10000sp'``.
        eval_interval: how often to evaluate (``'1ep'``, ``'500ba'``).
        device_train_microbatch_size: split each batch for gradient accumulation (an int, or ``'auto'``).
        model, train_data, eval_data, optimizer, scheduler, loggers: see their classes; ``eval_data: null``
            turns evaluation off.
        algorithms: ``name: {kwargs}`` for each algorithm, e.g. ``cutmix: {alpha: 1.0}`` (see
            :mod:`composer_cutmix.runner.registry`); ``name: false`` turns one off (``algorithms.cutmix=false`` on the
            command line: the baseline of a CutMix YAML). ``random_mix`` takes its ops as a mapping in the order of
            its ``probs``: ``random_mix: {ops: {mixup: {alpha: 0.8}, cutmix: {}}, probs: [0.5, 0.5]}``; an op set
            to ``false`` is left out.
        save_folder: where checkpoints go (``null``: none), e.g. ``${run_folder}/checkpoints``.
        save_interval: how often to checkpoint (``'1ep'``).
        save_num_checkpoints_to_keep: ``-1`` keeps all.
        save_overwrite: overwrite existing checkpoints of the same name.
        load_path: a checkpoint to resume from (model, optimizer, algorithms' state, timestamp).
        load_weights_only: load only the weights from ``load_path`` (fine-tuning rather than resuming).
        autoresume: Composer's autoresume: when ``save_folder`` holds a checkpoint of this run (its
            ``latest-rank{rank}.pt``), resume from it, so rerunning the same command after the run was killed
            continues where it stopped; otherwise start afresh. Needs ``save_folder`` (and ``run_name``, which
            defaults to the YAML file's stem). Checkpoints the interrupted attempt wrote after its latest complete
            one are overwritten as the resumed run reaches them; a ``latest`` link the kill removed is pointed back at
            the newest checkpoint that loads. The resumed run prints the checkpoint it resumed from, and
            ``metrics.jsonl`` keeps its lines up to that checkpoint, so each batch appears once.
    """

    run_name: Optional[str] = None
    run_folder: Optional[str] = None
    seed: int = 17
    device: str = 'auto'
    precision: str = 'fp32'
    max_duration: str = '3ep'
    eval_interval: str = '1ep'
    device_train_microbatch_size: Optional[Union[int, str]] = None
    model: ModelConfig = field(default_factory=ModelConfig)
    train_data: DataConfig = field(default_factory=DataConfig)
    eval_data: Optional[DataConfig] = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    algorithms: dict[str, Any] = field(default_factory=dict)
    loggers: LoggersConfig = field(default_factory=LoggersConfig)
    save_folder: Optional[str] = None
    save_interval: str = '1ep'
    save_num_checkpoints_to_keep: int = -1
    save_overwrite: bool = False
    load_path: Optional[str] = None
    load_weights_only: bool = False
    autoresume: bool = False


# --------------------------------------------------------------------------------------------------------------
# Checking the names and values OmegaConf's types cannot express: the one validator.
# --------------------------------------------------------------------------------------------------------------


def _one_of(key: str, value: Any, accepted: Sequence[str]) -> None:
    if value not in accepted:
        raise ConfigError(f'{key}: unknown value {value!r}. Accepted: {", ".join(map(str, accepted))}.')


def _time(key: str, value: Any, units: str = 'ep, ba, sp, dur') -> Any:
    """``value`` as a Composer ``Time``; ``units``: the ones the message offers."""
    from composer.core import Time

    try:
        return Time.from_timestring(str(value))
    except (ValueError, TypeError):
        example = ", '0.5dur'" if 'dur' in units else ''
        raise ConfigError(
            f"{key}: {value!r} is not a Composer time. Write a number and a unit ({units}), e.g. '3ep', "
            f"'2ba'{example}.",
        ) from None


def _positive(key: str, value: Any, low: int = 1) -> None:
    if value is not None and value < low:
        raise ConfigError(f'{key} must be >= {low}, got {value!r}.')


def _duration(key: str, value: Any) -> None:
    """How long to train: Composer accepts any time here and fails in ``fit`` on zero or a share of itself."""
    from composer.core import TimeUnit

    if (t := _time(key, value, 'ep, ba, sp')).unit == TimeUnit.DURATION or t.value <= 0:
        raise ConfigError(f"{key} must be a positive number of epochs, batches or samples ('3ep', '2ba', '10000sp'), "
                          f"got {value!r}.")


def _interval(key: str, value: Any) -> None:
    """A positive number of epochs or batches, what the console logger and the image callback count in."""
    from composer.core import TimeUnit

    t = _time(key, value, 'ep, ba')
    if t.unit not in (TimeUnit.EPOCH, TimeUnit.BATCH) or t.value < 1:
        raise ConfigError(f"{key} must be a positive number of epochs or batches ('1ep', '100ba'), got {value!r}.")


def check_model(m: Any, key: str = 'model', *, check_name: Callable[[str], None]) -> None:
    """The checks of a ``model`` section that its types cannot express; ``check_name``: the model builder's."""
    check_name(m.name)
    _positive(f'{key}.num_classes', m.num_classes)
    _positive(f'{key}.in_channels', m.in_channels)
    if m.name == 'cifar_resnet':
        _positive(f'{key}.width', m.width)
        if m.depth < 8 or (m.depth - 2) % 6:
            near = max(8, m.depth - (m.depth - 2) % 6)
            raise ConfigError(f'{key}.depth: cifar_resnet depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110...), got '
                              f'{m.depth}; the nearest valid depths are {near} and {near + 6}.')
        if m.kwargs:
            raise ConfigError(f'{key}.kwargs: cifar_resnet takes no extra arguments, got {dict(m.kwargs)}. Set '
                              f'{key}.depth, {key}.width and {key}.in_channels instead.')


def check_data(data: Any, key: str, *, check_name: Callable[[str, str], None]) -> None:
    """The checks of a ``train_data``/``eval_data`` section that its types cannot express; ``check_name``: the
    data builder's, called with the name and its key."""
    check_name(data.name, f'{key}.name')
    if data.name == 'streaming':
        if not data.remote:
            raise ConfigError(f'{key}.remote: {key}.name=streaming reads MDS shards from remote, and none is set. Set '
                              f'{key}.remote to a folder `composer-cutmix convert CONFIG OUT` wrote (OUT/train or '
                              f'OUT/eval) or to a URL, e.g. {key}.remote=s3://bucket/out/train.')
        if data.subset is not None:
            raise ConfigError(f'{key}.subset is not supported with streaming (shards are read whole). Convert a '
                              f'subset instead (composer-cutmix convert CONFIG OUT {key}.subset=N), or set '
                              f'{key}.subset=null.')
    if data.name == 'imagefolder' and not data.root:
        raise DataNotFoundError(f'{key}.root: imagefolder needs a root, e.g. {key}.root=/data/imagenet (with train/ '
                                f'and val/ folders of class subfolders).')
    if data.name == 'synthetic':
        for k in ('num_samples', 'image_size', 'channels', 'num_classes'):
            if data[k] < 1:
                raise ConfigError(f'{key}.{k}: synthetic data: {k} must be >= 1, got {data[k]!r}.')
    _positive(f'{key}.batch_size', data.batch_size)
    _positive(f'{key}.subset', data.subset)
    _positive(f'{key}.num_workers', data.num_workers, 0)


def check_algorithms(algorithms: Any, key: str = 'algorithms', *,
                     check_names: Callable[[Sequence[str]], None]) -> None:
    """The names of an ``algorithms`` section (``check_names``: the registry's), that each holds keyword arguments
    (or null, or false), and the ops of ``random_mix``."""
    check_names(list(algorithms.keys()))
    for name, kwargs in algorithms.items():
        _check_kwargs(f'{key}.{name}', kwargs)
        if name == 'random_mix' and kwargs is not False:
            _check_random_mix_ops((kwargs or {}).get('ops'), f'{key}.{name}.ops')


def _check_kwargs(key: str, kwargs: Any) -> None:
    if kwargs is not None and kwargs is not False and not isinstance(kwargs, (Mapping, DictConfig)):
        raise ConfigError(
            f'{key}: expected a mapping of keyword arguments (null or {{}} for the defaults, false to turn it off), '
            f'got {kwargs!r}. Example: algorithms: {{cutmix: {{alpha: 1.0}}}}.',
        )


def _check_random_mix_ops(ops: Any, key: str) -> None:
    """``random_mix.ops``: a mapping of :data:`RANDOM_MIX_OPS` names to their keyword arguments, at least one on."""
    example = 'ops: {mixup: {alpha: 0.8}, cutmix: {alpha: 1.0}, resizemix: {}, fmix: {}}'
    if not isinstance(ops, (Mapping, DictConfig)) or not ops:
        raise ConfigError(f'{key}: random_mix picks one of its ops per batch and needs a mapping of them to their '
                          f'arguments, in the order of probs, e.g. {example}; got {ops!r}.')
    for name, kwargs in ops.items():
        _one_of(key, name, RANDOM_MIX_OPS)
        _check_kwargs(f'{key}.{name}', kwargs)
    if all(kwargs is False for kwargs in ops.values()):
        raise ConfigError(f'{key}: every op is turned off (false); keep at least one, or turn random_mix off '
                          f'(algorithms.random_mix=false).')


def check_optimizer(o: Any, key: str = 'optimizer') -> None:
    """The checks of an ``optimizer`` section that its types cannot express."""
    _one_of(f'{key}.name', o.name, OPTIMIZERS)
    if o.lr <= 0:
        raise ConfigError(f'{key}.lr must be > 0, got {o.lr!r}.')
    if o.name == 'sgd' and o.nesterov and o.momentum <= 0:
        raise ConfigError(f'{key}: nesterov=true needs momentum > 0, got momentum={o.momentum}. '
                          f'Set {key}.momentum=0.9 or {key}.nesterov=false.')
    if o.name == 'adamw' and len(o.betas) != 2:
        raise ConfigError(f'{key}.betas must be two numbers [beta1, beta2], got {list(o.betas)}.')


def check_scheduler(s: Any, key: str = 'scheduler') -> None:
    """The checks of a ``scheduler`` section that its types cannot express."""
    _one_of(f'{key}.name', s.name, SCHEDULERS)
    _time(f'{key}.t_warmup', s.t_warmup)
    for i, m in enumerate(s.milestones):
        _time(f'{key}.milestones[{i}]', m)
    if s.name == 'multistep' and not s.milestones:
        raise ConfigError(f"{key}.milestones: multistep needs at least one milestone, e.g. ['150ep', '225ep'].")


def check_loggers(lg: Any, key: str = 'loggers') -> None:
    """The checks of a ``loggers`` section that its types cannot express."""
    _interval(f'{key}.console_log_interval', lg.console_log_interval)
    if lg.log_mixed_images is not None:
        _interval(f'{key}.log_mixed_images', lg.log_mixed_images)
        if not (lg.tensorboard or lg.mlflow is not None or lg.wandb is not None):
            raise ConfigError(
                f'{key}.log_mixed_images={lg.log_mixed_images} sends pictures to loggers that show images, and none '
                f'is on. Turn one on ({key}.tensorboard=true, {key}.mlflow.tracking_uri=..., or '
                f'{key}.wandb.project=...), or use `composer-cutmix preview` for a PNG.',
            )
    _positive(f'{key}.mixed_images_n', lg.mixed_images_n)
    if lg.wandb is not None and lg.wandb.mode not in (None, 'online', 'offline', 'disabled'):
        raise ConfigError(f'{key}.wandb.mode: unknown value {lg.wandb.mode!r}. Accepted: online, offline, '
                          f'disabled (or null for W&B\'s default).')


#: dataclass -> the checks of that section (what :func:`checked` runs on a mapping)
SECTION_CHECKS: dict[type, Callable[..., None]] = {
    ModelConfig: check_model,
    DataConfig: check_data,
    OptimizerConfig: check_optimizer,
    SchedulerConfig: check_scheduler,
    LoggersConfig: check_loggers,
}


def validate(cfg: DictConfig, *, check_model_name: Callable[[str], None],
             check_dataset_name: Callable[[str, str], None],
             check_algorithm_names: Callable[[Sequence[str]], None]) -> DictConfig:
    """Checks the names and values of a typed run config; returns it unchanged.

    This (with the types above) is the runner's one validator: the builders trust a section of a run config that
    went through it (see :func:`checked`). The names the builders own are checked by the functions given
    (:mod:`composer_cutmix.runner.config` passes the builders' own), so this module imports no builder.

    Raises:
        ConfigError: naming the first bad key, the value given and what is accepted.
    """
    _one_of('device', cfg.device, DEVICES)
    _one_of('precision', cfg.precision, PRECISIONS)
    check_optimizer(cfg.optimizer)
    check_scheduler(cfg.scheduler)
    check_model(cfg.model, check_name=check_model_name)
    for part in ('train_data', 'eval_data'):
        if cfg[part] is not None:
            check_data(cfg[part], part, check_name=check_dataset_name)
    check_algorithms(cfg.algorithms, check_names=check_algorithm_names)
    check_loggers(cfg.loggers)
    _duration('max_duration', cfg.max_duration)
    _time('eval_interval', cfg.eval_interval)
    _time('save_interval', cfg.save_interval)
    mb = cfg.device_train_microbatch_size
    if isinstance(mb, str) and mb != 'auto':
        raise ConfigError(f"device_train_microbatch_size must be a positive integer, 'auto' or null, got {mb!r}.")
    if isinstance(mb, int):
        _positive('device_train_microbatch_size', mb)
    if cfg.autoresume and not cfg.save_folder:
        raise ConfigError(
            'autoresume: true needs save_folder: the checkpoints it resumes from. Set save_folder, e.g. '
            "save_folder='${run_folder}/checkpoints', or autoresume=false.",
        )
    return cfg


def checked(cfg: Any, schema: type, key: str, **names: Any) -> Any:
    """What a builder takes: a section of a run config, typed and checked once.

    A DictConfig typed by ``schema`` (for ``algorithms``: any DictConfig) is taken to come from
    :func:`~composer_cutmix.runner.config.load_config` or ``config_from_dict``, which validated the whole run, and is
    returned as it is; anything else (a mapping, a dataclass) is typed with :func:`coerce` and given the same checks
    :func:`validate` gives that section.

    Args:
        cfg: the section.
        schema: its dataclass (:class:`DataConfig`, :class:`ModelConfig`...), or ``dict`` for ``algorithms``.
        key: its key in the run (``train_data``, ``model``...), for messages.
        names: the builder's name check for the sections that name things: ``check_name`` (model, data) or
            ``check_names`` (algorithms).

    Returns:
        A DictConfig typed by ``schema``; for ``algorithms``, the mapping as given.

    Raises:
        ConfigError: see :func:`validate`.
    """
    if isinstance(cfg, DictConfig) and (schema is dict or OmegaConf.get_type(cfg) is schema):
        return cfg
    if schema is dict:  # algorithms: kwargs may hold any Python value, so the mapping is checked as it is
        check_algorithms(cfg, key, **names)
        return cfg
    out = coerce(cfg, schema, key)
    SECTION_CHECKS[schema](out, key, **names)
    return out
# --------------------------------------------------------------------------------------------------------------
# Turning OmegaConf's errors into one paragraph.
# --------------------------------------------------------------------------------------------------------------


def _section(node: type, part: str) -> Optional[type]:
    """The dataclass of the section ``part`` of the dataclass ``node`` (also an ``Optional`` one that defaults to
    ``None``, like ``loggers.mlflow``), or None for a leaf."""
    f = {f.name: f for f in fields(node)}.get(part)
    if f is None:
        return None
    if f.default_factory is not MISSING:
        value = f.default_factory()  # type: ignore[misc]
        return type(value) if is_dataclass(value) else None
    hint = get_type_hints(node).get(part)
    if get_origin(hint) is Union:
        hint = next((a for a in get_args(hint) if is_dataclass(a)), None)
    return hint if isinstance(hint, type) and is_dataclass(hint) else None


def _keys(schema: type) -> list[str]:
    return [f.name for f in fields(schema)]


def _scalar_section(data: Any, schema: type, prefix: str = '') -> Optional[tuple[str, type, Any]]:
    """``(dotted key, section dataclass, value)`` of the first section of ``schema`` that ``data`` gives as a scalar
    (``model: resnet50``), or None. OmegaConf reports that case without naming the key, so it is found here first."""
    if not isinstance(data, (Mapping, DictConfig)):
        return None
    for name in _keys(schema):
        cls = _section(schema, name)
        if cls is None or name not in data:
            continue
        value = data[name]
        if isinstance(value, (Mapping, DictConfig)):
            found = _scalar_section(value, cls, f'{prefix}{name}.')
            if found is not None:
                return found
        elif value is not None and not is_dataclass(value):
            return f'{prefix}{name}', cls, value
    return None


def _scalar_section_error(key: str, cls: type, value: Any) -> ConfigError:
    keys = _keys(cls)
    return ConfigError(
        f'config key {key!r} expects a mapping with the keys {", ".join(keys)}, but got the scalar {value!r}. Write '
        f'it as {key}: {{{keys[0]}: ...}} or override {key}.{keys[0]}=...',
    )


def _type_name(hint: Any) -> str:
    """``'int'``, ``'list[float]'``, ``'Optional[int]'``: a field's annotation as written in this module."""
    return hint if isinstance(hint, str) else getattr(hint, '__name__', str(hint).replace('typing.', ''))


def as_config_error(e: OmegaConfBaseException, where: str, schema: type) -> ConfigError:
    """One paragraph for an OmegaConf error met while merging into ``schema`` at ``where`` (``''``: the top).

    Reads the exception's fields: its class (:class:`~omegaconf.errors.ConfigKeyError` for an unknown key, else a
    value OmegaConf could not convert), ``key`` and ``full_key`` (where), ``object_type`` (the dataclass holding the
    key, whose fields are what is accepted there) and ``value`` (what was given).
    """
    full_key = e.full_key or ''
    key = '.'.join(k for k in (where, full_key) if k) or 'config'
    owner = e.object_type if isinstance(e.object_type, type) and is_dataclass(e.object_type) else None
    if owner is None:  # no field names the key: not an error this schema can explain; pass OmegaConf's on
        text = ' '.join(str(e).split())
        return ConfigError(f'{key}: {text}. Check that each section (model:, train_data:, ...) is a mapping of keys '
                           f'to values.')
    if isinstance(e, (ConfigKeyError, ConfigAttributeError)):
        parent = full_key.rsplit('.', 1)[0] if '.' in full_key else ''
        listing = f"Accepted keys{' under ' + parent if parent else ''}: {', '.join(_keys(owner))}."
        return ConfigError(
            f'unknown config key {key!r}. {listing} Check the spelling, or see composer_cutmix/runner/schema.py for '
            f'the schema.',
        )
    value = e.value._value() if isinstance(e.value, Node) else e.value  # an OmegaConf node: show what it holds
    # key None: the section itself was given what is not a mapping (model: null); object_type is then its dataclass
    section = owner if e.key is None else _section(owner, str(e.key))
    if section is not None:
        keys = _keys(section)
        return ConfigError(
            f'config key {key!r} expects a mapping with the keys {", ".join(keys)}, but got {value!r} '
            f'({type(value).__name__}). Write it as {full_key}: {{{keys[0]}: ...}} or override {full_key}.'
            f'{keys[0]}=...',
        )
    hint = {f.name: f.type for f in fields(owner)}.get(str(e.key), 'the schema type')
    expected = _type_name(hint)
    return ConfigError(
        f'config key {key!r} expects {expected}, but got {value!r} ({type(value).__name__}). '
        f'Fix the YAML or the override, e.g. {full_key or key}=<{expected}>.',
    )


def coerce(cfg: Any, schema: type, where: str = '') -> DictConfig:
    """Returns ``cfg`` (a mapping, a DictConfig or a dataclass) as a DictConfig typed by ``schema``.

    Checks the keys and the types of the values only; :func:`composer_cutmix.runner.config.validate` checks the
    names and ranges. A DictConfig already typed by ``schema`` is returned as it is.

    Raises:
        ConfigError: for an unknown key or a value of the wrong type.
    """
    if isinstance(cfg, DictConfig) and OmegaConf.get_type(cfg) is schema:
        return cfg
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, (Mapping, DictConfig)) and not is_dataclass(cfg):
        raise ConfigError(f'{where or "config"} must be a mapping of keys to values, got {cfg!r}.')
    return merge_into(OmegaConf.structured(schema), cfg, where, schema)


def merge_into(base: DictConfig, cfg: Any, where: str = '', schema: Optional[type] = None) -> DictConfig:
    """``OmegaConf.merge(base, cfg)`` with OmegaConf's errors turned into one :class:`ConfigError` paragraph.

    Args:
        base: a DictConfig typed by ``schema`` (or by the run's :class:`RunConfig`).
        cfg: a mapping, DictConfig or dataclass merged on top.
        where: the key of ``base`` in the run, for messages (``''``: the top).
        schema: the dataclass of ``base``; defaults to its OmegaConf type.
    """
    schema = schema or OmegaConf.get_type(base)
    scalar = _scalar_section(cfg, schema)
    if scalar is not None:
        name, cls, value = scalar
        raise _scalar_section_error('.'.join(k for k in (where, name) if k), cls, value)
    try:
        return OmegaConf.merge(base, cfg)
    except OmegaConfBaseException as e:
        raise as_config_error(e, where, schema) from None
