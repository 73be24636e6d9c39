"""idgraph.audit."""
