"""The files a screen run leaves in its output folder.

Kept apart from `pipeline` so that the web page showing the last screen reads these names
without importing the pipeline and its query engines (ibis, sqlglot) at every service start.
"""

from __future__ import annotations

PATIENTS_FILE = "patients.parquet"
SUMMARY_FILE = "summary.json"
