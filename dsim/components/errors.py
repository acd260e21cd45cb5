"""Errors components answer with, as the Engine API does."""

from __future__ import annotations


class ApiError(Exception):
    """An error response of the Engine API; ``str()`` is what the CLI prints after 'Error response from daemon: '."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StreamError(ApiError):
    """An error reported inside a streamed response (pull or push progress), after the HTTP 200: the docker
    CLI prints it as it is, without 'Error response from daemon: ' (e.g. 'received unexpected HTTP status:
    503 Service Unavailable' after a layer's last download attempt)."""
