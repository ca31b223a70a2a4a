"""The previous release's database and build hosts, as an upgrade finds them.

tests/fixtures/upgrade/ holds what that release wrote (make_fixture.py made
it with the release's own code): database.json, every row at its last
migrations, and engine.json, what it put on the engine for each running build
host. Here the test database is taken back to those migrations and given
those rows, through the models of that migration state (the rows fit them
whatever today's models say), and the hosts are made to run again from the
record, so that `migrate` meets what an operator's upgrade meets.
"""

import datetime
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor

from hosts.lib import crypto
from tests.support.buildhost import free_loopback_port, wait_until_pinged
from tests.support.hostcheck import remove_installation_objects

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "upgrade"
FORMAT = 1
# Dates read from a certificate's PEM: they stay what the PEM says.
CERTIFICATE_DATES = {
    ("hosts.certificate", "not_before"),
    ("hosts.certificate", "not_after"),
}


@dataclass
class Fixture:
    database: dict
    engine: dict

    @property
    def release(self) -> str:
        return self.database["release"]

    @property
    def targets(self) -> list[tuple[str, str]]:
        return sorted(self.database["migrations"].items())

    @property
    def encryption_key(self) -> str:
        return self.database["encryption_key"]

    @property
    def installation_id(self) -> str:
        return str(self.rows("hosts.installation")[0]["installation_id"])

    @property
    def made_at(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.database["made_at"])

    def rows(self, label) -> list[dict]:
        return self.database["tables"][label]

    def api_token(self, name) -> str:
        return self.database["api_tokens"][name]["plaintext"]


def read_fixture() -> Fixture:
    parts = {}
    for name in ("database", "engine"):
        path = FIXTURE_DIR / f"{name}.json"
        if not path.exists():
            pytest.fail(
                f"{path} is missing: make it with {FIXTURE_DIR}/make_fixture.py"
            )
        parts[name] = json.loads(path.read_text())
        if parts[name].get("format") != FORMAT:
            pytest.fail(f"{path} is not in format {FORMAT}: make it again")
    return Fixture(**parts)


# --- The database -------------------------------------------------------------------


def previous_database(fixture: Fixture):
    """The test database at the fixture's migrations, holding its rows and
    nothing else; returns the models of that migration state."""
    executor = MigrationExecutor(connection)
    known = executor.loader.graph.nodes
    missing = [target for target in fixture.targets if target not in known]
    if missing:
        pytest.fail(
            f"the release {fixture.release} ran migrations this tree lacks: {missing}"
        )
    try:
        executor.migrate(fixture.targets)
    except IrreversibleError as error:
        pytest.fail(
            f"the database cannot go back to release {fixture.release}: {error} "
            "(the project's migrations each have a reverse)"
        )
    apps = executor.loader.project_state(fixture.targets).apps
    _load_rows(apps, fixture)
    return apps


def _load_rows(apps, fixture: Fixture):
    models = {
        model._meta.label_lower: model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    unknown = set(fixture.database["tables"]) - set(models)
    if unknown:
        pytest.fail(f"the fixture has tables its migrations do not make: {unknown}")
    # Every timestamp moves by the fixture's age: the database is loaded as it
    # stood just after that release last wrote it, whatever day this runs, so
    # that a host's TTL or a token's expiry has not passed meanwhile.
    age = datetime.datetime.now(datetime.UTC) - fixture.made_at
    tables = [model._meta.db_table for model in models.values()]
    with transaction.atomic():
        # Foreign keys are checked at commit: the order of the tables is free.
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))
        for label, rows in fixture.database["tables"].items():
            model = models[label]
            _keep_stored_dates(model)
            objects = [model(**_values(model, row, age)) for row in rows]
            # A trigger of the release may have written one of these rows
            # already (the volume ledger's stamp): the stored row wins.
            model._base_manager.filter(pk__in=[obj.pk for obj in objects]).delete()
            model._base_manager.bulk_create(objects)
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(
            no_style(), list(models.values())
        ):
            cursor.execute(statement)
    ContentType.objects.clear_cache()  # ids of an earlier test's content types


def _keep_stored_dates(model):
    """auto_now fields would write today's time over the stored one; these
    models belong to this load only, so switching it off is safe."""
    for field in model._meta.concrete_fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            field.auto_now = field.auto_now_add = False


def _values(model, row, age) -> dict:
    fields = {field.attname: field for field in model._meta.concrete_fields}
    values = {}
    for name, stored in row.items():
        field = fields[name]
        value = None if stored is None else field.to_python(stored)
        label = model._meta.label_lower
        if (
            isinstance(value, datetime.datetime)
            and (label, name) not in CERTIFICATE_DATES
        ):
            value += age
        values[name] = value
    return values


