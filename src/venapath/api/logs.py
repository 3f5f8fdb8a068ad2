"""Structured (JSON lines) logging for the server, configured once at start-up."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = safe_traceback(record.exc_info)
        return json.dumps(entry, default=str)


def safe_traceback(exc_info: Any) -> str:
    """Where an exception was raised and its type, chained causes included, without the
    exceptions' own text: a database error's text quotes the values it refused (patient
    identifiers, free-text notes), so it never reaches the log."""
    _, error, _ = exc_info
    lines: list[str] = []
    seen: set[int] = set()
    while isinstance(error, BaseException) and id(error) not in seen:
        seen.add(id(error))
        frames = traceback.extract_tb(error.__traceback__)[-8:]
        lines += [f"  {f.filename}:{f.lineno} in {f.name}" for f in frames]
        lines.append(f"{type(error).__module__}.{type(error).__qualname__}")
        error = error.__cause__ or error.__context__
        if error is not None:
            lines.append("caused by:")
    return "\n".join(lines)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # it logs query strings; ours does not
    logging.getLogger("httpx").setLevel(logging.WARNING)
