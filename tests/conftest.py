"""Fixtures for the real parts: the devstack engine, registry, worker and browser.

`make test` runs pytest through `devstack/exec`, which exports the devstack's
variables (var/devstack/env) and resolves `registry.test` to this devstack's
registry. Run by hand, `devstack/exec .venv/bin/pytest ...` does the same.
A test that needs a part that is not there fails and says how to get it.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "var" / "test-logs"
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in the test thread; the ORM calls
# the tests make next to it are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the markers
def pytest_collection_modifyitems(items):
    """What Chromium does with a page (HTMX, scripts, layout, focus, the
    CSP) is the same whatever the database: browser tests run once per CI
    run, on its first leg, except those marked `every_database` (the
    accessibility walk at 1366 px, which renders every page on PostgreSQL).
    The database work behind the pages runs on both legs in the
    request-level tests."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker(
            "every_database"
        ):
            item.add_marker(pytest.mark.once)


def devstack_value(name):
    """A devstack variable, or a failure that says how to get the devstack."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: the devstack is not up or this run is outside it. "
            "Run `make test`, or `devstack/up` then `devstack/exec .venv/bin/pytest`."
        )
    return value


@pytest.fixture(scope="session")
def devstack():
    password_file = Path(devstack_value("DCHWEB_REGISTRY_PASSWORD_FILE"))
    return {
        "docker_url": devstack_value("DCHWEB_DOCKER_URL"),
        "network": devstack_value("DCHWEB_DEVSTACK_NETWORK"),
        "image": devstack_value("DCHWEB_BUILD_HOST_IMAGE"),
        "registry": devstack_value("DCHWEB_REGISTRY"),
        "registry_ca": Path(devstack_value("DCHWEB_REGISTRY_CA")).read_bytes(),
        "registry_user": devstack_value("DCHWEB_REGISTRY_USER"),
        "registry_password": password_file.read_text().strip(),
    }


@pytest.fixture(scope="session", autouse=True)
def few_password_rounds():
    """Passwords the tests set are hashed by PBKDF2 at 1,000 rounds, not a
    million (tests/support/hashers.py); every hasher of the project's settings
    still verifies what others stored."""
    from django.conf import settings
    from django.test import override_settings

    hasher = "tests.support.hashers.FewRoundsPBKDF2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=[hasher, *settings.PASSWORD_HASHERS]):
        yield


@pytest.fixture(scope="session")
def registry_auth(devstack):
    return {
        "username": devstack["registry_user"],
        "password": devstack["registry_password"],
        "serveraddress": devstack["registry"],
    }


@pytest.fixture(scope="session")
def engine(devstack):
    import docker

    client = docker.DockerClient(base_url=devstack["docker_url"], timeout=120)
    try:
        client.ping()
    except Exception as error:
        pytest.fail(f"the devstack engine at {devstack['docker_url']} is down: {error}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def build_host_image(engine, devstack, registry_auth):
    """Workflow step 1: the engine pulls the build-host image from the registry."""
    repository, tag = devstack["image"].rsplit(":", 1)
    engine.images.pull(repository, tag=tag, auth_config=registry_auth)
    return devstack["image"]


@pytest.fixture(scope="session")
def busybox():
    path = Path("/bin/busybox")
    if not path.exists():
        pytest.fail("/bin/busybox is missing: devstack/up installs busybox-static")
    return path.read_bytes()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker process on the devstack Redis and the test database.

    It listens on a queue of its own, so a `make run` worker on the same
    devstack never takes the tests' tasks.
    """
    from dchweb.celery import app

    queue = f"dchweb-test-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        worker = start_celery_worker(queue)
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield worker
    finally:
        app.conf.task_default_queue = previous_queue
        stop_process(worker)


