"""The volume ledger at scale: refresh time and engine calls, and the
admin's read path under concurrent load.

    cd /work/main && devstack/up && devstack/exec .venv/bin/python bench/audit.py

On the devstack engine this makes 10,000 volumes and 500 created-not-started
containers (the build-host image, entrypoint `true`, on the devstack network),
each container mounting 4 of the volumes; half the volumes carry dchweb's
labels (this run's own installation id, 50 owners, a build-host id per pair)
so that the ledger has owners and statuses to total. Everything made carries
`io.dchweb.bench=<token>` and is removed by that label at the end.

1. Refresh: hosts.volumes.refresh() on an Endpoint row for the engine, with
   every HTTP request it sends counted (requests.Session.send, this thread
   only), first at 1,000 volumes and then at 10,000. At 10,000: one untimed
   first fill of the ledger, then 3 timed refreshes (median). In the same run
   `docker volume ls -f dangling=true` with the CLI (median of 3); the ratio.
2. Read path: gunicorn (4 workers, 127.0.0.1, DEBUG off) on the bench's
   throwaway SQLite database; 20 client threads send 400 requests to the
   /volumes/ page (as a logged-in admin; when the page exists) and to
   GET /api/v1/volumes?limit=50 (bearer token): median, p95, max. Queries per
   request come from one in-process request (CaptureQueriesContext).
3. Events: at 10,000 volumes, the events watcher (hosts/volumes/watcher.py)
   runs in this process; 5 times each, a volume is created, a container on
   it is created and removed at once, the volume is removed: the engine
   calls the watcher's threads made for the change (requests.Session.send,
   counted by thread name) and the time from the change until its ledger row
   and until the /volumes/ page (in-process, filtered by the change's owner
   label) show it, polled every 2 ms; medians.
4. Peak RSS (VmHWM) of this process and of the server's processes.

Everything (containers, volumes, the server, the database) is removed at the
end, on errors and on Ctrl-C too. `--profile` prints a cProfile of one
refresh; `--volumes/--containers` scale it down for a quick try;
`--no-read-path` skips the load on the page and the API. The set-up,
the server, the login and the clean-up come from bench/_common.py, which the
other bench scripts share.
"""

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import BENCH_LABEL, TOKEN, say

VOLUMES = 10_000
SMALL = 1_000  # the first look at the call count
CONTAINERS = 500
MOUNTS = ("/var/lib/docker", "/certs", "/data1", "/data2")  # binds: no anonymous
OWNERS = 50
MAKERS = 16  # threads creating and removing engine objects
RUNS = 3
CLIENTS = 20
REQUESTS = 400
WARMUP_REQUESTS = 40
SERVER_WORKERS = 4
REFRESH_GOAL_RATIO = 2.0
P95_GOAL_MS = 150.0
EVENT_RUNS = 5


def parallel(function, items, threads=MAKERS):
    """function(item) for every item on a thread pool; on an error or Ctrl-C
    the pending ones are cancelled and the running ones finish first (so a
    clean-up by label afterwards sees everything that was made)."""
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        futures = [pool.submit(function, item) for item in items]
        for future in as_completed(futures):
            future.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# --- The engine objects ------------------------------------------------------------


