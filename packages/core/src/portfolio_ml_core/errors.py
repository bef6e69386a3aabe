"""User-facing errors.

Every mistake a user can make (a missing file, a bad calibration, no camera) is raised as a
`PortfolioError`. It subclasses Click's `ClickException` so that any command raising it prints one
line (``Error: ...``) and exits with status 1 — no traceback — without each command catching it.
"""

from __future__ import annotations

import click


class PortfolioError(click.ClickException):
    """A problem with the user's input or environment, reported as one line."""

    exit_code = 1


class InputFileError(PortfolioError):
    """A file the user named is missing, empty, or not what it should be."""


class ModelNotFoundError(PortfolioError):
    """A model file could not be resolved (and could not be downloaded)."""


class NotBuiltError(PortfolioError):
    """A command that exists in the tree but is not implemented yet.

    It exits non-zero so that it never pretends to work.
    """

    exit_code = 3
