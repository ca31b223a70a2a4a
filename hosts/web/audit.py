"""/audit/: the audit trail (admins), filtered by action and actor.

Each event's details (a JSON object: hosts/core/audit.py, record) are shown as
key/value pairs in words, never as a Python dict; long ids (digests, volume
names, container ids, UUIDs) are marked so the page shortens them, with the
whole value on hover and a Copy button (static/js/dchweb.js)."""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Paginator
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from hosts.core import audit as audit_trail
from hosts.models import Endpoint
from hosts.web.access import admin_required
from hosts.web.htmx import page_or_fragment
from hosts.web.words import AUDIT_DETAIL_LABELS, cleanup_rule_words

# A page of events stays a few screens tall (each row is a few lines).
AUDIT_PAGE_SIZE = 25
# What reads as an id rather than a word: a digest, a long hex name (an
# anonymous volume, a container), a UUID.
LONG_ID = re.compile(
    r"(?:sha256:)?[0-9a-f]{20,}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@dataclass
class Piece:
    """A run of a value's text: plain words, an id to shorten (`id_name`
    names its element for the Copy button), or a time."""

    text: str = ""
    id_name: str = ""
    time: datetime | None = None


@dataclass
class Pair:
    label: str
    pieces: list = field(default_factory=list)


@dataclass
class EventView:
    event: object
    object_pieces: list
    pairs: list


class _Ids:
    """Hands out the element ids a page's long values are copied from."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.count = 0

    def next(self):
        self.count += 1
        return f"{self.prefix}-{self.count}"


def pieces_of(text: str, ids: _Ids) -> list:
    """`text` cut into plain runs and the long ids inside it."""
    pieces, start = [], 0
    for found in LONG_ID.finditer(text):
        if found.start() > start:
            pieces.append(Piece(text[start : found.start()]))
        pieces.append(Piece(found.group(), id_name=ids.next()))
        start = found.end()
    if start < len(text):
        pieces.append(Piece(text[start:]))
    return pieces


def value_text(key: str, value) -> str:
    """A detail's value in words: yes/no, sizes in bytes as sizes, lists as
    lists, nothing as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and (key == "bytes" or key.endswith("_bytes")):
        return filesizeformat(value)
    if isinstance(value, list | tuple):
        return ", ".join(value_text(key, item) for item in value)
    return str(value)


def label_of(key: str) -> str:
    return AUDIT_DETAIL_LABELS.get(key) or key.replace("_", " ").capitalize()


def pairs_of(details: dict, ids: _Ids, endpoint_names: dict, prefix: str = "") -> list:
    """An event's details as (label, pieces) pairs; a nested object's keys
    under its own label ("Request: owner"); a clean-up rule as a sentence."""
    pairs = []
    for key, value in details.items():
        label = f"{prefix}{label_of(key) if not prefix else label_of(key).lower()}"
        if key == "rule" and isinstance(value, dict):
            pairs.append(
                Pair(label, [Piece(cleanup_rule_words(value, endpoint_names))])
            )
        elif isinstance(value, dict):
            pairs += pairs_of(value, ids, endpoint_names, prefix=f"{label}: ")
        else:
            pairs.append(Pair(label, _value_pieces(key, value, ids)))
    return pairs


def _value_pieces(key, value, ids):
    if isinstance(value, str) and ISO_TIME.match(value):
        try:
            return [Piece(time=datetime.fromisoformat(value))]
        except ValueError:
            pass
    return pieces_of(value_text(key, value), ids)


def _endpoint_names(events) -> dict:
    wanted = {
        rule_endpoint
        for event in events
        if isinstance((event.details or {}).get("rule"), dict)
        for rule_endpoint in [event.details["rule"].get("endpoint_id")]
        if rule_endpoint is not None
    }
    if not wanted:
        return {}
    return dict(Endpoint.objects.filter(pk__in=wanted).values_list("pk", "name"))


def _as_object(details) -> dict:
    if isinstance(details, dict):
        return details
    return {"details": details} if details else {}


def event_views(events) -> list:
    events = list(events)
    names = _endpoint_names(events)
    views = []
    for event in events:
        ids = _Ids(f"audit-{event.pk}")
        views.append(
            EventView(
                event=event,
                object_pieces=pieces_of(event.object_repr, ids),
                pairs=pairs_of(_as_object(event.details), ids, names),
            )
        )
    return views


@require_safe
@admin_required("The audit trail is for admins.")
@vary_on_headers("HX-Request")
def audit(request):
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    events = audit_trail.audit_events(action=action, actor=actor)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": event_views(page.object_list),
        "action": action,
        "actor": actor,
    }
    return page_or_fragment(
        request,
        "hosts/audit/audit.html",
        "hosts/audit/partials/audit_table.html",
        context,
    )
