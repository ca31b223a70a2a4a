"""Management commands as the tests call them."""

from io import StringIO

from django.core.management import call_command


def run(command, *args):
    """Run `command`; its stdout and stderr as text."""
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()
