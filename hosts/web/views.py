"""Pages and operational endpoints. Views do HTTP only: read the request,
call one service or query, render. A page answers an HTMX request with the
fragment it swaps (hosts/web/htmx.py: wants_partial)."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect
from kombu.exceptions import OperationalError

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import provisioning
from hosts.certificates import commands as certificate_service
from hosts.core import audit as audit_trail
from hosts.core import pki, tokens
from hosts.core.permissions import is_admin
from hosts.endpoints import commands as endpoint_service
from hosts.models import BuildHost, CertificateAuthority, Endpoint, Registry
from hosts.ops import health
from hosts.ops.metrics import exposition
from hosts.registries import commands as registry_service
from hosts.registries import tasks
from hosts.web import downloads
from hosts.web.forms import (
    BuildHostForm,
    CertificateUploadForm,
    EndpointForm,
    RegistryForm,
)
from hosts.web.htmx import wants_partial

AUDIT_PAGE_SIZE = 50


def _page_or_fragment(request, page, fragment, context):
    template = fragment if wants_partial(request) else page
    return render(request, template, context)


# / ---------------------------------------------------------------------------


@require_safe
@vary_on_headers("HX-Request", "HX-Target")
def home(request):
    """My build hosts and endpoint health. Each panel polls this URL for
    itself: the HTMX target names the fragment it wants."""
    if wants_partial(request) and request.htmx.target == "my-build-hosts":
        context = _my_build_hosts_context(request.user)
        return render(request, "hosts/partials/my_build_hosts.html", context)
    context = {"endpoints": Endpoint.objects.all()}
    if not wants_partial(request):
        context.update(_my_build_hosts_context(request.user))
    return _page_or_fragment(
        request, "hosts/home.html", "hosts/partials/endpoint_health.html", context
    )


def _my_build_hosts_context(user):
    hosts = _with_expiry(
        BuildHost.objects.filter(
            owner=user, state__in=BuildHost.ACTIVE_STATES
        ).select_related("endpoint")
    )
    return {
        "my_hosts": hosts,
        "my_polling": any(not host.is_settled for host in hosts),
    }


# /build-hosts/ ----------------------------------------------------------------

BUILD_HOST_LIST_SIZE = 100

# The timeline in words: each provisioning step, and the removal's.
STEP_LABELS = {
    "pull_image": "Pull the build-host image",
    "create_volumes": "Create the data and certs volumes",
    "create_container": "Create the container",
    "inject_certs": "Put the certificates in",
    "start": "Start it with mutual TLS",
    "wait_ready": "Wait until its API answers",
    "verify_registry": "Log in to the registries",
    "rollback": "Clean up after the failure",
    "remove_container": "Remove the container",
    "remove_volumes": "Remove the volumes",
}

# Failure reasons (hosts/engine/, hosts/buildhosts/provisioning.py, hosts/lib/failures.py,
# the reconciler) in plain words; an unknown one is shown as it is.
REASON_WORDS = {
    "image_not_found": "the image is not in the registry",
    "login_refused": "the registry refused the login",
    "unauthorized": "the registry refused the login",
    "unknown_authority": "a certificate is signed by a CA that is not trusted",
    "hostname_mismatch": "a certificate does not name the address it was reached at",
    "client_certificate_missing": "the engine wants a client certificate",
    "client_certificate_rejected": "the engine refused dchweb's client certificate",
    "tls_not_served": "TLS was expected but the other side does not speak it",
    "tls_required": "the other side speaks only TLS",
    "tls": "the TLS handshake failed",
    "connection_refused": "nothing answers at that address",
    "connection_reset": "the connection was cut",
    "unknown_host": "the host name does not resolve",
    "timeout": "no answer in time",
    "unreachable": "the endpoint does not answer",
    "out_of_disk": "the endpoint is out of disk space",
    "conflict": "a name is already taken on the engine",
    "not_found": "the engine did not find it",
    "no_port": "the engine published no port for the host's API",
    "host_exited": "the build host stopped right after it started",
    "not_ready": "the build host's API did not answer in time",
    "missing": "the container vanished from the engine",
    "adopted": "dchweb lost its record of this host and found it again",
    "internal": "dchweb itself failed at this step",
}

_EXTENDABLE_STATES = (
    BuildHost.State.REQUESTED,
    BuildHost.State.PROVISIONING,
    BuildHost.State.READY,
    BuildHost.State.BUSY,
)
_REMOVABLE_STATES = (
    BuildHost.State.REQUESTED,
    BuildHost.State.PROVISIONING,
    BuildHost.State.READY,
    BuildHost.State.BUSY,
    BuildHost.State.FAILED,
)


def _with_expiry(hosts):
    """The hosts as a list, each marked when it expires soon."""
    hosts = list(hosts)
    now = timezone.now()
    for host in hosts:
        host.expiring = buildhosts.expires_soon(host, now)
    return hosts


def _build_host_rows(user):
    return _with_expiry(buildhosts.visible_to(user)[:BUILD_HOST_LIST_SIZE])


def _build_host_list_context(request, form):
    hosts = _build_host_rows(request.user)
    return {
        "hosts": hosts,
        "polling": any(not host.is_settled for host in hosts),
        "show_owner": is_admin(request.user),
        "list_size": BUILD_HOST_LIST_SIZE,
        "form": form,
    }


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def build_hosts(request):
    """Your build hosts (admins: everyone's) and the "New build host" form.
    The table polls itself while a host in it is changing. A created host
    opens its own page; a refused request shows the form again with the
    reason (400 for bad input, 409 for a cap or a conflict)."""
    if request.method != "POST":
        context = _build_host_list_context(request, BuildHostForm())
        return _page_or_fragment(
            request,
            "hosts/build_hosts.html",
            "hosts/partials/build_host_table.html",
            context,
        )
    form = BuildHostForm(request.POST)
    host, status = _create_build_host(request, form)
    if host is not None:
        messages.success(request, f"Build host “{host.name}” requested.")
        url = reverse("build_host", args=[host.pk])
        if wants_partial(request):
            return HttpResponseClientRedirect(url)
        return redirect(url)
    if wants_partial(request):
        return render(
            request,
            "hosts/partials/build_host_form.html",
            {"form": form},
            status=status,
        )
    context = _build_host_list_context(request, form)
    return render(request, "hosts/build_hosts.html", context, status=status)


def _create_build_host(request, form):
    """(the new host, None) or (None, the status that says why not)."""
    if not form.is_valid():
        return None, 400
    try:
        host, _ = buildhosts.create_build_host(
            request.user, form.service_data(), request=request
        )
    except buildhosts.BuildHostInvalid as error:
        form.add_service_error(error.field, error.message)
        return None, 400
    except buildhosts.BuildHostConflict as error:
        form.add_error(None, error.message)
        return None, 409
    return host, None


def _visible_build_host(request, build_host_id):
    try:
        return buildhosts.get_visible(request.user, build_host_id)
    except buildhosts.BuildHostNotFound:
        raise Http404("No such build host.") from None


def _timeline(host):
    """One row per provisioning step (its latest attempt, or pending), then
    the steps outside the seven (rollback, removal) as they happened."""
    steps = list(host.steps.all())
    latest = {}
    for step in steps:
        latest[step.name] = step
    rows = []
    for name in provisioning.STEPS:
        step = latest.get(name)
        rows.append(_timeline_row(name, step))
    for step in steps:
        if step.name not in provisioning.STEPS:
            rows.append(_timeline_row(step.name, step))
    return rows


def _timeline_row(name, step):
    row = {"name": name, "label": STEP_LABELS.get(name, name), "step": step}
    row["status"] = step.status if step else "pending"
    if step and step.reason:
        row["reason_words"] = REASON_WORDS.get(step.reason, step.reason)
    return row


def _build_host_context(host):
    failed_step = None
    if host.state == BuildHost.State.FAILED:
        failed_step = (
            host.steps.filter(status="failed")
            .exclude(name="rollback")
            .order_by("-started_at", "-id")
            .first()
        )
    reason = host.error_reason
    return {
        "host": host,
        "timeline": _timeline(host),
        "failed_step": failed_step,
        "failed_step_label": STEP_LABELS.get(
            failed_step.name if failed_step else host.step, host.step
        ),
        "reason_words": REASON_WORDS.get(reason, reason) if reason else "",
        "expiring": buildhosts.expires_soon(host),
        "can_extend": host.state in _EXTENDABLE_STATES,
        "can_remove": host.state in _REMOVABLE_STATES,
        "connectable": host.state in (BuildHost.State.READY, BuildHost.State.BUSY)
        and bool(host.docker_host),
        "has_bundle": bool(host.owner_cert_pem),
    }


@require_safe
@vary_on_headers("HX-Request")
def build_host(request, build_host_id):
    """One build host: its state and step timeline (polled every second
    until it settles), how to connect, extend and remove."""
    host = _visible_build_host(request, build_host_id)
    return _page_or_fragment(
        request,
        "hosts/build_host.html",
        "hosts/partials/build_host_status.html",
        _build_host_context(host),
    )


def _build_host_changed(request, host, status=200):
    """After extend or remove: the status fragment, or back to the page."""
    if not wants_partial(request):
        return redirect("build_host", host.pk)
    host = _visible_build_host(request, host.pk)
    return render(
        request,
        "hosts/partials/build_host_status.html",
        _build_host_context(host),
        status=status,
    )


@require_POST
def build_host_extend(request, build_host_id):
    """Another hour for the host."""
    host = _visible_build_host(request, build_host_id)
    try:
        host = buildhosts.extend(request.user, host, 60, request=request)
    except buildhosts.BuildHostConflict as error:
        messages.error(request, f"Not extended: {error.message}.")
    else:
        local = timezone.localtime(host.expires_at)
        messages.success(request, f"Extended: it now expires {local:%Y-%m-%d %H:%M}.")
    return _build_host_changed(request, host)


@require_POST
def build_host_remove(request, build_host_id):
    """Remove the host, deleting or keeping its volumes. Asking again for a
    host already on its way out changes nothing."""
    host = _visible_build_host(request, build_host_id)
    volumes = request.POST.get("volumes") or None
    try:
        was = host.state
        host = buildhosts.request_removal(request.user, host, volumes, request=request)
    except buildhosts.BuildHostInvalid as error:
        messages.error(request, f"Not removed: {error.message}.")
        return _build_host_changed(request, host, status=400)
    if was in (BuildHost.State.REMOVING, BuildHost.State.REMOVED):
        messages.info(request, f"“{host.name}” is already {was}.")
    else:
        kept = "deleting" if host.remove_volumes else "keeping"
        messages.success(request, f"Removing “{host.name}”, {kept} its volumes.")
    return _build_host_changed(request, host)


@require_safe
def build_host_tls_bundle(request, build_host_id):
    """The owner's TLS bundle as a zip download (owner and admins only)."""
    host = _visible_build_host(request, build_host_id)
    try:
        return downloads.tls_bundle_response(host)
    except buildhosts.BuildHostConflict as error:
        return render(
            request,
            "hosts/build_host_no_bundle.html",
            {"host": host, "message": error.message},
            status=409,
        )


def _submit_create_form(request, form_class, create, *, refusal, success, page):
    """An admin's POST of a create form: (form to show, status, response).

    On success the form comes back blank with a message, or a plain (non-HTMX)
    post is redirected to `page`; on a rejection it comes back with the reason
    and a 400.
    """
    if not is_admin(request.user):
        raise PermissionDenied(refusal)
    form = form_class(request.POST)
    created = create(request, form)
    if created is None:
        return form, 400, None
    messages.success(request, success(created))
    if not wants_partial(request):
        return form, 200, redirect(page)
    return form_class(), 200, None


# /endpoints/ ------------------------------------------------------------------


def _endpoint_rows():
    return Endpoint.objects.select_related("ca_certificate", "client_certificate")


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def endpoints(request):
    """The endpoint table (it polls itself); admins also get the create form.
    A rejected create is a 400 that shows the form again with the reason."""
    admin = is_admin(request.user)
    if request.method != "POST":
        context = {
            "endpoints": _endpoint_rows(),
            "form": EndpointForm() if admin else None,
        }
        return _page_or_fragment(
            request,
            "hosts/endpoints.html",
            "hosts/partials/endpoint_table.html",
            context,
        )
    form, status, response = _submit_create_form(
        request,
        EndpointForm,
        _create_endpoint,
        refusal="Only admins may register endpoints.",
        success=lambda endpoint: f"Endpoint “{endpoint.name}” added; probing it now.",
        page="endpoints",
    )
    if response is not None:
        return response
    context = {"endpoints": _endpoint_rows(), "form": form, "oob_table": True}
    template = (
        "hosts/partials/endpoint_form.html"
        if wants_partial(request)
        else "hosts/endpoints.html"
    )
    return render(request, template, context, status=status)


# The form's fields are the service's, bar the certificates (rows, not ids).
_ENDPOINT_FORM_FIELDS = {
    "ca_certificate_id": "ca_certificate",
    "client_certificate_id": "client_certificate",
}


def _create_endpoint(request, form):
    if not form.is_valid():
        return None
    try:
        return endpoint_service.create_endpoint(
            request.user, form.cleaned_data, request=request
        )
    except endpoint_service.EndpointInvalid as error:
        field = _ENDPOINT_FORM_FIELDS.get(error.field, error.field)
        form.add_error(field if field in form.fields else None, error.message)
    except endpoint_service.CertificateNotFound as error:
        form.add_error(_ENDPOINT_FORM_FIELDS.get(error.field, error.field), str(error))
    except endpoint_service.EndpointNameTaken as error:
        form.add_error("name", str(error))
    return None


@require_POST
def endpoint_action(request, endpoint_id, action):
    """Probe now / Disable / Enable (admins): answers the table fragment."""
    if not is_admin(request.user):
        raise PermissionDenied("Only admins may probe, disable or enable endpoints.")
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    if action == "probe":
        if endpoint_service.request_probe(request.user, endpoint, request=request):
            messages.info(request, f"Probing “{endpoint.name}”…")
        else:
            messages.error(
                request, f"“{endpoint.name}” is disabled: enable it to probe it."
            )
    elif action in ("disable", "enable"):
        endpoint_service.set_endpoint_disabled(
            request.user, endpoint, action == "disable", request=request
        )
        messages.success(request, f"Endpoint “{endpoint.name}” {action}d.")
    else:
        raise Http404("no such endpoint action")
    if wants_partial(request):
        return render(
            request,
            "hosts/partials/endpoint_table.html",
            {"endpoints": _endpoint_rows()},
        )
    return redirect("endpoints")


# /registries/ -----------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def registries(request):
    """The registry table and trust matrix; admins also get the create form.
    A rejected create is a 400 that shows the form again with the reason."""
    admin = is_admin(request.user)
    form = RegistryForm() if admin else None
    status = 200
    if request.method == "POST":
        form, status, response = _submit_create_form(
            request,
            RegistryForm,
            _create_registry,
            refusal="Only admins may add registries.",
            success=lambda registry: f"Registry “{registry.name}” added.",
            page="registries",
        )
        if response is not None:
            return response
    context = {"registries": registry_service.registry_rows(), "form": form}
    if wants_partial(request):
        return render(
            request, "hosts/partials/registry_panel.html", context, status=status
        )
    context["matrix"] = registry_service.trust_matrix()
    return render(request, "hosts/registries.html", context, status=status)


def _create_registry(request, form):
    if not form.is_valid():
        return None
    try:
        return registry_service.create_registry(
            request.user, **form.cleaned_data, request=request
        )
    except registry_service.RegistryInvalid as error:
        form.add_error(
            error.field if error.field in form.fields else None, error.message
        )
    except registry_service.RegistryExists as error:
        form.add_error(None, str(error))
    return None


@require_POST
def registry_check(request, registry_id):
    """Admins: check one registry now; answers with its table row."""
    if not is_admin(request.user):
        raise PermissionDenied("Only admins may check registries.")
    if not Registry.objects.filter(pk=registry_id).exists():
        raise Http404("No such registry.")
    registry = registry_service.check_registry(
        registry_id, request.user, source=None, request=request
    )
    registry.ca = registry_service.ca_expiry(registry)
    return render(request, "hosts/partials/registry_row.html", {"registry": registry})


@require_http_methods(["GET", "HEAD", "POST"])
def registry_trust(request):
    """The trust matrix fragment. POST (admins) queues a recheck in the worker;
    the fragment then polls until every cell is newer than the request."""
    pending_since = None
    error = ""
    if request.method == "POST":
        if not is_admin(request.user):
            raise PermissionDenied("Only admins may recheck registry trust.")
        pending_since = timezone.now().timestamp()
        try:
            tasks.check_registry_trust.delay()
        except OperationalError:
            pending_since = None
            error = "The task queue does not answer: is Redis up? Try again later."
    else:
        pending_since = _float_or_none(request.GET.get("since"))
    matrix = registry_service.trust_matrix()
    if pending_since is not None and _trust_done(matrix, pending_since):
        pending_since = None
    context = {"matrix": matrix, "pending_since": pending_since, "error": error}
    return render(request, "hosts/partials/registry_trust.html", context)


def _float_or_none(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _trust_done(matrix, since):
    # Give up polling after two minutes: a lost task must not poll forever.
    if timezone.now().timestamp() - since > 120:
        return True
    return matrix.checked_at is not None and matrix.checked_at.timestamp() >= since


# /certificates/ ---------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def certificates(request):
    """The certificate table; admins also get the upload form. A rejected
    upload is a 400 that shows the form again with the reason."""
    admin = is_admin(request.user)
    form = CertificateUploadForm() if admin else None
    status = 200
    if request.method == "POST":
        form, status, response = _submit_create_form(
            request,
            CertificateUploadForm,
            _upload_certificate,
            refusal="Only admins may add certificates.",
            success=lambda certificate: f"Certificate “{certificate.name}” added.",
            page="certificates",
        )
        if response is not None:
            return response
    context = {
        "certificates": certificate_service.certificates(),
        "form": form,
        "ca": CertificateAuthority.objects.filter(active=True).first(),
        "can_rotate": admin,
    }
    template = (
        "hosts/partials/certificate_panel.html"
        if wants_partial(request)
        else "hosts/certificates.html"
    )
    return render(request, template, context, status=status)


def _upload_certificate(request, form):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return certificate_service.create_certificate(
            request.user,
            data["name"],
            data["pem"],
            data["private_key_pem"] or None,
            request=request,
        )
    except certificate_service.CertificateInvalid as error:
        form.add_error(None, error.message)
    except certificate_service.CertificateNameTaken as error:
        form.add_error("name", str(error))
    return None


@require_POST
def certificate_authority_rotate(request):
    """Admins only: a new active CA for dchweb; answers with the CA panel."""
    if not is_admin(request.user):
        raise PermissionDenied("Only admins may rotate dchweb's CA.")
    ca = pki.rotate_ca(request.user, request=request)
    messages.success(request, "dchweb's CA was rotated.")
    if not wants_partial(request):
        return redirect("certificates")
    context = {"ca": ca, "can_rotate": True}
    return render(request, "hosts/partials/ca_panel.html", context)


# /audit/ (admins) ------------------------------------------------------------


@require_safe
@vary_on_headers("HX-Request")
def audit(request):
    if not is_admin(request.user):
        raise PermissionDenied("The audit trail is for admins.")
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    events = audit_trail.audit_events(action=action, actor=actor)
    context = {
        "page": Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page")),
        "action": action,
        "actor": actor,
    }
    return _page_or_fragment(
        request, "hosts/audit.html", "hosts/partials/audit_table.html", context
    )


# Operations: no login page in front of these ----------------------------------


@require_safe
@never_cache
def healthz(request):
    """200 when the database and the broker answer, else 503 naming the part."""
    status = {"database": health.check_database(), "broker": health.check_broker()}
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)


@require_safe
@never_cache
def metrics(request):
    """Prometheus text, for a signed-in user or a bearer token (scrapers)."""
    if not (request.user.is_authenticated or _bearer_user(request)):
        if "Authorization" in request.headers:
            return HttpResponse(
                "invalid API token\n", status=401, content_type="text/plain"
            )
        return redirect_to_login(request.get_full_path())
    return HttpResponse(
        exposition(), content_type="text/plain; version=0.0.4; charset=utf-8"
    )


def _bearer_user(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return tokens.user_for_token(token.strip())
