"""The errors a run's configuration or data can raise, printed by the CLI as one paragraph (exit code 2)."""

from __future__ import annotations

__all__ = ['ConfigError', 'DataNotFoundError']


class ConfigError(ValueError):
    """A run's configuration is invalid: an unknown key, a wrong type, or an unknown name.

    The message is one paragraph that says which key, what was given and what is accepted; the CLI prints it
    to stderr without a traceback and exits with status 2.
    """


class DataNotFoundError(ConfigError):
    """The data set a run asks for is not on this machine; the message says how to get it."""
