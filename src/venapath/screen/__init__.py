"""Population screening: the knowledge base's rules over a FHIR Bulk Data export, on DuckDB or Spark."""
