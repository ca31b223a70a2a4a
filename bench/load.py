"""The main pages and API lists under load, with a database of a real size.

    cd /work/main && devstack/up && devstack/exec .venv/bin/python bench/load.py

1. A throwaway SQLite database (var/bench-load-<pid>.sqlite3) is filled with
   bulk_create: 4 endpoints, 3 registries, 50 developers and an admin,
   1,000 build hosts in mixed states (with their step rows and registries),
   5,000 builds in mixed states (every fifth with a log file, in a temporary
   DCHWEB_DATA_DIR), 10,000 volumes (mixed statuses and sizes) and 2,000
   audit events. It is filled to 10 % first, then to 100 %.
2. Queries per request, in this process (django.test.Client and
   CaptureQueriesContext, after a warm-up request), for each URL and role at
   10 % and at 100 % of the rows: the two counts must be equal. With them,
   the time of one request alone (median of 5), which shows work that grows
   with the rows even when the number of queries does not.
3. gunicorn (dchweb.wsgi, 4 sync workers, 127.0.0.1 only, DEBUG off) on the
   full database, driven by ApacheBench: -c 20 and a fixed -n per URL, after
   a warm-up of 40. Pages with the session cookie a login through
   /accounts/login/ gives; the API with a bearer token. Per URL and role: the
   median and p95 (ab's percentile table, ms), the longest request,
   requests/s, the server's CPU time per request (what the URL costs
   whatever else the machine runs), non-2xx answers and failed requests
   (must both be 0), the document size and the two query counts, as a
   Markdown table.
4. Peak RSS (VmHWM) of the server's master and workers, and of this
   process.

The server, the database and the data folder are removed at the end, on
errors and on Ctrl-C / SIGTERM too. `--requests N` changes -n;
`--only PATH` (repeatable) measures only the URLs that start with PATH;
`--keep-server-log` keeps the server's log. The set-up, the server, the login
and the clean-up come from bench/_common.py, which the other bench scripts
share.
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import say

HOSTS = 1_000
BUILDS = 5_000
VOLUMES = 10_000
AUDIT_EVENTS = 2_000
DEVELOPERS = 50
ENDPOINTS = 4
REGISTRIES = 3
SMALL = 0.1  # the first database size, as a fraction of the full one
LOG_EVERY = 5  # every fifth build has a log file
LOG_LINES = 200
CLIENTS = 20
REQUESTS = 400
WARMUP = 40
SERVER_WORKERS = 4
PASSWORD = "bench-load-password-1"  # a throwaway database's
IMAGE = "registry0.bench:5443/default-project/dch-photon:20.10"

HOST_STATES = (  # (state, weight): most hosts are gone, some live, a few moving
    ("removed", 40),
    ("ready", 25),
    ("failed", 10),
    ("busy", 5),
    ("provisioning", 5),
    ("requested", 5),
    ("removing", 10),
)
BUILD_STATES = (
    ("succeeded", 60),
    ("failed", 20),
    ("cancelled", 8),
    ("queued", 4),
    ("provisioning", 2),
    ("building", 4),
    ("pushing", 2),
)
AUDIT_ACTIONS = (
    "build_host.created",
    "build_host.extended",
    "build_host.removal_requested",
    "build.created",
    "build.cancelled",
    "endpoint.probed",
    "volume.plan_created",
)


def weighted(choices, index):
    """The choice for `index`, spread evenly by the weights (no randomness:
    every run and both database sizes have the same mix)."""
    total = sum(weight for _, weight in choices)
    slot = (index * 37) % total
    for value, weight in choices:
        if slot < weight:
            return value
        slot -= weight
    raise AssertionError


# --- Django and the rows --------------------------------------------------------------


@dataclass
class World:
    endpoints: list
    registries: list
    developers: list  # User rows
    admin: object
    tokens: dict  # role -> plaintext
    host_ids: list
    build_ids: list
    now: object


def make_world():
    """Endpoints, registries, the users and their tokens: the rows that do
    not grow with the database."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from hosts.accounts import commands as accounts
    from hosts.core.permissions import ADMINS_GROUP, DEVELOPERS_GROUP
    from hosts.models import AuditEvent, Endpoint, Registry

    accounts.ensure_groups()
    health = (Endpoint.Health.ON, Endpoint.Health.ON, Endpoint.Health.DEGRADED)
    endpoints = Endpoint.objects.bulk_create(
        Endpoint(
            name=f"bench-ep{n}",
            docker_url=f"tcp://10.99.0.{n + 1}:2376",
            tls_mode=Endpoint.TlsMode.NONE,
            publish_host=f"10.99.0.{n + 1}",
            default_image=IMAGE,
            max_build_hosts=500,
            health=health[n] if n < len(health) else Endpoint.Health.OFF,
            flavor=Endpoint.Flavor.DOCKER,
            server_version="20.10.24",
        )
        for n in range(ENDPOINTS)
    )
    registries = []
    for n in range(REGISTRIES):
        registry = Registry(
            name=f"registry{n}.bench",
            address=f"registry{n}.bench:5443",
            username="robot",
        )
        registry.set_password("robot-password")
        registries.append(registry)
    Registry.objects.bulk_create(registries)

    User = get_user_model()
    hashed = make_password(PASSWORD)  # once: PBKDF2 is slow on purpose
    developers = User.objects.bulk_create(
        User(username=f"dev{n:02d}", password=hashed) for n in range(DEVELOPERS)
    )
    developers = list(User.objects.filter(username__startswith="dev").order_by("pk"))
    admin = User.objects.create(
        username="bench-admin", password=hashed, is_superuser=True, is_staff=True
    )
    groups = {group.name: group.pk for group in Group.objects.all()}
    Through = User.groups.through
    Through.objects.bulk_create(
        [Through(user_id=u.pk, group_id=groups[DEVELOPERS_GROUP]) for u in developers]
        + [Through(user_id=admin.pk, group_id=groups[ADMINS_GROUP])]
    )
    tokens = {}
    for role, user in (("dev", developers[0]), ("admin", admin)):
        _, tokens[role] = accounts.create_api_token(
            user, "bench", actor=user, source=AuditEvent.Source.CLI
        )
    return World(
        endpoints=endpoints,
        registries=registries,
        developers=developers,
        admin=admin,
        tokens=tokens,
        host_ids=[uuid.uuid4() for _ in range(HOSTS)],
        build_ids=[uuid.uuid4() for _ in range(BUILDS)],
        now=timezone.now(),
    )


