"""Files the pages and the API hand out whole."""

from django.http import HttpResponse


def attachment(data: bytes, filename: str, content_type: str) -> HttpResponse:
    """`data` as a download named `filename` (small files only: it is held in
    memory; a large file is streamed with FileResponse)."""
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
