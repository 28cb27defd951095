"""Errors shared by the stages: a message that cannot become an event says why, with a code."""

from __future__ import annotations


class RuleError(Exception):
    """A message does not fit its rule; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
