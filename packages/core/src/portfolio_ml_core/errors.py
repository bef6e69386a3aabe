"""User-facing errors.

Every mistake a user can make (a missing file, a bad calibration, no camera) is raised as a
`PortfolioError`. The CLI turns it into one line on stderr (``Error: ...``) and a non-zero exit
status — no traceback — so commands raise it instead of printing and exiting themselves, and
library code stays free of CLI concerns.
"""

from __future__ import annotations


class PortfolioError(Exception):
    """A problem with the user's input or environment, reported as one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputFileError(PortfolioError):
    """A file the user named is missing, empty, or not what it should be."""


class ModelNotFoundError(PortfolioError):
    """A model file could not be resolved (and could not be downloaded)."""
