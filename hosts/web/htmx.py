"""HTMX conventions: one rule for fragment-or-page, in one place."""


def wants_partial(request) -> bool:
    """An HTMX request that swaps a fragment. Boosted links and forms swap
    the whole body, so they get the full page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted
