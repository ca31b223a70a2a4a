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
3. Peak RSS (VmHWM) of this process and of the server's processes.

Everything (containers, volumes, the server, the database) is removed at the
end, on errors and on Ctrl-C too. `--profile` prints a cProfile of one
refresh; `--volumes/--containers` scale it down for a quick try.
"""

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = uuid.uuid4().hex[:8]
BENCH_LABEL = "io.dchweb.bench"
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


def say(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def required(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(
            f"{name} is not set: run this inside the devstack: "
            "devstack/up && devstack/exec .venv/bin/python bench/audit.py"
        )
    return value


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


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
    """Counts the HTTP requests this thread sends through requests (which
    docker-py's APIClient is), while `counting`."""

    def __init__(self):
        import requests

        self.sent = []
        self.thread = None
        self.original = requests.Session.send
        counter = self

        def send(session, request, **kwargs):
            if counter.thread == threading.get_ident():
                counter.sent.append(
                    f"{request.method} {re.sub(r'^[a-z+]+://[^/]*', '', request.url)}"
                )
            return counter.original(session, request, **kwargs)

        requests.Session.send = send

    @contextlib.contextmanager
    def counting(self):
        self.sent, self.thread = [], threading.get_ident()
        try:
            yield self
        finally:
            self.thread = None

    def paths(self):
        return ", ".join(path.split("?")[0] for path in self.sent)


def timed_refresh(endpoint, counter):
    """(seconds, engine listing seconds, HTTP requests, RefreshResult)."""
    from hosts import engine, volumes

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
            result = volumes.refresh(endpoint)
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
    from hosts import volumes

    profile = cProfile.Profile()
    profile.enable()
    volumes.refresh(endpoint)
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(30)
    say(text.getvalue())


# --- Django, the server, the load ---------------------------------------------------


def setup_django(database):
    os.environ["DCHWEB_SQLITE_PATH"] = str(database)
    # A fresh database makes a fresh installation id: the bench's own label.
    os.environ.pop("DCHWEB_INSTALLATION_ID", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dchweb.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_world(devstack):
    from django.contrib.auth import get_user_model

    from hosts import installation, services
    from hosts.models import AuditEvent
    from tests.support import world

    endpoint = world.devstack_endpoint(devstack, name=f"audit-{TOKEN}")
    password = uuid.uuid4().hex
    admin = get_user_model().objects.create_superuser("audit-admin", password=password)
    _, token = services.create_api_token(
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
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    found = {}
    for name, path, kind in targets:
        client = Client(HTTP_HOST="127.0.0.1")
        headers = {}
        if kind == "session":
            client.force_login(admin)
        else:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        client.get(path, **headers)
        times = []
        for _ in range(10):
            started = time.perf_counter()
            response = client.get(path, **headers)
            times.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} in-process")
        slow = sorted(captured.captured_queries, key=lambda q: -float(q["time"] or 0))[
            :3
        ]
        found[name] = (len(captured), statistics.median(times), slow)
    return found


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn dchweb.wsgi on 127.0.0.1, on the bench's database."""

    def __init__(self, database, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = dict(os.environ, DCHWEB_SQLITE_PATH=str(database), DCHWEB_DEBUG="0")
        gunicorn = Path(sys.executable).parent / "gunicorn"
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *(str(gunicorn), "dchweb.wsgi", "-b", f"127.0.0.1:{self.port}"),
                    *("-w", str(SERVER_WORKERS), "--access-logfile", "-"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout=60):
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{self.url}/accounts/login/", timeout=2)
                return
            time.sleep(0.2)
        raise RuntimeError(f"the server never answered:\n{self.log_tail()}")

    def log_tail(self):
        return self.log_path.read_text(errors="replace")[-3000:]

    def peak_rss_kib(self):
        """VmHWM of the master and of each worker."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            pids += [int(pid) for pid in children.read_text().split()]
        peaks = []
        for index, pid in enumerate(pids):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        role = "master" if index == 0 else "worker"
                        peaks.append((role, pid, int(line.split()[1])))
        return peaks

    def stop(self, timeout=20):
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)


def login_cookies(url, username, password):
    """A session cookie through the login form, as a browser gets one."""
    import requests

    with requests.Session() as session:
        form = session.get(f"{url}/accounts/login/", timeout=10)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        answer = session.post(
            f"{url}/accounts/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": csrf[1] if csrf else "",
            },
            headers={"Referer": f"{url}/accounts/login/"},
            timeout=10,
            allow_redirects=False,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"login failed: {answer.status_code}")
        return session.cookies.get_dict()


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


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- Main ---------------------------------------------------------------------------


def devstack_values():
    registry_password = (
        Path(required("DCHWEB_REGISTRY_PASSWORD_FILE")).read_text().strip()
    )
    return {
        "docker_url": required("DCHWEB_DOCKER_URL"),
        "network": required("DCHWEB_DEVSTACK_NETWORK"),
        "image": required("DCHWEB_BUILD_HOST_IMAGE"),
        "registry": required("DCHWEB_REGISTRY"),
        "registry_ca": Path(required("DCHWEB_REGISTRY_CA")).read_bytes(),
        "registry_user": required("DCHWEB_REGISTRY_USER"),
        "registry_password": registry_password,
        "registry_auth": {
            "username": required("DCHWEB_REGISTRY_USER"),
            "password": registry_password,
            "serveraddress": required("DCHWEB_REGISTRY"),
        },
    }


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


def bench_read_path(database, admin, password, token):
    targets = []
    if page_exists():
        targets.append(("page /volumes/", "/volumes/", "session"))
    else:
        say("no /volumes/ page in this tree: measuring the API only")
    api = "/api/v1/volumes?limit=50"
    targets.append((f"API {api}", api, "token"))
    in_process = queries_per_request(admin, token, targets)

    from django.db import connections

    connections.close_all()
    server = Server(database, database.with_name(f"{database.stem}-server.log"))
    try:
        server.wait_ready()
        say(f"server {server.process.pid} on {server.url}: {SERVER_WORKERS} workers")
        cookies = login_cookies(server.url, admin.get_username(), password)
        say()
        for name, path, kind in targets:
            headers = {} if kind == "session" else {"Authorization": f"Bearer {token}"}
            jar = cookies if kind == "session" else {}
            load(server.url + path, headers, jar, WARMUP_REQUESTS)
            latencies, wall = load(server.url + path, headers, jar, REQUESTS)
            p95 = percentile(latencies, 0.95) * 1000
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
        say()
        peaks = server.peak_rss_kib()
        for role, pid, kib in peaks:
            say(f"server peak RSS (VmHWM), {role} {pid}: {kib / 1024:.1f} MiB")
        total = sum(peak[2] for peak in peaks) / 1024
        say(f"server peak RSS, all processes: {total:.1f} MiB")
    finally:
        server.stop()
        if server.process.returncode not in (0, -signal.SIGTERM):
            say(f"server log tail:\n{server.log_tail()}")
        server.log_path.unlink(missing_ok=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=VOLUMES)
    parser.add_argument("--containers", type=int, default=CONTAINERS)
    parser.add_argument("--profile", action="store_true", help="cProfile a refresh")
    args = parser.parse_args()
    if args.containers * len(MOUNTS) > args.volumes or args.volumes > VOLUMES:
        parser.error(f"at most {VOLUMES} volumes, at least 4 per container")
    signal.signal(signal.SIGTERM, _interrupt)
    devstack = devstack_values()

    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    database = var / f"bench-audit-{os.getpid()}.sqlite3"
    maker = None
    ok = False
    try:
        say(f"bench {TOKEN}: database {database.name}, label {BENCH_LABEL}={TOKEN}")
        setup_django(database)
        endpoint, admin, password, token, installation_id = make_world(devstack)
        maker = Maker(devstack, installation_id)
        maker.ensure_image()
        bench_refresh(args, devstack, maker, endpoint)
        bench_read_path(database, admin, password, token)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        say(f"bench process peak RSS: {rss / 1024:.1f} MiB")
        ok = True
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
    finally:
        cleanup(maker, database)
    return 0 if ok else 1


def cleanup(maker, database):
    """Engine objects, then files; a second Ctrl-C does not cut it short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if maker is not None:
            started = time.perf_counter()
            containers, volumes, left = maker.remove_all()
            say(
                f"clean-up: removed {containers} containers and {volumes} volumes "
                f"in {time.perf_counter() - started:.1f} s; {left} left"
            )
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
