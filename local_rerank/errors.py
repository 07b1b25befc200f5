"""One error root for everything a user can cause or fix.

The command line prints ``str(error)`` on one line and exits non-zero; library callers
catch :class:`LocalRerankError`. Third-party failures are translated with ``raise ... from``.
"""

from __future__ import annotations


class LocalRerankError(Exception):
    """Base class: the message is written for the person at the keyboard."""


class InputError(LocalRerankError):
    """The query, documents or options are unusable (empty query, no documents, bad file)."""


class ModelError(LocalRerankError):
    """The model file is missing, corrupt, or not a Qwen3-Reranker this program can run."""


class BackendUnavailableError(LocalRerankError):
    """A backend's runtime library is not installed, or cannot use the requested device."""


class ConversionError(LocalRerankError):
    """An export failed, or its parity check against the reference did not pass."""


class DeviceFallbackWarning(UserWarning):
    """The GPU was expected to run the model, but the work went to the CPU."""


class SettingsError(InputError):
    """A setting from the environment or the config file is malformed or out of range.

    The command line exits with ``exit_code`` (2, as for a bad flag) instead of 1.
    """

    exit_code = 2


class CacheError(LocalRerankError):
    """The index cache directory cannot be written: not a folder, read-only, or full."""