def span(total, low, high):
    return range(round(total * low), round(total * high))


def fill(world, low, high):
    """The rows from fraction `low` to `high` of each kind. A row refers only
    to rows of the same fraction or before it (proportional indexes), so the
    10 % database is whole."""
    from django.db import transaction

    started = time.perf_counter()
    with transaction.atomic():
        hosts = fill_hosts(world, span(HOSTS, low, high))
        builds, logs = fill_builds(world, span(BUILDS, low, high))
        volumes = fill_volumes(world, span(VOLUMES, low, high))
        events = fill_audit(world, span(AUDIT_EVENTS, low, high))
    say(
        f"filled {low:.0%} to {high:.0%}: {hosts} build hosts, {builds} builds "
        f"({logs} log files), {volumes} volumes, {events} audit events in "
        f"{time.perf_counter() - started:.1f} s"
    )


def fill_hosts(world, indexes):
    from hosts.buildhosts.provisioning import STEPS
    from hosts.models import BuildHost, BuildHostStep

    now = world.now
    hosts, steps, links = [], [], []
    Link = BuildHost.registries.through
    for i in indexes:
        state = weighted(HOST_STATES, i)
        owner = world.developers[i % DEVELOPERS]
        created = now - timedelta(minutes=5 * (HOSTS - i))
        live = state in ("ready", "busy")
        host = BuildHost(
            id=world.host_ids[i],
            name=f"bh-{i:04d}",
            owner_id=owner.pk,
            endpoint_id=world.endpoints[i % ENDPOINTS].pk,
            image=IMAGE,
            state=state,
            disk_gb=20,
            volume_policy=("delete", "keep", "keep_days")[i % 3],
            keep_days=7 if i % 3 == 2 else None,
            expires_at=now + timedelta(minutes=(i % 120) - 20),
            container_id=uuid.uuid4().hex * 2 if state != "requested" else "",
            port=20000 + i if live else None,
            created_at=created,
            ready_at=created + timedelta(seconds=2) if live else None,
            removed_at=created + timedelta(hours=1) if state == "removed" else None,
        )
        done = {"requested": 0, "provisioning": 4, "failed": 5}.get(state, len(STEPS))
        for n, name in enumerate(STEPS[:done]):
            steps.append(
                BuildHostStep(
                    build_host_id=host.id,
                    name=name,
                    status="done",
                    started_at=created + timedelta(milliseconds=300 * n),
                    finished_at=created + timedelta(milliseconds=300 * n + 250),
                )
            )
        if state == "failed":
            host.step, host.error_reason = STEPS[done], "not_ready"
            host.error = "the build host's API did not answer in 120 s"
            steps.append(
                BuildHostStep(
                    build_host_id=host.id,
                    name=STEPS[done],
                    status="failed",
                    reason="not_ready",
                    error=host.error,
                    started_at=created + timedelta(seconds=2),
                    finished_at=created + timedelta(seconds=122),
                )
            )
        elif state == "provisioning":
            host.step = STEPS[done]
        hosts.append(host)
        links.append(Link(buildhost_id=host.id, registry_id=world.registries[0].pk))
        if i % 4 == 0:
            links.append(
                Link(
                    buildhost_id=host.id,
                    registry_id=world.registries[1 + i % (REGISTRIES - 1)].pk,
                )
            )
    BuildHost.objects.bulk_create(hosts, batch_size=500)
    BuildHostStep.objects.bulk_create(steps, batch_size=500)
    Link.objects.bulk_create(links, batch_size=500)
    return len(hosts)


