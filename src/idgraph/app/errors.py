"""The failures an application act reports to a shell.

Every function in :mod:`idgraph.app` converts the library's own exceptions into one of
these; the shells map them (the CLI to a message and an exit code, the API to RFC 9457
problem details, the web UI to an error page keeping the status).
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Every failure an act reports to a shell."""

    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        rules: tuple[str, ...] = (),
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.rules = tuple(rules)
        self.field = field
        self.errors: list[dict[str, Any]] = list(errors or [])

    def __str__(self) -> str:
        return self.detail


class Invalid(AppError):
    """Bad input; the field, or row errors, in ``field`` / ``errors``."""

    status = 422
    title = "Invalid input"


class NotFound(AppError):
    """No such user, case, document, identity, record, entry."""

    status = 404
    title = "Not found"


class Denied(AppError):
    """Refused by the policy layer; ``rules`` names the deciding rules. Already audited
    when raised."""

    status = 403
    title = "Denied"


class Conflict(AppError):
    """The act clashes with the present state (already exists, already closed)."""

    status = 409
    title = "Conflict"


class Unauthenticated(AppError):
    """No caller, or the credentials do not hold (unknown, expired, revoked, disabled)."""

    status = 401
    title = "Unauthenticated"


class TooManyAttempts(AppError):
    """Too many failed logins for a name or a client: try again later."""

    status = 429
    title = "Too many attempts"


class Unavailable(AppError):
    """The deployment cannot decide now (its policy set does not load): the operator's
    to fix, not the caller's."""

    status = 503
    title = "Unavailable"


__all__ = [
    "AppError",
    "Conflict",
    "Denied",
    "Invalid",
    "NotFound",
    "TooManyAttempts",
    "Unauthenticated",
    "Unavailable",
]
