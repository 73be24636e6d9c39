"""CLI commands for idgraph.link (see module docstring of the library side)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    _ = app
