"""Downloads the pages and the API both serve, built once."""

from django.http import HttpResponse

from hosts.buildhosts import commands as buildhosts


def tls_bundle_response(host):
    """The owner's TLS bundle as a zip attachment."""
    response = HttpResponse(buildhosts.tls_bundle(host), content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="dchweb-{host.short_id}-tls.zip"'
    )
    return response
