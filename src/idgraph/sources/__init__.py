"""idgraph.sources."""
