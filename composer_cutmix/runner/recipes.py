"""The built-in recipes: the YAML runs of the repository's ``yamls/`` folder, shipped in the wheel.

setup.cfg maps the package ``composer_cutmix.recipes`` onto ``yamls/`` (one copy of each file), so an installed
``composer-cutmix`` finds them with :mod:`importlib.resources`: ``composer-cutmix train fashion_mnist`` runs
``yamls/fashion_mnist.yaml``, and ``composer-cutmix recipes`` lists them. A source checkout that is on
``sys.path`` without being installed reads its ``yamls/`` folder directly.

Example:
    >>> 'fashion_mnist' in recipe_names() and 'synthetic' in recipe_names()
    True
    >>> recipe_summary('synthetic')
    'A tiny run on random images, for smoke tests: seconds on a CPU, no data needed.'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ['RECIPES_PACKAGE', 'find_recipe', 'recipe_names', 'recipe_summary']

RECIPES_PACKAGE = 'composer_cutmix.recipes'


def _folder() -> Traversable:
    """The recipes' folder: the installed package's, else a source checkout's ``yamls/``."""
    try:
        return resources.files(RECIPES_PACKAGE)
    except ModuleNotFoundError:  # composer_cutmix imported from a checkout on sys.path, not installed
        return Path(__file__).resolve().parents[2] / 'yamls'


def recipe_names() -> list[str]:
    """The names of the built-in recipes (the YAML files' stems), sorted."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-len('.yaml')] for p in folder.iterdir() if p.name.endswith('.yaml'))


def find_recipe(name: str) -> Optional[Traversable]:
    """The built-in recipe ``name`` (``fashion_mnist`` or ``fashion_mnist.yaml``), or None when there is none."""
    if not name or os.sep in name or '/' in name:
        return None
    stem = name[:-len('.yaml')] if name.endswith('.yaml') else name
    if stem not in recipe_names():
        return None
    return _folder().joinpath(stem + '.yaml')


def recipe_summary(name: str) -> str:
    """The first comment line of the recipe ``name`` (what it runs), or ``''``."""
    recipe = find_recipe(name)
    for line in (recipe.read_text(encoding='utf-8').splitlines() if recipe is not None else []):
        if line.startswith('#'):
            return line.lstrip('#').strip()
        if line.strip():
            break
    return ''
