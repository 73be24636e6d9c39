"""idgraph.monitor."""
