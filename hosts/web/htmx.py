"""HTMX conventions: fragment or page, and where to go after a POST, each
decided in one place."""

from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect


def wants_partial(request) -> bool:
    """An HTMX request that swaps a fragment. Boosted links and forms swap
    the whole body, so they get the full page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def page_or_fragment(request, page, fragment, context, status=200):
    """The fragment for an HTMX swap, else the whole page."""
    template = fragment if wants_partial(request) else page
    return render(request, template, context, status=status)


def open_page(request, url):
    """Go to `url`: HTMX is told to load it as a whole page, as a plain
    form post is redirected."""
    if wants_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)
