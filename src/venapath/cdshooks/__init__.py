"""CDS Hooks 2.0.1 service: discovery, patient-view, order-select, order-sign, feedback."""
