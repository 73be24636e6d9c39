"""The API's routers, one module per domain; all mounted under ``/api/v1``."""
