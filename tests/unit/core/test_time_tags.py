"""{% when %} (hosts/templatetags/time_tags.py): a <time> whose text, until
static/js/times.js rewrites it in the viewer's zone, names its zone (UTC),
and an expiry in words as the script words it too."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template, TemplateSyntaxError

from hosts.templatetags.time_tags import relative_words

NOW = datetime(2026, 12, 2, 7, 10, 42, tzinfo=UTC)


def render(text, **context):
    return Template("{% load time_tags %}" + text).render(Context(context))


def test_a_time_is_shown_in_utc_whatever_zone_it_is_in():
    berlin = NOW.astimezone(ZoneInfo("Europe/Berlin"))

    html = render("{% when value %}", value=berlin)

    assert html == (
        '<time datetime="2026-12-02T07:10:42Z" data-when="minutes" '
        'title="2026-12-02 07:10 UTC">2026-12-02 07:10 UTC</time>'
    )


def test_seconds_date_and_nothing():
    assert ">2026-12-02 07:10:42 UTC<" in render('{% when v "seconds" %}', v=NOW)
    assert ">2026-12-02<" in render('{% when v "date" %}', v=NOW)
    assert render("{% when v %}", v=None) == ""
    with pytest.raises(TemplateSyntaxError):
        render('{% when v "fortnight" %}', v=NOW)


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(hours=7, minutes=55, seconds=30), "in 7 h 55 min"),
        (timedelta(hours=2), "in 2 h"),
        (timedelta(minutes=3, seconds=59), "in 3 min"),
        (timedelta(days=2, hours=4, minutes=5), "in 2 d 4 h"),
        (timedelta(seconds=20), "now"),
        (-timedelta(minutes=5), "5 min ago"),
    ],
)
def test_relative_words(delta, words):
    assert relative_words(NOW + delta, now=NOW) == words
