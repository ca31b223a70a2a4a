"""The API's body parser: text no database, certificate or engine can take is
refused as a 400 before any code sees it."""

import json

from ninja.parser import Parser

from hosts.core.errors import Invalid


class JsonParser(Parser):
    """JSON bodies and form fields (query strings: hosts.middleware). Refused:
    a lone surrogate (`"\\udc80"`, valid JSON but not valid Unicode) and a NUL
    character (PostgreSQL text cannot hold one)."""

    def parse_body(self, request):
        data = super().parse_body(request)
        json.dumps(data, ensure_ascii=False).encode()  # UnicodeEncodeError
        refuse_nul(data)
        return data

    def parse_querydict(self, data, list_fields, request):
        parsed = super().parse_querydict(data, list_fields, request)
        # Query strings were checked before any view (hosts.middleware); form
        # fields of a body were not.
        if data is not request.GET:
            refuse_nul(parsed)
        return parsed


def refuse_nul(value, where="the request"):
    """Raise a 400 when a NUL character is in any text of `value` (keys too)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid(
                f"{where} holds a NUL character (\\u0000)", code="bad_request"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, where)
            refuse_nul(item, key if isinstance(key, str) else where)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(item, where)
