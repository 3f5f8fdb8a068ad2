"""The HTTP service: REST API under /api/v1, CDS Hooks under /cds-services, health probes."""
