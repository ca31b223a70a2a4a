"""One sentence for each event people are told of (design.md §4.4), for a
mail's subject and body, a Slack message, and the account page's list.

Plain functions on the plain JSON an event carries (`Notification.object`),
so they never touch the database. The object's usual keys: `name`, `owner`,
`endpoint` (a name), `error` (already in words), `url` (a path to its page);
an emitter may add a `summary` line, used for events not worded below.
A missing key is left out of the sentence rather than shown as "None".
"""

import datetime


def describe(event: str, obj: dict) -> str:
    """One clear sentence saying what happened, e.g. "Build host web-1 is
    ready on vch-1."."""
    wording = _SENTENCES.get(event)
    sentence = wording(obj) if wording else ""
    return sentence or _fallback(event, obj)


def subject(event: str, obj: dict) -> str:
    """A mail's subject line: short, the object first so an inbox sorts well."""
    title = _SUBJECTS.get(event)
    # An image's last part ("app:1.2"): a whole reference is too long for one.
    name = _text(obj.get("name")) or _text(obj.get("tag")).rsplit("/", 1)[-1]
    if not title:
        return f"dchweb: {_fallback(event, obj)}"
    return f"dchweb: {name}: {title}" if name else f"dchweb: {title}"


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _on_endpoint(obj: dict) -> str:
    endpoint = _text(obj.get("endpoint"))
    return f" on {endpoint}" if endpoint else ""


def _because(obj: dict) -> str:
    # The reason ends the sentence: "..., because <words>."
    error = _text(obj.get("error")).rstrip(".")
    return f": {error}" if error else ""


def _when(value) -> str:
    """An ISO time (as the API shows it) in a person's words, in UTC."""
    text = _text(value)
    if not text:
        return ""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _days(value) -> str:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return ""
    if days < 1:
        return "less than a day"
    return "1 day" if days == 1 else f"{days} days"


def _host_ready(obj):
    return f"Build host {_text(obj.get('name'))} is ready{_on_endpoint(obj)}."


def _host_failed(obj):
    return (
        f"Build host {_text(obj.get('name'))} could not be started"
        f"{_on_endpoint(obj)}{_because(obj)}."
    )


def _host_stopped(obj):
    idle = _text(obj.get("idle_minutes"))
    why = f" after {idle} minutes without use" if idle and idle != "0" else ""
    return (
        f"Build host {_text(obj.get('name'))} was stopped{why}{_on_endpoint(obj)}; "
        "resume it from its page to use it again."
    )


def _host_expiring(obj):
    when = _when(obj.get("expires_at") or obj.get("lease_expires_at"))
    at = f" at {when}" if when else " soon"
    return (
        f"Build host {_text(obj.get('name'))}{_on_endpoint(obj)} will be removed{at}; "
        "extend it from its page to keep it."
    )


def _host_removed(obj):
    return f"Build host {_text(obj.get('name'))} was removed{_on_endpoint(obj)}."


def _build_target(obj) -> str:
    tag = _text(obj.get("tag")) or _text(obj.get("image_ref"))
    return f"The build of {tag}" if tag else f"Build {_text(obj.get('id'))}"


def _build_succeeded(obj):
    pushed = _text(obj.get("image_ref"))
    digest = _text(obj.get("digest"))
    tail = f"; pushed as {pushed}" if pushed and digest else ""
    return f"{_build_target(obj)} succeeded{tail}."


def _build_failed(obj):
    return f"{_build_target(obj)} failed{_because(obj)}."


def _certificate_expiring(obj):
    when = _when(obj.get("not_after"))
    days = _days(obj.get("days_left"))
    left = f" in {days}" if days else ""
    at = f" ({when})" if when else ""
    return (
        f"Certificate {_text(obj.get('name'))} expires{left}{at}; "
        "upload a renewed one before then."
    )


def _endpoint_off(obj):
    return (
        f"Endpoint {_text(obj.get('name'))} stopped answering{_because(obj)}; "
        "no new build hosts go there until it is back."
    )


def _endpoint_on(obj):
    return f"Endpoint {_text(obj.get('name'))} answers again."


def _trust_lost(obj):
    registry = _text(obj.get("registry")) or _text(obj.get("name"))
    return (
        f"Endpoint {_text(obj.get('endpoint'))} can no longer reach registry "
        f"{registry}{_because(obj)}."
    )


def _over_budget(obj):
    return _text(obj.get("summary")) or (
        f"Volumes of {_text(obj.get('owner'))} take more space than allowed"
        f"{_on_endpoint(obj)}."
    )


def _cleanup_notice(obj):
    count = _text(obj.get("volume_count"))
    what = f"{count} of your volumes" if count else "Some of your volumes"
    when = _when(obj.get("notice_ends_at"))
    at = f" after {when}" if when else ""
    return _text(obj.get("summary")) or (
        f"{what} will be cleaned up{at} unless you keep them; "
        "answer on the volumes page."
    )


_SENTENCES = {
    "build_host.ready": _host_ready,
    "build_host.failed": _host_failed,
    "build_host.stopped": _host_stopped,
    "build_host.expiring": _host_expiring,
    "build_host.removed": _host_removed,
    "build.succeeded": _build_succeeded,
    "build.failed": _build_failed,
    "certificate.expiring": _certificate_expiring,
    "endpoint.off": _endpoint_off,
    "endpoint.on": _endpoint_on,
    "registry.trust_lost": _trust_lost,
    "volumes.over_budget": _over_budget,
    "cleanup.notice": _cleanup_notice,
}

_SUBJECTS = {
    "build_host.ready": "build host ready",
    "build_host.failed": "build host failed",
    "build_host.stopped": "build host stopped",
    "build_host.expiring": "build host expires soon",
    "build_host.removed": "build host removed",
    "build.succeeded": "build succeeded",
    "build.failed": "build failed",
    "certificate.expiring": "certificate expires soon",
    "endpoint.off": "endpoint off",
    "endpoint.on": "endpoint back on",
    "registry.trust_lost": "registry unreachable from an endpoint",
    "volumes.over_budget": "volumes over budget",
    "cleanup.notice": "volumes planned for clean-up",
}


def _fallback(event: str, obj: dict) -> str:
    summary = _text(obj.get("summary"))
    if summary:
        return summary
    name = _text(obj.get("name"))
    return f"{event} ({name})" if name else event
