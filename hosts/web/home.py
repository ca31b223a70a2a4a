"""/ : the signed-in user's build hosts, a build form, their builds, the
space their removed hosts left behind, and endpoint health."""

from django.shortcuts import render
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from hosts.models import Endpoint
from hosts.volumes import budgets, ledger
from hosts.web.contexts import my_build_hosts_context, my_builds_context
from hosts.web.htmx import page_or_fragment, wants_partial
from hosts.web.volumes import notices_context as volume_notices_context

MY_BUILD_HOSTS_TARGET = "my-build-hosts"
# The budget warning polls here from / and from /volumes/ alike.
VOLUME_BUDGET_TARGET = "volume-budget"


@require_safe
@vary_on_headers("HX-Request", "HX-Target")
def home(request):
    """Each panel polls this URL for itself: the HTMX target names the
    fragment it wants (my build hosts, else endpoint health)."""
    if wants_partial(request) and request.htmx.target == MY_BUILD_HOSTS_TARGET:
        context = my_build_hosts_context(request.user)
        return render(request, "hosts/home/partials/my_build_hosts.html", context)
    if wants_partial(request) and request.htmx.target == VOLUME_BUDGET_TARGET:
        context = budgets.standing_with_largest(request.user)
        return render(request, "hosts/volumes/partials/volume_budget.html", context)
    context = {"endpoints": Endpoint.objects.all()}
    if not wants_partial(request):
        context.update(_panels_of(request.user))
    return page_or_fragment(
        request,
        "hosts/home/home.html",
        "hosts/home/partials/endpoint_health.html",
        context,
    )


def _panels_of(user):
    """The whole page's panels besides endpoint health."""
    return {
        **my_build_hosts_context(user),
        **my_builds_context(user),
        "left_behind": ledger.left_behind_by(user),
        **volume_notices_context(user),
        **budgets.standing_with_largest(user),
    }
