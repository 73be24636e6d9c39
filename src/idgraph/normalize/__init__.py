"""idgraph.normalize."""
