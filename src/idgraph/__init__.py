"""idgraph: open, accountable identity resolution."""

__version__ = "0.1.0"
