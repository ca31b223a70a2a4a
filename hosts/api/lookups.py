"""Finding the row an operation's path names."""

from hosts.core.errors import NotFound


def get_or_404(model, pk, message: str):
    """The `model` row with primary key `pk`; NotFound (404) with `message`
    when there is none."""
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(message)
    return found
