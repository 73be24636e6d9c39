"""The web UI: Jinja2 templates and htmx over :mod:`idgraph.app`, served by the API app.

``web.routes.router`` is included by ``api.app.create_app`` at ``/``; ``web/static`` is
mounted at ``/static``. Pages authenticate with a cookie session (``web.session``) and
carry a CSRF token in every form and htmx request. No rules and no SQL live here: every
page calls one function of :mod:`idgraph.app` and renders what it returns.
"""
