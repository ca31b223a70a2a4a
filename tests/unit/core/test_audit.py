"""hosts.audit.record(): one helper for every mutating action."""

import pytest
from django.test import RequestFactory

from hosts.core import audit
from hosts.models import AuditEvent, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint():
    return Endpoint.objects.create(
        name="vch-1", docker_url="tcp://vch-1:2376", publish_host="10.0.0.5"
    )


def test_it_records_who_did_what_to_which_object(developer, endpoint):
    event = audit.record(
        developer, "endpoint.probed", endpoint, {"health": "on"}, source="ui"
    )

    event.refresh_from_db()
    assert event.actor == developer
    assert event.actor_name == "alice"
    assert event.action == "endpoint.probed"
    assert (event.object_type, event.object_id) == ("hosts.endpoint", str(endpoint.pk))
    assert event.object_repr == "vch-1"
    assert event.details == {"health": "on"}
    assert event.source == AuditEvent.Source.UI


def test_it_reads_source_and_address_from_the_request(developer):
    api_request = RequestFactory().post("/api/v1/endpoints", REMOTE_ADDR="10.1.2.3")
    page_request = RequestFactory().post("/endpoints/", REMOTE_ADDR="10.1.2.4")

    from_api = audit.record(developer, "endpoint.created", request=api_request)
    from_page = audit.record(developer, "endpoint.created", request=page_request)

    assert (from_api.source, from_api.remote_addr) == ("api", "10.1.2.3")
    assert (from_page.source, from_page.remote_addr) == ("ui", "10.1.2.4")


def test_a_system_action_has_no_actor():
    event = audit.record(None, "endpoint.reconciled", source="task")

    assert event.actor is None
    assert event.actor_name == ""
    assert str(event).endswith("system endpoint.reconciled")


def test_without_source_or_request_it_refuses():
    with pytest.raises(ValueError, match="source"):
        audit.record(None, "something.happened")

    assert not AuditEvent.objects.exists()


def test_the_trail_keeps_the_name_of_a_deleted_user(developer):
    event = audit.record(developer, "build_host.removed", source="api")

    developer.delete()

    event.refresh_from_db()
    assert event.actor is None
    assert event.actor_name == "alice"
