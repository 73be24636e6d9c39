"""idgraph.policy."""
