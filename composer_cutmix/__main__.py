"""``python -m composer_cutmix train CONFIG.yaml [key=value ...]``, also under ``composer -n N -m composer_cutmix``."""

from __future__ import annotations

import sys

from composer_cutmix.runner.cli import main

__all__: list[str] = []

if __name__ == '__main__':
    sys.exit(main())
