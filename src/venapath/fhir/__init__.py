"""FHIR R4 in and out: resources to the case model, assessments to GuidanceResponse."""
