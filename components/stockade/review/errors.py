"""What can go wrong in a review, split by whose problem it is (it decides the exit code)."""

from __future__ import annotations


class ReviewInputError(Exception):
    """Bad input: an unknown revision, an unreadable or malformed file. Exit code 2."""


class RevisionError(Exception):
    """A revision could not be synthesized (its program failed, or it timed out). Exit code 2."""
