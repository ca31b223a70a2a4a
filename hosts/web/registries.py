"""/registries/: the registry table and the trust matrix; admins add
registries, check one now, and recheck the trust matrix in the worker."""

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from kombu.exceptions import OperationalError

from hosts.core.permissions import is_admin
from hosts.models import Registry
from hosts.registries import commands as registry_service
from hosts.registries import tasks
from hosts.web.access import admin_required
from hosts.web.deletion import Deletion, already_gone, confirm_or_delete
from hosts.web.forms import RegistryForm
from hosts.web.htmx import wants_partial
from hosts.web.submissions import create_from_post

# A recheck's fragment polls until the matrix is newer than the request, and
# gives up after this: a lost task must not poll forever.
TRUST_GIVE_UP_SECONDS = 120
QUEUE_DOWN = "The task queue does not answer: is Redis up? Try again later."


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may add registries.", methods=("POST",))
@vary_on_headers("HX-Request")
def registries(request):
    """The registry table and trust matrix; admins also get the create form.
    A rejected create is a 400 that shows the form again with the reason."""
    form = RegistryForm() if is_admin(request.user) else None
    status = 200
    if request.method == "POST":
        form, status, response = create_from_post(
            request,
            RegistryForm,
            lambda form: registry_service.create_registry(
                request.user, **form.cleaned_data, request=request
            ),
            success=lambda registry: f"Registry “{registry.name}” added.",
            page="registries",
        )
        if response is not None:
            return response
    context = {"registries": registry_service.registry_rows(), "form": form}
    if wants_partial(request):
        return render(
            request,
            "hosts/registries/partials/registry_panel.html",
            context,
            status=status,
        )
    context["matrix"] = registry_service.trust_matrix()
    return render(request, "hosts/registries/registries.html", context, status=status)


@require_POST
@admin_required("Only admins may check registries.")
def registry_check(request, registry_id):
    """Admins: check one registry now; answers with its table row."""
    if not Registry.objects.filter(pk=registry_id).exists():
        raise Http404("No such registry.")
    registry = registry_service.check_registry(
        registry_id, request.user, source=None, request=request
    )
    registry.ca = registry_service.ca_expiry(registry)
    return render(
        request, "hosts/registries/partials/registry_row.html", {"registry": registry}
    )


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may delete registries.")
def registry_delete(request, registry_id):
    """Asks first; refused, with what still uses it, while build hosts,
    builds or deployments do."""
    registry = Registry.objects.filter(pk=registry_id).first()
    if registry is None:
        if request.method == "POST":
            return already_gone(request, "registries")
        raise Http404("No such registry.")
    deletion = Deletion(
        title=f"registry “{registry.name}”",
        back="registries",
        delete=lambda: registry_service.delete_registry(
            request.user, registry, request=request
        ),
        blockers=registry_service.uses_of(registry),
        goes_with_it="dchweb forgets its address, login and CA; the registry and "
        "its images are not touched.",
    )
    return confirm_or_delete(request, deletion)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may recheck registry trust.", methods=("POST",))
def registry_trust(request):
    """The trust matrix fragment. POST (admins) queues a recheck in the worker;
    the fragment then polls until every cell is newer than the request."""
    error = ""
    if request.method == "POST":
        pending_since = timezone.now().timestamp()
        try:
            tasks.check_registry_trust.delay()
        except OperationalError:
            pending_since = None
            error = QUEUE_DOWN
    else:
        pending_since = _float_or_none(request.GET.get("since"))
    matrix = registry_service.trust_matrix()
    # The POST's own answer always shows the recheck as queued, even when a
    # quick worker has already finished: the first poll shows the result.
    still_pending = request.method != "POST" and pending_since is not None
    if still_pending and _trust_done(matrix, pending_since):
        pending_since = None
    context = {"matrix": matrix, "pending_since": pending_since, "error": error}
    return render(request, "hosts/registries/partials/registry_trust.html", context)


def _float_or_none(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _trust_done(matrix, since):
    if timezone.now().timestamp() - since > TRUST_GIVE_UP_SECONDS:
        return True
    return matrix.checked_at is not None and matrix.checked_at.timestamp() >= since
