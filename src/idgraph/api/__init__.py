"""The REST API shell: FastAPI routes over ``idgraph.app`` (see docs/api.md)."""
