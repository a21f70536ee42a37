"""The errors of the user's making that a run reports as one paragraph (the CLI's exit code 2, no traceback)."""

from __future__ import annotations

__all__ = ['ConfigError', 'DataNotFoundError', 'RunError']


class ConfigError(ValueError):
    """A run's configuration is invalid: an unknown key, a wrong type, or an unknown name.

    The message is one paragraph that says which key, what was given and what is accepted; the CLI prints it
    to stderr without a traceback and exits with status 2 (``--traceback`` shows the trace).
    """


class DataNotFoundError(ConfigError):
    """The data set a run asks for is not on this machine, or cannot be read; the message says how to get it."""


class RunError(ConfigError):
    """A user error found after start-up: a label outside ``num_classes`` in the middle of a run, a corrupt or
    truncated data file, a checkpoint that does not fit the config. Reported like a :class:`ConfigError`."""
