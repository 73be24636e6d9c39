"""idgraph.cases."""
