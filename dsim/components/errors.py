"""Errors components answer with, as the Engine API does."""

from __future__ import annotations


class ApiError(Exception):
    """An error response of the Engine API; ``str()`` is what the CLI prints after 'Error response from daemon: '."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
