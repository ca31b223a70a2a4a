"""`{{ code|in_words:"registry" }}`: a state or reason code in the words of
hosts/web/words.py, for templates that show a code stored on a row."""

from django import template

from hosts.web import words

register = template.Library()

_TABLES = {
    "reason": words.REASON_WORDS,
    "build": words.BUILD_REASON_WORDS,
    "registry": words.REGISTRY_CHECK_WORDS,
    "volume": words.VOLUME_STATUS_WORDS,
}


@register.filter
def in_words(code, table="reason"):
    """The words for `code` in `table` (one of _TABLES); unknown, as it is."""
    return words.words_for(_TABLES[table], code)
