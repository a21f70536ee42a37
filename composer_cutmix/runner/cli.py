"""The ``composer-cutmix`` command: ``train`` a YAML run, ``convert`` its data sets to MDS shards for streaming,
``preview`` its mixed batches as a PNG, or list the built-in ``recipes``.

::

    composer-cutmix train yamls/fashion_mnist.yaml [key=value ...]
    composer-cutmix train fashion_mnist [key=value ...]      # a built-in recipe by name (installed with the package)
    composer-cutmix recipes                                   # the built-in recipes, one line each
    composer-cutmix --version
    composer-cutmix convert yamls/fashion_mnist.yaml shards/fmnist [key=value ...]   # MDS shards for streaming
    composer-cutmix preview yamls/fashion_mnist.yaml --out mixed.png [--n 16] [--seed 0] [--batches 1] [key=value ...]
    python -m composer_cutmix train ...                       # the same
    composer -n 2 -m composer_cutmix train ...                # DDP with Composer's launcher (gloo on CPU)

A bad config, missing or corrupt data, a checkpoint that does not fit, or a bad label met while training prints one
paragraph to stderr and exits with status 2, without a traceback; ``--traceback`` shows the full trace instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, Optional

import composer_cutmix
from composer_cutmix.mixing import MixingError
from composer_cutmix.runner.errors import ConfigError

__all__ = ['EXIT_CONFIG_ERROR', 'build_parser', 'main']

EXIT_CONFIG_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``composer-cutmix``."""
    parser = argparse.ArgumentParser(
        prog='composer-cutmix',
        description='CutMix training runs with MosaicML Composer, configured by YAML.',
        epilog='Overrides are dotted key=value pairs merged into the YAML, e.g. max_duration=2ba '
               'train_data.batch_size=64 algorithms.cutmix.alpha=0.5.',
    )
    parser.add_argument('--version', action='version', version=f'composer-cutmix {composer_cutmix.__version__}')
    parser.add_argument('--traceback', action='store_true',
                        help='on an error of the config or data, show the full Python traceback, not one paragraph')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    tr = sub.add_parser('train', help='train a YAML-configured run', description='Train a YAML-configured run.')
    tr.add_argument('config', help='the YAML file, e.g. yamls/fashion_mnist.yaml, or a built-in recipe\'s name, '
                                   'e.g. fashion_mnist (see: composer-cutmix recipes)')
    tr.add_argument('overrides', nargs='*', metavar='key=value', help='overrides, e.g. max_duration=2ba')
    cv = sub.add_parser('convert', help="write the run's data sets as MDS shards for train_data.name=streaming",
                        description="Write the run's train_data and eval_data as MDS shards (MosaicML streaming) to "
                                    'OUT_DIR/train and OUT_DIR/eval, and print the overrides that train on them.')
    cv.add_argument('config', help='the YAML file of the run')
    cv.add_argument('out_dir', help='a local folder for the shards (copy it to an object store to share it)')
    cv.add_argument('overrides', nargs='*', metavar='key=value', help='overrides, e.g. train_data.subset=1000')
    cv.add_argument('--overwrite', action='store_true', help='empty OUT_DIR/train and OUT_DIR/eval and write them anew')
    cv.add_argument('--no-progress', dest='progress', action='store_false', help='no progress bars')
    pv = sub.add_parser('preview', help='draw mixed training batches as a PNG',
                        description="Draw the run's mixer at work on training batches: boxes outlined, blends named, "
                                    'labels weighed.')
    pv.add_argument('config', help='the YAML file of the run')
    pv.add_argument('overrides', nargs='*', metavar='key=value', help='overrides, e.g. algorithms.cutmix.alpha=0.5')
    pv.add_argument('--out', default='cutmix_preview.png', help='the PNG to write (default: %(default)s)')
    pv.add_argument('--n', type=int, default=16, help='number of images (default: %(default)s)')
    pv.add_argument('--seed', type=int, default=0, help='seeds the batch and the draw (default: %(default)s)')
    pv.add_argument('--ncols', type=int, default=None, help='images per row (default: up to 8)')
    pv.add_argument('--batches', type=int, default=1,
                    help='draws to show, one grid each, e.g. to see MixUpCutMix switch ops (default: %(default)s)')
    sub.add_parser('recipes', help='list the built-in recipes (train one with: composer-cutmix train NAME)',
                   description='List the built-in recipes, the YAML runs installed with the package.')
    return parser


def _recipes() -> None:
    from composer_cutmix.runner.recipes import recipe_names, recipe_summary

    names = recipe_names()
    width = max(map(len, names), default=0)
    for name in names:
        print(f'{name.ljust(width)}  {recipe_summary(name)}'.rstrip())
    print('train one with: composer-cutmix train NAME [key=value ...]')


def _fail(message: str) -> int:
    text = textwrap.fill('composer-cutmix: error: ' + ' '.join(str(message).split()), width=110,
                         break_long_words=False, break_on_hyphens=False)
    print(text, file=sys.stderr, flush=True)
    return EXIT_CONFIG_ERROR


def _convert(cfg: Any, args: argparse.Namespace) -> None:
    from composer_cutmix.runner.convert import convert, read_back_overrides

    written = convert(cfg, args.out_dir, overwrite=args.overwrite, progress=args.progress)
    for info in written.values():
        print(f'wrote {info.num_samples} {info.split} samples of {info.source} ({info.layout} layout) to '
              f'{os.path.join(args.out_dir, info.split)}')
    overrides = ' '.join(read_back_overrides(cfg, args.out_dir, written))
    print(f'train on them with:\n  composer-cutmix train {args.config} {overrides}\n'
          f'(add train_data.local=/fast/disk/cache ... to cache a remote copy; see docs/data_at_scale.md)')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit status (0, or 2 for an error of the user's making).

    Example:
        >>> main(['train', 'no/such.yaml'])
        2
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    traceback = '--traceback' in argv  # accepted anywhere on the line, also after the subcommand
    args, extra = parser.parse_known_args([a for a in argv if a != '--traceback'])
    unknown = [a for a in extra if a.startswith('-') or '=' not in a]
    if unknown:
        parser.error(f'unrecognized arguments: {" ".join(unknown)} (overrides are key=value, e.g. max_duration=2ba)')
    if args.command == 'recipes':
        if extra:
            parser.error(f'recipes takes no arguments, got: {" ".join(extra)}')
        _recipes()
        return 0
    args.overrides = [*args.overrides, *extra]  # key=value pairs that came after an option
    try:
        from composer_cutmix.runner.config import load_config

        cfg = load_config(args.config, args.overrides)
        if args.command == 'train':
            from composer_cutmix.runner.train import train

            train(cfg)
        elif args.command == 'convert':
            _convert(cfg, args)
        else:
            from composer_cutmix.runner.preview import preview_batch

            if args.n < 1 or args.batches < 1:
                raise ConfigError(f'--n and --batches must be positive, got --n {args.n} --batches {args.batches}.')
            img = preview_batch(cfg, n=args.n, out=args.out, seed=args.seed, ncols=args.ncols, batches=args.batches)
            print(f'wrote {args.out} ({img.width}x{img.height}, {min(args.n, len(img.info["cutmix_boxes"]))} images)')
    except (ConfigError, MixingError) as e:
        if traceback:
            raise
        return _fail(str(e))
    except KeyboardInterrupt:
        print('composer-cutmix: interrupted', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
