"""The measurements: mixing speed, training-step overhead, the accuracy studies, the cost of streaming.

Each module is a script (``python benchmarks/mix_speed.py ...``) and a module the tests import
(``benchmarks.mix_speed``, with the repository root on the path, as ``python -m pytest`` has it). Run as a file, a
script puts the repository root on the path itself, so ``from benchmarks.machine import ...`` works both ways.
The tooling that runs them on a borrowed GPU machine is in ``tools/``.
"""