class Maker:
    """Creates and removes the bench's volumes and containers (docker-py's
    low-level client, one per thread)."""

    def __init__(self, devstack, installation_id):
        self.devstack = devstack
        self.installation_id = installation_id
        self.local = threading.local()
        self.host_ids = [str(uuid.uuid4()) for _ in range(VOLUMES // 2)]

    def client(self):
        import docker

        client = getattr(self.local, "client", None)
        if client is None:
            client = docker.APIClient(
                base_url=self.devstack["docker_url"], version="auto", timeout=120
            )
            client.trust_env = False
            self.local.client = client
        return client

    @staticmethod
    def volume_name(index):
        return f"dchweb-audit-{TOKEN}-{index:05d}"

    def volume_labels(self, index):
        labels = {BENCH_LABEL: TOKEN}
        # Every other volume is "dchweb's": the pair of a build host.
        if index % 4 < 2:
            labels.update(
                {
                    "io.dchweb.managed": "true",
                    "io.dchweb.installation": self.installation_id,
                    "io.dchweb.build-host": self.host_ids[index // 2],
                    "io.dchweb.owner": f"owner{(index // 4) % OWNERS:02d}",
                    "io.dchweb.role": "docker-data" if index % 2 == 0 else "certs",
                }
            )
        return labels

    def make_volume(self, index):
        self.client().create_volume(
            name=self.volume_name(index), labels=self.volume_labels(index)
        )

    def make_container(self, index):
        client = self.client()
        binds = {
            self.volume_name(index * len(MOUNTS) + n): {"bind": path, "mode": "rw"}
            for n, path in enumerate(MOUNTS)
        }
        client.create_container(
            self.devstack["image"],
            entrypoint=["true"],
            name=f"dchweb-audit-{TOKEN}-c{index:03d}",
            labels={BENCH_LABEL: TOKEN},
            host_config=client.create_host_config(
                binds=binds, network_mode=self.devstack["network"]
            ),
        )

    def ensure_image(self):
        import docker.errors

        client = self.client()
        try:
            client.inspect_image(self.devstack["image"])
        except docker.errors.ImageNotFound:
            repository, tag = self.devstack["image"].rsplit(":", 1)
            client.pull(repository, tag=tag, auth_config=self.devstack["registry_auth"])

    def grow(self, volumes, containers, have):
        """Up to `volumes` volumes and `containers` containers in all."""
        started = time.perf_counter()
        parallel(self.make_volume, range(have[0], volumes))
        parallel(self.make_container, range(have[1], containers))
        say(
            f"made {volumes - have[0]} volumes and {containers - have[1]} "
            f"containers in {time.perf_counter() - started:.1f} s "
            f"({MAKERS} threads)"
        )
        return volumes, containers

    def remove_all(self):
        """Every container, then every volume, labelled with this run's token."""
        import docker.errors

        label = {"label": f"{BENCH_LABEL}={TOKEN}"}
        client = self.client()
        containers = [c["Id"] for c in client.containers(all=True, filters=label)]

        def remove_container(container_id):
            with contextlib.suppress(docker.errors.NotFound):
                self.client().remove_container(container_id, force=True)

        def remove_volume(name):
            with contextlib.suppress(docker.errors.NotFound):
                self.client().remove_volume(name, force=True)

        parallel(remove_container, containers)
        names = [v["Name"] for v in client.volumes(filters=label)["Volumes"] or []]
        parallel(remove_volume, names)
        left = len(client.volumes(filters=label)["Volumes"] or [])
        left += len(client.containers(all=True, filters=label))
        return len(containers), len(names), left


# --- Counting engine requests -------------------------------------------------------


class RequestCounter:
    """Counts the HTTP requests sent through requests (which docker-py's
    APIClient is) while `counting`: by this thread, or by the threads
    `counted(thread)` accepts."""

    def __init__(self):
        import requests

        self.sent = []
        self.counted = None
        self.original = requests.Session.send
        counter = self

        def send(session, request, **kwargs):
            counted = counter.counted
            if counted is not None and counted(threading.current_thread()):
                counter.sent.append(
                    f"{request.method} {re.sub(r'^[a-z+]+://[^/]*', '', request.url)}"
                )
            return counter.original(session, request, **kwargs)

        requests.Session.send = send

    @contextlib.contextmanager
    def counting(self, counted=None):
        me = threading.current_thread()
        self.sent, self.counted = [], counted or (lambda thread: thread is me)
        try:
            yield self
        finally:
            self.counted = None

    def paths(self):
        return ", ".join(path.split("?")[0] for path in self.sent)


def timed_refresh(endpoint, counter):
    """(seconds, engine listing seconds, HTTP requests, RefreshResult)."""
    from hosts import engine
    from hosts.volumes import ledger

    listing = []
    inventory = engine.volume_inventory

    def timed_inventory(connection):
        started = time.perf_counter()
        try:
            return inventory(connection)
        finally:
            listing.append(time.perf_counter() - started)

    engine.volume_inventory = timed_inventory
    try:
        with counter.counting():
            started = time.perf_counter()
            result = ledger.refresh(endpoint)
            seconds = time.perf_counter() - started
    finally:
        engine.volume_inventory = inventory
    if result.error:
        raise RuntimeError(f"refresh failed: {result.error}")
    return seconds, sum(listing), len(counter.sent), result


def cli_listing(docker_url):
    """Seconds for `docker volume ls -f dangling=true`, and lines printed."""
    env = dict(os.environ, DOCKER_HOST=docker_url)
    env.pop("DOCKER_CONTEXT", None)
    started = time.perf_counter()
    done = subprocess.run(
        ["docker", "volume", "ls", "-f", "dangling=true"],
        env=env,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started, done.stdout.count(b"\n") - 1


def profile_refresh(endpoint):
    from hosts.volumes import ledger

    profile = cProfile.Profile()
    profile.enable()
    ledger.refresh(endpoint)
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(30)
    say(text.getvalue())


# --- The events watcher: one change at a time ---------------------------------------


def watcher_thread(thread):
    """The events watcher's own threads (hosts/volumes/watcher.py names them)."""
    return thread.name.startswith("ledger-")


def start_watcher(endpoint, containers):
    """The endpoint's events watcher in this process, once its first rescan
    has remembered the bench's containers."""
    from hosts.volumes import watcher

    stop = threading.Event()
    running = watcher.EndpointWatcher(endpoint.pk, stop)
    running.applied = []
    apply = running.apply

    def recorded(event):  # what the reader found, for the report
        running.applied.append(event)
        apply(event)

    running.apply = recorded
    running.start()
    deadline = time.monotonic() + 120
    while len(running.known.by_id) < containers or not running.events.empty():
        if time.monotonic() > deadline:
            raise RuntimeError("the watcher's first rescan never finished")
        time.sleep(0.05)
    return stop, running


def poll(check, what, timeout=30, interval=0.002):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"never saw {what}")
        time.sleep(interval)
    return time.perf_counter()


class Change:
    """One change on the engine, timed until the ledger's row and the
    /volumes/ page (filtered by the change's own owner label) show it."""

    def __init__(self, maker, endpoint, page, number):
        self.maker, self.endpoint, self.page = maker, endpoint, page
        self.owner = f"events-{TOKEN}-{number}"
        self.volume = f"dchweb-audit-{TOKEN}-events-{number}"

    def row(self):
        from hosts.models import Volume

        return Volume.objects.filter(endpoint=self.endpoint, name=self.volume).first()

    def page_html(self):
        client, headers = self.page
        return client.get("/volumes/", {"owner": self.owner}, **headers).content

    def make_volume(self):
        self.maker.client().create_volume(
            name=self.volume, labels={BENCH_LABEL: TOKEN, "io.dchweb.owner": self.owner}
        )

        def row_shows():
            row = self.row()
            return row is not None and row.present

        return row_shows, lambda: self.volume.encode() in self.page_html()

    def container_at_once(self):
        """A container on the volume (and another bench volume in its other
        VOLUME path: no anonymous ones), removed at once."""
        client = self.maker.client()
        name = f"dchweb-audit-{TOKEN}-{self.owner}"
        binds = {
            self.volume: {"bind": "/var/lib/docker", "mode": "rw"},
            self.maker.volume_name(0): {"bind": "/certs", "mode": "rw"},
        }
        created = client.create_container(
            self.maker.devstack["image"],
            entrypoint=["true"],
            name=name,
            labels={BENCH_LABEL: TOKEN},
            host_config=client.create_host_config(
                binds=binds, network_mode=self.maker.devstack["network"]
            ),
        )
        client.remove_container(created["Id"])

        def row_shows():
            row = self.row()
            return row.last_container == name and row.status != "in_use"

        return row_shows, lambda: name.encode() in self.page_html()

    def remove_volume(self):
        self.maker.client().remove_volume(self.volume)
        return (
            lambda: not self.row().present,
            lambda: self.volume.encode() not in self.page_html(),
        )


def bench_events(endpoint, admin, maker, containers, counter, runs=EVENT_RUNS):
    """Each kind of change `runs` times with the watcher running: the engine
    calls it made for the change and the time until the row and the page
    showed it; and how many of the containers removed at once the watcher
    inspected in time. Returns {kind: [(calls, row seconds, page seconds)]}."""
    kinds = {
        "volume created": Change.make_volume,
        "container created and removed at once": Change.container_at_once,
        "volume removed": Change.remove_volume,
    }
    page = _common.in_process_client(user=admin)
    stop, running = start_watcher(endpoint, containers)
    found = {kind: [] for kind in kinds}
    try:
        for number in range(runs):
            change = Change(maker, endpoint, page, number)
            for kind, make in kinds.items():
                with counter.counting(watcher_thread):
                    started = time.perf_counter()
                    row_shows, page_shows = make(change)
                    row_at = poll(row_shows, f"{kind}: the row")
                    calls = list(counter.sent)
                page_at = poll(page_shows, f"{kind}: the page")
                found[kind].append((calls, row_at - started, page_at - started))
                time.sleep(0.2)  # the next change starts from a quiet watcher
    finally:
        stop.set()
    creates = [
        event
        for event in running.applied
        if (event.kind, event.action) == ("container", "create")
        and event.name.startswith(f"dchweb-audit-{TOKEN}-events-")
    ]
    late = sum(event.volumes_announced for event in creates)
    say(
        f"containers removed at once: {len(creates) - late} of {len(creates)} "
        "inspected before their removal; the others got their announced volumes"
    )
    return found


def path_shape(request):
    """`GET /v1.41/volumes/<name>`: a request without its object's name."""
    method, path = request.split(" ", 1)
    path = re.sub(r"/(volumes|containers)/[^/?]+", r"/\1/<name>", path.split("?")[0])
    return f"{method} {path}"


def report_events(found, volumes):
    say()
    say(f"events watcher at {volumes} volumes, median of {EVENT_RUNS} changes each:")
    for kind, runs in found.items():
        calls = sorted({len(run[0]) for run in runs})
        paths = "; ".join(sorted({", ".join(map(path_shape, run[0])) for run in runs}))
        say(
            f"  {kind}: engine calls per change {calls} ({paths}); row shows it "
            f"after {statistics.median(run[1] for run in runs) * 1000:.1f} ms "
            f"(max {max(run[1] for run in runs) * 1000:.1f}), /volumes/ after "
            f"{statistics.median(run[2] for run in runs) * 1000:.1f} ms "
            f"(max {max(run[2] for run in runs) * 1000:.1f})"
        )


# --- Django, the server, the load ---------------------------------------------------


def make_world(devstack):
    from django.contrib.auth import get_user_model

    from hosts.accounts import commands as accounts
    from hosts.core import installation
    from hosts.models import AuditEvent
    from tests.support import world

    endpoint = world.devstack_endpoint(devstack, name=f"audit-{TOKEN}")
    password = uuid.uuid4().hex
    admin = get_user_model().objects.create_superuser("audit-admin", password=password)
    _, token = accounts.create_api_token(
        admin, "bench", actor=admin, source=AuditEvent.Source.CLI
    )
    return endpoint, admin, password, token, installation.installation_id()


def page_exists():
    from django.urls import Resolver404, resolve

    try:
        resolve("/volumes/")
    except Resolver404:
        return False
    return True


def queries_per_request(admin, token, targets):
    """Queries and in-process time of one request (after one warm-up)."""
    found = {}
    for name, path, kind in targets:
        if kind == "session":
            client, headers = _common.in_process_client(user=admin)
        else:
            client, headers = _common.in_process_client(token=token)
        client.get(path, **headers)
        alone = _common.median_request_seconds(client, path, headers, 10)
        response, captured = _common.captured_request(client, path, headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} in-process")
        slow = sorted(captured.captured_queries, key=lambda q: -float(q["time"] or 0))[
            :3
        ]
        found[name] = (len(captured), alone, slow)
    return found


def load(url, headers, cookies, requests_total, clients=CLIENTS):
    """requests_total GETs of url from `clients` threads; latencies (s), and
    the wall time of the whole batch."""
    import requests

    local = threading.local()
    failures = []

    def one(_):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers.update(headers)
            session.cookies.update(cookies)
        started = time.perf_counter()
        response = session.get(url, timeout=60)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            failures.append(response.status_code)
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(one, range(requests_total)))
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} answers were not 200: {failures[:5]}")
    return latencies, wall


# --- Main ---------------------------------------------------------------------------


def bench_refresh(args, devstack, maker, endpoint):
    counter = RequestCounter()
    small = min(SMALL, args.volumes)
    have = maker.grow(small, args.containers * small // args.volumes, (0, 0))
    for label in ("first (agrees the API version once a process)", "again"):
        seconds, listing, sent, result = timed_refresh(endpoint, counter)
        say(
            f"refresh at {result.volumes} volumes, {label}: {seconds:.3f} s, "
            f"{sent} HTTP requests ({counter.paths()}); "
            f"engine_calls={result.engine_calls}"
        )
    small_sent = sent
    have = maker.grow(args.volumes, args.containers, have)

    seconds, listing, sent, result = timed_refresh(endpoint, counter)
    say(
        f"first fill at {result.volumes} volumes: {seconds:.3f} s "
        f"(engine listing {listing:.3f} s), {sent} HTTP requests"
    )
    runs, cli = [], []
    for number in range(1, RUNS + 1):
        seconds, listing, sent, result = timed_refresh(endpoint, counter)
        runs.append((seconds, listing, sent))
        cli_seconds, dangling = cli_listing(devstack["docker_url"])
        cli.append(cli_seconds)
        say(
            f"run {number}: refresh {seconds:.3f} s (engine listing {listing:.3f} s, "
            f"ledger {seconds - listing:.3f} s, {sent} HTTP requests: "
            f"{counter.paths()}); CLI {cli_seconds:.3f} s ({dangling} dangling)"
        )
    if args.profile:
        profile_refresh(endpoint)
    refresh_median = statistics.median(run[0] for run in runs)
    listing_median = statistics.median(run[1] for run in runs)
    cli_median = statistics.median(cli)
    ratio = refresh_median / cli_median
    verdict = "meets" if ratio <= REFRESH_GOAL_RATIO else "misses"
    say()
    say(f"volumes on the engine: {result.volumes} (bench {args.volumes})")
    say(
        f"HTTP requests per refresh: {small_sent} at ~{SMALL} volumes, "
        f"{runs[-1][2]} at {result.volumes}"
    )
    say(
        f"refresh median {refresh_median:.3f} s (engine listing {listing_median:.3f}"
        f" s); `docker volume ls -f dangling=true` median {cli_median:.3f} s"
    )
    say(f"ratio refresh/CLI: {ratio:.2f} ({verdict} the goal of <= 2)")
    return counter


def bench_read_path(database, admin, password, token):
    targets = []
    if page_exists():
        targets.append(("page /volumes/", "/volumes/", "session"))
    else:
        say("no /volumes/ page in this tree: measuring the API only")
    api = "/api/v1/volumes?limit=50"
    targets.append((f"API {api}", api, "token"))
    in_process = queries_per_request(admin, token, targets)

    log_path = database.with_name(f"{database.stem}-server.log")
    # The server's own environment: the bench's database, DEBUG off (this
    # process keeps DEBUG on, for the in-process query counts above).
    env = {"DCHWEB_SQLITE_PATH": str(database), "DCHWEB_DEBUG": "0"}
    options = ("--access-logfile", "-")
    try:
        with _common.running_server(log_path, SERVER_WORKERS, options, env) as server:
            cookies = _common.login_cookies(server.url, admin.get_username(), password)
            say()
            for name, path, kind in targets:
                measure(server.url, name, path, kind, token, cookies, in_process)
            say()
            _common.say_server_peaks(server.peak_rss_kib())
    finally:
        log_path.unlink(missing_ok=True)


def measure(url, name, path, kind, token, cookies, in_process):
    """The load on one target, and what one request in-process showed."""
    headers = {} if kind == "session" else {"Authorization": f"Bearer {token}"}
    jar = cookies if kind == "session" else {}
    load(url + path, headers, jar, WARMUP_REQUESTS)
    latencies, wall = load(url + path, headers, jar, REQUESTS)
    p95 = _common.percentile(latencies, 0.95) * 1000
    verdict = "meets" if p95 < P95_GOAL_MS else "misses"
    queries, alone, slow = in_process[name]
    say(
        f"{name}: {REQUESTS} requests, {CLIENTS} clients: median "
        f"{statistics.median(latencies) * 1000:.1f} ms, p95 {p95:.1f} ms "
        f"({verdict} < {P95_GOAL_MS:.0f} ms), max {max(latencies) * 1000:.1f}"
        f" ms, {REQUESTS / wall:.0f} req/s"
    )
    say(
        f"  one request in-process (DEBUG on): {alone * 1000:.1f} ms, "
        f"{queries} queries; slowest: "
        + "; ".join(f"{q['time']} s {q['sql'][:90]}" for q in slow)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=VOLUMES)
    parser.add_argument("--containers", type=int, default=CONTAINERS)
    parser.add_argument("--profile", action="store_true", help="cProfile a refresh")
    parser.add_argument(
        "--no-read-path", action="store_true", help="skip the load on the page and API"
    )
    args = parser.parse_args()
    if args.containers * len(MOUNTS) > args.volumes or args.volumes > VOLUMES:
        parser.error(f"at most {VOLUMES} volumes, at least 4 per container")
    _common.stop_on_sigterm()
    devstack = _common.devstack_values()

    database = _common.var_path(f"bench-audit-{os.getpid()}.sqlite3")
    maker = None

    def clean_up(_failed):
        cleanup(maker, database)

    with _common.guarded_run(clean_up) as run:
        say(f"bench {TOKEN}: database {database.name}, label {BENCH_LABEL}={TOKEN}")
        _common.setup_django(database)
        endpoint, admin, password, token, installation_id = make_world(devstack)
        maker = Maker(devstack, installation_id)
        maker.ensure_image()
        counter = bench_refresh(args, devstack, maker, endpoint)
        found = bench_events(endpoint, admin, maker, args.containers, counter)
        report_events(found, args.volumes)
        if not args.no_read_path:
            bench_read_path(database, admin, password, token)
        say(f"bench process peak RSS: {_common.own_peak_rss_mib():.1f} MiB")
    return 0 if run.ok else 1


def cleanup(maker, database):
    """Engine objects, then files; a second Ctrl-C does not cut it short."""
    with _common.uninterruptible():
        if maker is not None:
            started = time.perf_counter()
            containers, volumes, left = maker.remove_all()
            say(
                f"clean-up: removed {containers} containers and {volumes} volumes "
                f"in {time.perf_counter() - started:.1f} s; {left} left"
            )
        _common.remove_database(database)


if __name__ == "__main__":
    sys.exit(main())
