"""The knowledge base: versioned rules, sources, pathways and time windows, loaded strictly."""
