"""idgraph.search."""
