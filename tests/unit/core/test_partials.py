"""A partial is found by its element: the root element of a partial whose id
is fixed carries the file's name (`build_host_status.html` → `#build-host-
status`), so an hx-target or an out-of-band swap names the file it needs."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
# Template comments, tags and whitespace before the root element.
_PREAMBLE = re.compile(
    r"(\s|\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\})*", re.S
)
_ROOT = re.compile(r"<([a-z][a-z0-9]*)\b[^>]*?\bid=\"([^\"]*)\"", re.S)


def _partials():
    return sorted(TEMPLATES.glob("**/partials/*.html"))


def _root_id(path):
    """The root element's id, when the partial starts with an element that
    has one (None for a fragment of text, a row set or a conditional)."""
    text = path.read_text()
    start = _PREAMBLE.match(text).end()
    found = _ROOT.match(text, start)
    return found.group(2) if found else None


def test_the_suite_sees_the_partials():
    assert len(_partials()) >= 30


def test_a_fixed_root_id_is_the_file_name():
    wrong = {
        path.relative_to(TEMPLATES).as_posix(): root_id
        for path in _partials()
        if (root_id := _root_id(path))
        and "{" not in root_id  # per-row ids (`registry-{{ pk }}`) name rows
        and root_id != path.stem.replace("_", "-")
    }
    assert wrong == {}


def test_the_rule_can_fail(tmp_path):
    partial = tmp_path / "partials" / "some_panel.html"
    partial.parent.mkdir()
    partial.write_text('{# a comment #}\n<div id="other-panel">x</div>')
    assert _root_id(partial) == "other-panel"
