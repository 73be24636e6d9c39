"""idgraph.link."""
