"""/endpoints/: the endpoint table (it polls itself); admins register
endpoints and probe, disable or enable them."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from hosts.buildhosts import pool
from hosts.core.permissions import is_admin
from hosts.endpoints import commands as endpoint_service
from hosts.models import Endpoint
from hosts.web.access import admin_required
from hosts.web.deletion import Deletion, already_gone, confirm_or_delete
from hosts.web.forms import EndpointForm
from hosts.web.htmx import page_or_fragment, wants_partial
from hosts.web.submissions import create_from_post, submit

ENDPOINT_ACTIONS = ("probe", "disable", "enable")


def _endpoint_rows():
    """The endpoints, each with its free pool hosts ready now (admins see
    the pool's state)."""
    return list(
        pool.with_ready_counts(
            Endpoint.objects.select_related("ca_certificate", "client_certificate")
        )
    )


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may register endpoints.", methods=("POST",))
@vary_on_headers("HX-Request")
def endpoints(request):
    """The endpoint table (it polls itself); admins also get the create form.
    A rejected create is a 400 that shows the form again with the reason."""
    if request.method != "POST":
        context = {
            "endpoints": _endpoint_rows(),
            "form": EndpointForm() if is_admin(request.user) else None,
        }
        return page_or_fragment(
            request,
            "hosts/endpoints/endpoints.html",
            "hosts/endpoints/partials/endpoint_table.html",
            context,
        )
    form, status, response = create_from_post(
        request,
        EndpointForm,
        lambda form: endpoint_service.create_endpoint(
            request.user, form.cleaned_data, request=request
        ),
        # Said in words that stay true: the row shows the probe, live.
        success=lambda endpoint: (
            f"Endpoint “{endpoint.name}” added: its row shows what the probe finds."
        ),
        page="endpoints",
    )
    if response is not None:
        return response
    context = {"endpoints": _endpoint_rows(), "form": form, "oob_table": True}
    return page_or_fragment(
        request,
        "hosts/endpoints/endpoints.html",
        "hosts/endpoints/partials/endpoint_create.html",
        context,
        status=status,
    )


@require_POST
@admin_required("Only admins may probe, disable or enable endpoints.")
def endpoint_action(request, endpoint_id, action):
    """Probe now / Disable / Enable (admins): answers the table fragment."""
    if action not in ENDPOINT_ACTIONS:
        raise Http404("no such endpoint action")
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    if action == "probe":
        _probe(request, endpoint)
    else:
        endpoint_service.set_endpoint_disabled(
            request.user, endpoint, action == "disable", request=request
        )
        messages.success(request, f"Endpoint “{endpoint.name}” {action}d.")
    if wants_partial(request):
        return render(
            request,
            "hosts/endpoints/partials/endpoint_table.html",
            {"endpoints": _endpoint_rows()},
        )
    return redirect("endpoints")


# --- Edit and delete (admins) -------------------------------------------------------


def _initial_of(endpoint) -> dict:
    """The endpoint's settings as the form's initial values."""
    return {name: getattr(endpoint, name) for name in endpoint_service.SETTINGS}


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may change endpoints.")
def endpoint_edit(request, endpoint_id):
    """The endpoint's settings in the form, as registering asks them; saved
    through the same checks as the API's change of an endpoint, then it is
    probed again. A refusal is a 400 with the reason beside the field."""
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    status = 200
    if request.method == "POST":
        form = EndpointForm(request.POST)
        saved, status = submit(
            form,
            lambda form: endpoint_service.update_endpoint(
                request.user, endpoint, form.cleaned_data, request=request
            ),
        )
        if saved is not None:
            messages.success(request, f"Endpoint “{saved.name}” saved.")
            return redirect("endpoints")
        # Every refusal of this form is the input's: a 400, a taken name too.
        status = 400
    else:
        form = EndpointForm(initial=_initial_of(endpoint))
    context = {"endpoint": endpoint, "form": form}
    return render(request, "hosts/endpoints/endpoint_edit.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may delete endpoints.")
def endpoint_delete(request, endpoint_id):
    """Asks first; refused, with what still uses it, while anything does."""
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        if request.method == "POST":
            return already_gone(request, "endpoints")
        raise Http404("No such endpoint.")
    deletion = Deletion(
        title=f"endpoint “{endpoint.name}”",
        back="endpoints",
        delete=lambda: endpoint_service.delete_endpoint(
            request.user, endpoint, request=request
        ),
        blockers=endpoint_service.uses_of(endpoint),
        goes_with_it="dchweb forgets the engine at "
        f"{endpoint.docker_url} and what it recorded of its volumes; "
        "the engine itself is not touched.",
        advice="To stop new build hosts on it, disable it instead.",
    )
    return confirm_or_delete(request, deletion)


def _probe(request, endpoint):
    if endpoint_service.request_probe(request.user, endpoint, request=request):
        messages.info(
            request, f"Probe of “{endpoint.name}” asked for: its row shows the answer."
        )
    else:
        messages.error(
            request, f"“{endpoint.name}” is disabled: enable it to probe it."
        )