def migrate_to_latest():
    """What an operator runs after installing the new release."""
    call_command("migrate", interactive=False, verbosity=0)


# --- The operator's re-pointing to this run's devstack -------------------------------


def repoint_to_devstack(apps, fixture: Fixture, devstack):
    """The engine and registry the fixture's rows name were another devstack's
    (another socket path, registry CA and password): point the rows at this
    one, as an operator edits an endpoint or a registry that moved."""
    Endpoint = apps.get_model("hosts", "Endpoint")
    Registry = apps.get_model("hosts", "Registry")
    if Registry.objects.exclude(address=devstack["registry"]).exists():
        pytest.fail(f"the fixture's registry is not at {devstack['registry']}")
    Endpoint.objects.update(
        docker_url=devstack["docker_url"], network=devstack["network"]
    )
    Registry.objects.update(
        ca_pem=devstack["registry_ca"].decode(),
        username=devstack["registry_user"],
        # The fixture's key is the configured key while the test runs.
        password_encrypted=crypto.encrypt(devstack["registry_password"]),
    )


# --- The build hosts it ran -------------------------------------------------------


def start_hosts(engine, apps, fixture: Fixture, devstack):
    """Make each recorded host run again: its labelled volumes, its container
    with the release's settings, the files the release copied in (the
    registry's CA as this devstack's), then start it on a free loopback port,
    which its row is told; returns when each answers dchweb over mutual TLS."""
    BuildHost = apps.get_model("hosts", "BuildHost")
    for record in fixture.engine["build_hosts"]:
        host = BuildHost.objects.get(pk=record["build_host"])
        spec = record["container"]
        if spec["image"] != devstack["image"]:
            pytest.fail(
                f"the fixture's hosts run {spec['image']}, this devstack serves "
                f"{devstack['image']}: make the fixture again"
            )
        _check_not_expired(fixture, host.client_cert_pem, host.owner_cert_pem)
        _check_not_expired(fixture, record["files"]["/certs/docker.crt"]["text"])
        for volume in record["volumes"]:
            engine.volumes.create(volume["name"], labels=volume["labels"])
        port = free_loopback_port()
        container = engine.containers.create(
            spec["image"],
            command=spec["command"],
            name=spec["name"],
            labels=spec["labels"],
            volumes=spec["binds"],
            ports={
                name: (address, port) for name, address in spec["published"].items()
            },
            network=spec["network"],
            cap_add=spec["cap_add"],
            security_opt=spec["security_opt"],
            detach=True,
        )
        container.put_archive("/", _archive(_files(record, devstack)))
        container.start()
        BuildHost.objects.filter(pk=host.pk).update(
            port=port, container_id=container.id
        )
        _wait_for_dchweb_client(host, port)


def _check_not_expired(fixture: Fixture, *pems):
    """The release issued these for a year: a fixture older than that cannot
    stand for hosts that run, and says so rather than failing the handshake."""
    now = datetime.datetime.now(datetime.UTC)
    for pem in pems:
        ends = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
        if ends <= now:
            pytest.fail(
                f"the fixture's build-host certificates expired on {ends:%Y-%m-%d}: "
                f"make it again from release {fixture.release} with make_fixture.py"
            )


def _files(record, devstack) -> dict:
    files = dict(record["files"])
    registry_ca = f"/etc/docker/certs.d/{devstack['registry']}/ca.crt"
    if registry_ca not in files:
        pytest.fail(f"the fixture's host trusted no {devstack['registry']}")
    files[registry_ca] = {
        **files[registry_ca],
        "text": devstack["registry_ca"].decode(),
    }
    return files


def _archive(files) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, file in files.items():
            data = file["text"].encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), file["mode"]
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _wait_for_dchweb_client(host, port):
    """dchweb's own client certificate, as the release stored it, opens it."""
    with tempfile.TemporaryDirectory() as folder:
        cert_dir = Path(folder)
        (cert_dir / "ca.pem").write_text(host.ca_pem)
        (cert_dir / "cert.pem").write_text(host.client_cert_pem)
        (cert_dir / "key.pem").write_text(crypto.decrypt(host.client_key_encrypted))
        wait_until_pinged(f"https://127.0.0.1:{port}", cert_dir)


def remove_from_engine(engine, fixture: Fixture):
    """Whatever carries the fixture's installation id: only this test makes it."""
    remove_installation_objects(engine, fixture.installation_id)
