"""Log lines carry the id of what a task works on, as text or as JSON."""

import json
import logging

from hosts.lib import logcontext


def _record(message="hello"):
    record = logging.LogRecord("hosts.x", logging.INFO, __file__, 1, message, (), None)
    logcontext.ContextFilter().filter(record)
    return record


def test_bound_values_are_on_every_record_and_gone_after():
    with logcontext.bound(build_host="abc"), logcontext.bound(build="def"):
        inside = _record()
    outside = _record()

    assert inside.context == "build_host=abc build=def"
    assert outside.context == ""


def test_json_lines_have_the_ids_as_fields():
    with logcontext.bound(build="b1"):
        line = json.loads(logcontext.JsonFormatter().format(_record("built")))

    assert line["build"] == "b1"
    assert line["message"] == "built" and line["level"] == "INFO"
