"""Population screening: the knowledge base's rules over a FHIR Bulk export (DuckDB or Spark)."""
