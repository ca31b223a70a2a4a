"""The object a page is about, if the signed-in user may see it; else the
404 page (hosts/web/errors.py), as for an object that does not exist."""

from hosts.buildhosts import commands as buildhosts
from hosts.builds import commands as builds
from hosts.deployments import commands as deployments
from hosts.web.errors import as_error_pages


def visible_build_host(user, build_host_id):
    with as_error_pages():
        return buildhosts.get_visible(user, build_host_id)


def host_for_form(user, build_host_id):
    """The build host a build form is for (None: a build host made for the
    build), if the user may build on it."""
    if not build_host_id:
        return None
    return visible_build_host(user, build_host_id)


def visible_build(user, build_id):
    with as_error_pages():
        return builds.get_visible(user, build_id)


def visible_deployment(user, deployment_id):
    with as_error_pages():
        return deployments.get_visible(user, deployment_id)