def host_of_build(b):
    """A host owned by the build's owner, from the same fraction of hosts."""
    return (b * HOSTS // BUILDS) // DEVELOPERS * DEVELOPERS + b % DEVELOPERS


def fill_builds(world, indexes):
    from hosts.builds import logs as buildlogs
    from hosts.models import Build

    now = world.now
    builds, logs = [], 0
    for b in indexes:
        state = weighted(BUILD_STATES, b)
        owner = world.developers[b % DEVELOPERS]
        created = now - timedelta(minutes=BUILDS - b)
        ephemeral = b % 3 == 0
        final = state in ("succeeded", "failed", "cancelled")
        started = state not in ("queued", "provisioning")
        build = Build(
            id=world.build_ids[b],
            owner_id=owner.pk,
            build_host_id=None if ephemeral else world.host_ids[host_of_build(b)],
            endpoint_id=world.endpoints[b % ENDPOINTS].pk if ephemeral else None,
            ephemeral=ephemeral,
            registry_id=world.registries[b % REGISTRIES].pk,
            context_name=f"context-{b}.tar.gz",
            context_bytes=4096 + b,
            tags=[f"registry{b % REGISTRIES}.bench:5443/default-project/a{b % 37}:{b}"],
            state=state,
            step={"building": "build", "pushing": "push"}.get(state, ""),
            created_at=created,
            started_at=created + timedelta(seconds=3) if started else None,
            finished_at=created + timedelta(seconds=40) if final else None,
        )
        if state == "succeeded":
            build.image_id = f"sha256:{uuid.uuid4().hex}{uuid.uuid4().hex}"
            build.digest = f"sha256:{uuid.uuid4().hex}{uuid.uuid4().hex}"
        elif state == "failed":
            build.error = "The command '/bin/sh -c make' returned a non-zero code: 2"
            build.error_reason = "build_failed"
        if b % LOG_EVERY == 0 and started:
            lines = "".join(
                f"Step {n % 12 + 1}/12 : RUN make target-{n} <build {b}> & done\n"
                for n in range(LOG_LINES)
            )
            build.log_bytes = buildlogs.append(build.id, lines)
            logs += 1
        builds.append(build)
    Build.objects.bulk_create(builds, batch_size=500)
    return len(builds), logs


def fill_volumes(world, indexes):
    from hosts.models import BuildHost, Volume

    now = world.now
    installation = "b3nch000-0000-4000-8000-000000000000"
    # Whose and in which state: from the hosts, read back (a bulk insert
    # does not say), only those the pairs refer to.
    wanted = {world.host_ids[i * HOSTS // VOLUMES] for i in indexes if i % 10 < 2}
    hosts = {
        host.id: host
        for host in BuildHost.objects.filter(id__in=wanted).select_related("owner")
    }
    rows = []
    for i in indexes:
        generator = random.Random(i)
        created = now - timedelta(hours=(VOLUMES - i) // 10)
        size = None if i % 10 == 9 else generator.randrange(1 << 20, 20 << 30)
        row = Volume(
            driver="local",
            present=i % 33 != 0,
            size_bytes=size,
            size_measured_at=now - timedelta(minutes=5) if size is not None else None,
            created_on_engine=created,
            first_seen=created,
            last_seen=now,
        )
        if i % 10 < 2:  # dchweb's: the pair of a build host
            host = hosts[world.host_ids[i * HOSTS // VOLUMES]]
            row.role = "docker-data" if i % 2 == 0 else "certs"
            row.name = host.volume_name(row.role)
            row.endpoint_id = host.endpoint_id
            row.managed, row.installation = True, installation
            row.build_host_id, row.owner_name = host.id, host.owner.username
            row.labels = {
                "io.dchweb.managed": "true",
                "io.dchweb.installation": installation,
                "io.dchweb.build-host": str(host.id),
                "io.dchweb.owner": host.owner.username,
                "io.dchweb.role": row.role,
            }
            attached = host.state in ("ready", "busy", "provisioning")
            container = host.container_name
        else:
            row.anonymous = i % 3 == 0
            row.name = uuid.UUID(int=i).hex * 2 if row.anonymous else f"data-{i:05d}"
            row.endpoint_id = world.endpoints[i % ENDPOINTS].pk
            attached = i % 2 == 0
            container = f"app-{i % 97}"
        row.status = (
            Volume.Status.IN_USE
            if attached
            else Volume.Status.ORPHANED
            if row.managed
            else Volume.Status.DANGLING
        )
        row.attached_to = [container] if attached else []
        row.last_container, row.last_image = container, IMAGE
        row.last_attached = now if attached else created + timedelta(hours=1)
        row.detached_since = None if attached else created + timedelta(hours=1)
        rows.append(row)
    Volume.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def fill_audit(world, indexes):
    from hosts.models import AuditEvent

    users = [*world.developers, world.admin]
    events = []
    for i in indexes:
        actor = users[i % len(users)]
        events.append(
            AuditEvent(
                created_at=world.now - timedelta(seconds=30 * (AUDIT_EVENTS - i)),
                actor_id=actor.pk,
                actor_name=actor.username,
                action=AUDIT_ACTIONS[i % len(AUDIT_ACTIONS)],
                object_type="build_host",
                object_id=str(world.host_ids[i * HOSTS // AUDIT_EVENTS]),
                object_repr=f"bh-{i * HOSTS // AUDIT_EVENTS:04d}",
                details={"n": i, "minutes": 60},
                source=("ui", "api", "task")[i % 3],
                remote_addr="127.0.0.1",
            )
        )
    AuditEvent.objects.bulk_create(events, batch_size=500)
    return len(events)


# --- What is measured --------------------------------------------------------------


@dataclass
class Target:
    path: str
    role: str  # "dev" or "admin"
    kind: str  # "page" (session) or "api" (bearer token)
    queries: tuple = ()  # per database size
    alone: tuple = ()  # ms, one request in-process, per database size
    ab: dict | None = None


def targets(world):
    """Each page and API list, as a developer and as an admin where it
    matters (admins see everyone's); admin-only ones as the admin."""
    build = world.build_ids[0]  # dev00's, with a log file, in the 10 % too
    both, admin = ("dev", "admin"), ("admin",)
    found = []
    for path, roles in (
        ("/", both),
        ("/build-hosts/", both),
        ("/builds/", both),
        (f"/builds/{build}/", ("dev",)),
        ("/volumes/", admin),
        ("/audit/", admin),
        ("/endpoints/", both),
    ):
        found += [Target(path, role, "page") for role in roles]
    for path, roles in (
        ("/api/v1/build-hosts", both),
        ("/api/v1/builds", both),
        ("/api/v1/volumes?limit=100", admin),
        ("/api/v1/audit-events", admin),
    ):
        found += [Target(path, role, "api") for role in roles]
    return found


def count_queries(world, found):
    """Each target's queries for one request, in this process (after one
    warm-up request: a token's first use of the minute writes a stamp)."""
    users = {"dev": world.developers[0], "admin": world.admin}
    for target in found:
        if target.kind == "page":
            client, headers = _common.in_process_client(user=users[target.role])
        else:
            client, headers = _common.in_process_client(token=world.tokens[target.role])
        client.get(target.path, **headers)
        response, captured = _common.captured_request(client, target.path, headers)
        if response.status_code != 200:
            raise RuntimeError(
                f"{target.path} as {target.role}: {response.status_code} in-process"
            )
        target.queries += (len(captured),)
        alone = _common.median_request_seconds(client, target.path, headers, 5)
        target.alone += (alone * 1000,)


# --- The server and the load tool ----------------------------------------------------


def session_cookie(url, username):
    """The session cookie a login through the form gives, as for a browser,
    as ab's -C wants it."""
    cookies = _common.login_cookies(url, username, PASSWORD)
    return f"sessionid={cookies['sessionid']}"


def ab(url, requests_total, credentials):
    """ApacheBench's figures for `requests_total` GETs from CLIENTS clients."""
    command = ["ab", "-q", "-l", "-s", "120", "-n", str(requests_total)]
    command += ["-c", str(CLIENTS), *credentials, url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ab failed ({done.returncode}): {done.stderr[-2000:]}")
    text = done.stdout

    def number(pattern, default=None):
        match = re.search(pattern, text, re.MULTILINE)
        if match is None:
            if default is None:
                raise RuntimeError(f"no {pattern!r} in ab's output:\n{text}")
            return default
        return float(match[1])

    result = {
        "complete": int(number(r"^Complete requests:\s+(\d+)")),
        "failed": int(number(r"^Failed requests:\s+(\d+)")),
        "non_2xx": int(number(r"^Non-2xx responses:\s+(\d+)", 0)),
        "rps": number(r"^Requests per second:\s+([\d.]+)"),
        "median": number(r"^\s+50%\s+(\d+)"),
        "p95": number(r"^\s+95%\s+(\d+)"),
        "max": number(r"^\s+100%\s+(\d+)"),
    }
    # -l: lengths vary (CSRF tokens, times); the mean of what came.
    result["bytes"] = round(number(r"^HTML transferred:\s+(\d+)") / result["complete"])
    return result


def run_load(world, found, requests_total, workers, log_path):
    # The server inherits this process's environment: the bench's database,
    # data folder, DEBUG off (setup_django put them there).
    with _common.running_server(log_path, workers, ("--timeout", "120")) as server:
        cookies = {
            "dev": session_cookie(server.url, world.developers[0].username),
            "admin": session_cookie(server.url, world.admin.username),
        }
        for target in found:
            if target.kind == "page":
                credentials = ["-C", cookies[target.role]]
            else:
                token = world.tokens[target.role]
                credentials = ["-H", f"Authorization: Bearer {token}"]
            url = server.url + target.path
            ab(url, WARMUP, credentials)
            cpu_before = server_cpu_seconds(server.process.pid)
            target.ab = ab(url, requests_total, credentials)
            cpu = server_cpu_seconds(server.process.pid) - cpu_before
            target.ab["cpu_ms"] = cpu * 1000 / requests_total
            say(
                f"  {target.path} as {target.role}: median {target.ab['median']:.0f}"
                f" ms, p95 {target.ab['p95']:.0f} ms, {target.ab['rps']:.1f} req/s,"
                f" server CPU {target.ab['cpu_ms']:.1f} ms a request"
            )
        return server.peak_rss_kib()


def server_cpu_seconds(pid):
    """CPU time (user + system) the server's master and workers have used so
    far: per request, what a URL costs the server whatever else runs on the
    machine (the times under load move with the other load; this much less)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    pids += [int(child) for child in children.split()]
    ticks = 0
    for one in pids:
        # After the command's ")": state is field 3, utime and stime 14 and 15.
        fields = Path(f"/proc/{one}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# --- The report -----------------------------------------------------------------------


def table(found, requests_total):
    say()
    say(
        f"| URL | as | median ms | p95 ms | max ms | req/s | server CPU ms | non-2xx "
        f"| failed | bytes | queries at {SMALL:.0%} / 100 % "
        f"| alone ms at {SMALL:.0%} / 100 % |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for target in found:
        result = target.ab
        small, full = target.queries
        same = "" if small == full else " **grows**"
        say(
            f"| `{target.path}` | {target.role} | {result['median']:.0f} "
            f"| {result['p95']:.0f} | {result['max']:.0f} | {result['rps']:.1f} "
            f"| {result['cpu_ms']:.1f} | {result['non_2xx']} | {result['failed']} "
            f"| {result['bytes']:,} "
            f"| {small} / {full}{same} "
            f"| {target.alone[0]:.0f} / {target.alone[1]:.0f} |"
        )
    say()
    say(
        f"ab -n {requests_total} -c {CLIENTS} per row (after {WARMUP} warm-up "
        "requests); median/p95/max from ab's percentile table (whole ms); "
        "server CPU: the server's CPU time (user + system, all its processes) "
        "over the run, per request; bytes: the mean body size; alone: one "
        "request in this process, no concurrency (median of 5)"
    )


def check(found, requests_total):
    """The failures: non-2xx or failed answers, short runs, queries that grow."""
    problems = []
    for target in found:
        name = f"{target.path} as {target.role}"
        result = target.ab
        if result["non_2xx"] or result["failed"]:
            problems.append(
                f"{name}: {result['non_2xx']} non-2xx, {result['failed']} failed"
            )
        if result["complete"] != requests_total:
            problems.append(f"{name}: {result['complete']} of {requests_total} done")
        if len(set(target.queries)) != 1:
            problems.append(f"{name}: queries grow with the rows {target.queries}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS, help="ab -n per URL")
    parser.add_argument("--workers", type=int, default=SERVER_WORKERS)
    parser.add_argument("--keep-server-log", action="store_true")
    parser.add_argument(
        "--only",
        action="append",
        metavar="PATH",
        help="measure only the URLs that start with PATH (repeatable), e.g. "
        "--only /volumes/ --only /api/v1/volumes",
    )
    args = parser.parse_args()
    if shutil.which("ab") is None:
        sys.exit("ab (ApacheBench) is missing: devstack/up installs apache2-utils")
    _common.stop_on_sigterm()

    database = _common.var_path(f"bench-load-{os.getpid()}.sqlite3")
    log_path = _common.var_path(f"bench-load-{os.getpid()}-server.log")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-load-data-", dir=_common.VAR))
    problems = []

    def clean_up(_failed):
        cleanup(database, data_dir, log_path, keep_log=args.keep_server_log)

    with _common.guarded_run(clean_up) as run:
        say(f"database {database.name}, data {data_dir.name}")
        _common.setup_django(database, data_dir=data_dir, debug_off=True)
        world = make_world()
        found = [
            target
            for target in targets(world)
            if not args.only or target.path.startswith(tuple(args.only))
        ]
        if not found:
            raise SystemExit(f"no URL starts with {' or '.join(args.only)}")
        fill(world, 0, SMALL)
        count_queries(world, found)
        fill(world, SMALL, 1)
        count_queries(world, found)
        say(f"load: ab -n {args.requests} -c {CLIENTS} per URL and role")
        peaks = run_load(world, found, args.requests, args.workers, log_path)
        table(found, args.requests)
        say()
        _common.say_server_peaks(peaks)
        say(f"bench process peak RSS: {_common.own_peak_rss_mib():.1f} MiB")
        problems = check(found, args.requests)
        for problem in problems:
            say(f"PROBLEM: {problem}")
    return 0 if run.ok and not problems else 1


def cleanup(database, data_dir, log_path, *, keep_log):
    """The database files, the data folder and the log; a second Ctrl-C does
    not cut it short. (The server is stopped by run_load's finally.)"""
    with _common.uninterruptible():
        _common.remove_database(database)
        _common.remove_data_dir(data_dir)
        if keep_log and log_path.exists():
            say(f"server log kept: {log_path}")
        else:
            log_path.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
