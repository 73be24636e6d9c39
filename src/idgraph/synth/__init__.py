"""idgraph.synth."""
