"""The command line: `venapath evaluate`, `score`, `kb`, `schema`, `facts`."""
