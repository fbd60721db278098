"""Built-in node packs, one module per domain. Discovered through the
`reelgraph.nodes` entry point like any other pack."""