def subprocess_database_env():
    """The variables that point a subprocess's settings at this run's test
    database: its SQLite file, or a DATABASE_URL naming the test database
    (`test_<name>` on PostgreSQL) with the same role and socket."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"DCHWEB_SQLITE_PATH": str(db["NAME"])}
    if connection.vendor != "postgresql":
        pytest.fail(f"no DATABASE_URL for a {connection.vendor} test database")
    user = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        user += ":" + quote(db["PASSWORD"], safe="")
    netloc = f"{user}@{quote(db['HOST'] or '', safe='')}"
    if db["PORT"]:
        netloc += f":{db['PORT']}"
    return {"DATABASE_URL": f"postgres://{netloc}/{quote(db['NAME'], safe='')}"}


def start_celery_worker(queue, log_name="celery-worker"):
    """Start `celery worker` on `queue` (node `<queue>@<host>`, so a restart
    is the same node) against the test database; wait until it answers.
    Tasks it enqueues itself go to the same queue."""
    from dchweb.celery import app

    devstack_value("DCHWEB_REDIS_URL")
    node = f"{queue}@{socket.gethostname()}"  # what celery's `%h` would name
    env = dict(os.environ, **subprocess_database_env(), DCHWEB_TASK_QUEUE=queue)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{log_name}.log"
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "dchweb", "worker"),
                *("-Q", queue, "--concurrency", "1", "-n", node),
                *("-l", "info"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_worker(app, node, worker, log_path)
    except BaseException:
        stop_process(worker)  # a worker that never answered is not left behind
        raise
    return worker


def _wait_for_worker(app, node, worker, log_path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the Celery worker exited: {log_path.read_text()[-3000:]}")
        try:
            # Asked of this node alone and done at its first reply: a ping to
            # everyone waits out the whole timeout even after the answer came.
            replies = app.control.ping(destination=[node], limit=1, timeout=1.0)
        except Exception:  # a broker restarted under a pooled connection
            time.sleep(0.2)
            continue
        if any(node in reply for reply in replies):
            return
    pytest.fail(f"the Celery worker never answered: {log_path.read_text()[-3000:]}")


def stop_process(process, timeout=20):
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


@pytest.fixture(scope="session")
def tls_world():
    """A CA for a TLS engine, its certificates, and a stranger CA."""
    from tests.support import pki

    ca = pki.make_ca("endpoint CA")
    stranger_ca = pki.make_ca("another CA")
    return {
        "ca": ca,
        # Valid for "localhost" only: reaching it as 127.0.0.1 is a mismatch.
        "server": ca.issue_server("endpoint", ["localhost"], []),
        "client": ca.issue_client("dchweb"),
        "stranger_ca": stranger_ca,
        "stranger_client": stranger_ca.issue_client("intruder"),
    }


@pytest.fixture(scope="session")
def tls_engine(engine, build_host_image, devstack, tls_world, tmp_path_factory):
    """A Docker engine on a loopback port with --tlsverify and the test's
    certificates: the build-host image serves exactly that (`dinv -tlsverify`)."""
    from tests.support.buildhost import (
        remove_build_host,
        start_build_host,
        tlsverify_files,
        wait_until_pinged,
        write_client_files,
    )

    files = tlsverify_files(tls_world["ca"], tls_world["server"], tls_world["client"])
    host = start_build_host(engine, build_host_image, devstack["network"], files)
    try:
        cert_dir = write_client_files(
            tmp_path_factory.mktemp("tls-engine"), tls_world["ca"], tls_world["client"]
        )
        wait_until_pinged(f"https://localhost:{host.port}", cert_dir)
        yield host
    finally:
        remove_build_host(host.container)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: devstack/up installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=BROWSER_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- The devstack as dchweb rows, and what a test leaves on its engine -------------


@pytest.fixture
def endpoint(devstack, build_host_image):
    from tests.support import world

    return world.devstack_endpoint(devstack)


@pytest.fixture
def registry(devstack):
    from tests.support import world

    return world.devstack_registry(devstack)


@pytest.fixture
def data_dir(settings, tmp_path):
    """Uploaded contexts and build logs land in the test's own folder."""
    settings.DCHWEB_DATA_DIR = tmp_path / "data"
    return settings.DCHWEB_DATA_DIR


# --- The cast: who the tests act as ------------------------------------------------
#
# alice is a developer, bob another developer, root an admin through the
# `admins` group (not a superuser), so the tests exercise the group rule rather
# than is_superuser. Passwords are `<username>-password-1`. Every fixture makes
# the groups first (a transactional test flushes the ones the migrations made).


@pytest.fixture
def developer(django_user_model):
    from tests.support import world

    return world.developer(django_user_model, "alice")


@pytest.fixture
def other_developer(django_user_model):
    from tests.support import world

    return world.developer(django_user_model, "bob")


@pytest.fixture
def admin(django_user_model):
    from tests.support import world

    return world.admin(django_user_model, "root")


@pytest.fixture
def developer_token(developer):
    from tests.support import world

    return world.api_token(developer)


@pytest.fixture
def admin_token(admin):
    from tests.support import world

    return world.api_token(admin)


@pytest.fixture
def api_get(client):
    """GET an API path with an optional bearer token."""

    def get(path, token=None, **extra):
        if token is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client.get(path, **extra)

    return get


@pytest.fixture
def leftovers(engine):
    """Removes whatever this test's installation left on the engine, after
    the test has had its say about it."""
    from tests.support.hostcheck import remove_installation_objects

    yield
    # A worker may still be removing what is listed (an ephemeral build host
    # goes after its build is final): the helper takes gone meanwhile as gone.
    remove_installation_objects(engine, _installation_id())


def _installation_id():
    from hosts.core import installation

    return installation.installation_id()
