"""Lawful access: the one decision point, purpose-scoped views, minimisation, notices, retention.

Public API (everything else is internal):

- :func:`allowed` decides a query per source (pure); :func:`decide` also audits it.
- :func:`read_profile` is the read path every response goes through.
- :func:`minimise` cuts any mapping of values to the fields a decision allows.
- :func:`scoped_view` is the identity graph cut to permitted sources.
- :class:`Registry` holds the registry tables and the parsed policy set for many decisions.
"""

from __future__ import annotations

from idgraph.policy.engine import AccessDecision, allowed, audit_decision, decide
from idgraph.policy.fields import minimise
from idgraph.policy.profile import AccessDenied, Profile, read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.retention import apply_retention, register_removal_hook, tombstoned
from idgraph.policy.view import GraphMissing, ScopedView, scoped_view

__all__ = [
    "AccessDecision",
    "AccessDenied",
    "GraphMissing",
    "Profile",
    "Registry",
    "ScopedView",
    "allowed",
    "apply_retention",
    "audit_decision",
    "decide",
    "minimise",
    "read_profile",
    "register_removal_hook",
    "scoped_view",
    "tombstoned",
]
