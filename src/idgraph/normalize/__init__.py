"""idgraph.normalize: one pure, idempotent cleaner module per value type."""

from idgraph.normalize import addresses, dates, identifiers, names, phones
from idgraph.normalize.base import InvalidValue, fold

__all__ = ["InvalidValue", "addresses", "dates", "fold", "identifiers", "names", "phones"]
