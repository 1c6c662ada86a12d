"""Errors the store raises; each carries the HTTP status the API answers with."""


class StoreError(Exception):
    """Base class: an expected failure with a message safe to show the client."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(StoreError):
    status = 400


class NotFound(StoreError):
    status = 404

    def __init__(self, message: str = "not found") -> None:
        super().__init__(message)


class ApiError(StoreError):
    """Any other status: 401, 403, 405, 413, 429…"""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
