"""The application layer: every act a shell (CLI, API, web UI) can do, as one function
taking ``(env, caller, ...)``. Shells parse, call, print; they hold no SQL and no rules.
"""

from idgraph.app.context import Caller, Env
from idgraph.app.errors import (
    AppError,
    Conflict,
    Denied,
    Invalid,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "AppError",
    "Caller",
    "Conflict",
    "Denied",
    "Env",
    "Invalid",
    "NotFound",
    "TooManyAttempts",
    "Unauthenticated",
    "Unavailable",
]
