"""What a name that identifies something (a user, an organisation, a case) may look like.

Decisions compare these names exactly, and audit entries, listings and notices show
them to people. A name with a leading or trailing space, an invisible or control
character (zero-width space, right-to-left mark, tab, newline) or a compatibility form
(full-width ``ｉｃｅ``) would look like another name while being a different one: a case
``CR-1 `` of one organisation next to ``CR-1`` of another, a user ``alice\\u200b`` next to
``alice``. Such names are refused when they are created, so every name shown is the name
compared.
"""

from __future__ import annotations

import unicodedata


def name_problem(what: str, value: str) -> str | None:
    """Why ``value`` cannot be the name of a ``what`` (``None``: it can)."""
    if not value.strip():
        return f"{what} is empty"
    if value != value.strip():
        return f"{what} {value!r} has leading or trailing space"
    hidden = sorted({f"U+{ord(c):04X}" for c in value
                     if c != " " and unicodedata.category(c)[0] in "CZ"})
    if hidden:
        return f"{what} {value!r} contains invisible or control characters ({', '.join(hidden)})"
    if unicodedata.normalize("NFKC", value) != value:
        return f"{what} {value!r} is not in Unicode NFKC form (write it as plain characters)"
    return None
