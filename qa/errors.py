"""Exceptions for broken inputs and broken state.

A refusal to answer is *not* an error (see ``Answer.abstained``); these are for
things a user must fix. Every message says what is wrong, where, and how to fix
it, in one line, so the CLI can print it as is and the API can return it as JSON.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error the package raises on purpose."""


class ConfigError(QAError):
    """The configuration file is missing, malformed, or holds a bad value."""


class InputError(QAError):
    """A question, claim or request argument the pipeline cannot take."""


class IndexMissingError(QAError):
    """No index exists where the configuration says it should be."""


class StaleIndexError(QAError):
    """The index was built from another corpus, model or configuration."""


class CorruptIndexError(QAError):
    """Index files exist but cannot be read or do not agree with each other."""


class CorpusError(QAError):
    """The corpus folder is missing or holds no readable document."""


class IndexWriteError(QAError):
    """The index folder cannot be written (read-only, full, no permission); the live index is untouched."""
