"""Times as the pages show them: `{% when value %}` renders a <time> element
whose text, until static/js/times.js rewrites it in the viewer's own time
zone, is the time in UTC with the zone named, so no page ever shows a time
without saying which zone it is in.

    {% when host.created_at %}             2026-12-02 07:10 UTC
    {% when build.created_at "seconds" %}  2026-12-02 07:10:42 UTC
    {% when certificate.not_after "date" %} 2026-12-02
    {% when host.expires_at "relative" %}  in 7 h 55 min (the time itself on hover)
"""

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

STYLES = {
    "minutes": "%Y-%m-%d %H:%M UTC",
    "seconds": "%Y-%m-%d %H:%M:%S UTC",
    "date": "%Y-%m-%d",
    "relative": "%Y-%m-%d %H:%M UTC",
}
MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@register.simple_tag
def when(value, style="minutes"):
    """A <time> for `value` (an aware datetime; None renders nothing).
    static/js/times.js reads data-when to know how to rewrite it."""
    if not isinstance(value, datetime):
        return ""
    if style not in STYLES:
        raise template.TemplateSyntaxError(f"no time style {style!r}")
    utc = value.astimezone(UTC)
    absolute = utc.strftime(STYLES[style])
    text = relative_words(value) if style == "relative" else absolute
    return format_html(
        '<time datetime="{}" data-when="{}" title="{}">{}</time>',
        utc.isoformat(timespec="seconds").replace("+00:00", "Z"),
        style,
        absolute,
        text,
    )


def relative_words(value, now=None) -> str:
    """ "in 7 h 55 min", "3 min ago", "in 2 d 4 h", "now": the two largest
    units, as static/js/times.js words it too."""
    now = now or timezone.now()
    seconds = int((value - now).total_seconds())
    span = _span_words(abs(seconds))
    if span is None:
        return "now"
    return f"in {span}" if seconds > 0 else f"{span} ago"


def _span_words(seconds: int) -> str | None:
    if seconds < MINUTE:
        return None
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes = rest // MINUTE
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
