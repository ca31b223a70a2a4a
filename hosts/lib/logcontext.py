"""Structured logs: the build host, build or plan a task works on is in
every line it logs (`build_host=… build=…`), or a JSON field with
DCHWEB_LOG_FORMAT=json, so one grep finds a host's whole story across
workers."""

import contextlib
import contextvars
import json
import logging

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "dchweb_log_context", default=None
)


@contextlib.contextmanager
def bound(**values):
    """Add `values` to every log line within the block."""
    current = _context.get() or {}
    token = _context.set({**current, **{k: str(v) for k, v in values.items()}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the bound values on each record: `record.context` as text."""

    def filter(self, record):
        values = _context.get() or {}
        record.context_values = values
        record.context = " ".join(f"{key}={value}" for key, value in values.items())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "context_values", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)
