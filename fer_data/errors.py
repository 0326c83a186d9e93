"""Errors a user's data can cause; the pipeline reports them as one line and exits with code 2."""

from __future__ import annotations


class DataError(ValueError):
    """The input cannot be read as FER2013, or is too small or degenerate for a step; the message
    names the file, row or parameter and what was expected."""
