"""Tooling, not measurements: ``gpu_check`` (``make gpu-check``: every GPU measurement in one command on a
borrowed GPU machine) and ``wheels`` (``make wheels``: the offline wheels it installs there). The measurements they
run are in ``benchmarks/``."""
