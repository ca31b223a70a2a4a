"""What the bench scripts share: set-up, the processes they start, the figures
they read about them, and their clean-up.

Every script here makes throwaway things (a SQLite database under var/, a data
folder, Celery workers or a gunicorn server, objects on the devstack engine)
and must remove them at the end, on errors and on Ctrl-C / SIGTERM too. The
pieces for that live here once, so that every script does it the same way.

The scripts put the repository root on sys.path and import this module as
`bench._common`; it does nothing at import time but pick the run's token, and
imports Django, docker-py and requests only inside the functions that use them
(a script's --help must work before Django is set up).
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
# One token a run, in the names and the io.dchweb.bench label of everything the
# run makes on the engine, so that the clean-up finds all of it by label.
TOKEN = uuid.uuid4().hex[:8]
BENCH_LABEL = "io.dchweb.bench"
# As hosts.provisioning: how long a new build host may take to answer /_ping.
READY_TIMEOUT_SECONDS = 120
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def provision_steps():
    """dchweb's provisioning steps in order (hosts.provisioning can only be
    imported once Django is set up); the direct side ends the same."""
    from hosts.buildhosts import provisioning

    return provisioning.STEPS


# --- Output, signals --------------------------------------------------------------


def say(text=""):
    """Print a line at once: runs are long, and their output is often piped."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def stop_on_sigterm():
    """Make SIGTERM act as Ctrl-C, so that a killed bench still runs its
    clean-up (the `finally` blocks) instead of leaving everything behind."""
    signal.signal(signal.SIGTERM, _interrupt)


@contextlib.contextmanager
def uninterruptible():
    """Ignore Ctrl-C inside: a second Ctrl-C must not cut a clean-up short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Run:
    """How a bench run ended: `ok` once its block finished, `failed` after an
    error (the clean-up then keeps logs to look at)."""

    ok = False
    failed = False


@contextlib.contextmanager
def guarded_run(clean_up):
    """Run the block, then clean_up(failed) whatever happens. Ctrl-C (and
    SIGTERM, after stop_on_sigterm) ends the block quietly: the clean-up is
    the answer to it. Any other error goes on up after the clean-up, so its
    traceback comes last. Yields the Run."""
    run = Run()
    try:
        yield run
        run.ok = True
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
    except Exception:
        run.failed = True
        raise
    finally:
        clean_up(run.failed)


# --- The devstack --------------------------------------------------------------------


def required(name):
    """An environment variable devstack/exec sets; without it, say how to run."""
    value = os.environ.get(name)
    if not value:
        script = Path(sys.argv[0]).name
        sys.exit(
            f"{name} is not set: run this inside the devstack: "
            f"devstack/up && devstack/exec .venv/bin/python bench/{script}"
        )
    return value


BUSYBOX = Path("/bin/busybox")


def busybox_bytes() -> bytes:
    """The static busybox the pipelines' build context copies in (FROM scratch)."""
    if not BUSYBOX.exists():
        sys.exit(f"{BUSYBOX} is missing: devstack/up installs busybox-static")
    return BUSYBOX.read_bytes()


def devstack_values(*, needs_redis=False):
    """The devstack's engine, network, build-host image and registry (with
    its CA and login), as the tests' tests/support/world.py takes them.
    `needs_redis`: the caller starts Celery workers, so it needs the broker."""
    registry_password = (
        Path(required("DCHWEB_REGISTRY_PASSWORD_FILE")).read_text().strip()
    )
    values = {
        "docker_url": required("DCHWEB_DOCKER_URL"),
        "network": required("DCHWEB_DEVSTACK_NETWORK"),
        "image": required("DCHWEB_BUILD_HOST_IMAGE"),
        "registry": required("DCHWEB_REGISTRY"),
        "registry_ca": Path(required("DCHWEB_REGISTRY_CA")).read_bytes(),
        "registry_user": required("DCHWEB_REGISTRY_USER"),
        "registry_password": registry_password,
    }
    if needs_redis:
        required("DCHWEB_REDIS_URL")
    values["registry_auth"] = {
        "username": values["registry_user"],
        "password": registry_password,
        "serveraddress": values["registry"],
    }
    return values


# --- The throwaway database -------------------------------------------------------


def var_path(name):
    """A file under var/ (made if missing), where the bench keeps its
    database and logs: the folder git ignores, beside the dashboard's own."""
    VAR.mkdir(exist_ok=True)
    return VAR / name


def setup_django(database, *, queue=None, data_dir=None, debug_off=False):
    """Django on a fresh SQLite database, migrated. Settings come from the
    environment, so everything is set there before django.setup(), and the
    subprocesses started later (workers, server) inherit it.

    queue: the Celery queue of this run (tasks sent here go there, and only
    the bench's own workers listen to it). data_dir: DCHWEB_DATA_DIR
    (contexts and build logs). debug_off: DCHWEB_DEBUG=0 in this process too.
    """
    os.environ["DCHWEB_SQLITE_PATH"] = str(database)
    if queue is not None:
        os.environ["DCHWEB_TASK_QUEUE"] = queue
    if data_dir is not None:
        os.environ["DCHWEB_DATA_DIR"] = str(data_dir)
    if debug_off:
        os.environ["DCHWEB_DEBUG"] = "0"
    # A fresh database makes a fresh installation id: the bench's own label.
    os.environ.pop("DCHWEB_INSTALLATION_ID", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dchweb.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if queue is not None:
        from dchweb.celery import app

        app.conf.task_default_queue = queue


def devstack_world(devstack):
    """The devstack endpoint and registry rows and a developer `bench`:
    what provisioning a build host through dchweb needs. Returns (endpoint,
    registry, user, installation id)."""
    from django.contrib.auth import get_user_model

    from hosts.core import installation
    from tests.support import world

    endpoint = world.devstack_endpoint(devstack)
    registry = world.devstack_registry(devstack)
    user = world.developer(get_user_model(), username="bench")
    return endpoint, registry, user, installation.installation_id()


def bench_admin():
    """An admin `bench-admin`: who sets an endpoint's pool."""
    from django.contrib.auth import get_user_model

    from tests.support import world

    return world.admin(get_user_model(), username="bench-admin")


def close_database_connections():
    """Close this process's connections, if Django is loaded: before a server
    uses the same SQLite file, and before the file is deleted."""
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()


def remove_database(database):
    """The SQLite file and the WAL, shared-memory and journal files beside it."""
    close_database_connections()
    for suffix in SQLITE_SUFFIXES:
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def remove_data_dir(data_dir):
    shutil.rmtree(data_dir, ignore_errors=True)


# --- Processes the bench starts ---------------------------------------------------


def vm_hwm_kib(pid="self"):
    """A live process's peak resident memory (VmHWM, KiB); None once it is
    gone (the kernel forgets it with the process, so read it before a stop)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def own_peak_rss_mib():
    return vm_hwm_kib() / 1024


def process_tree_peaks(pid, roles):
    """[(role, pid, VmHWM KiB)] of a process and of its children (a Celery
    worker's pool, gunicorn's workers): roles[0] for it, roles[1] for each
    child."""
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        pids += [int(child) for child in children.split()]
    peaks = []
    for index, one in enumerate(pids):
        kib = vm_hwm_kib(one)
        if kib is not None:
            peaks.append((roles[0] if index == 0 else roles[1], one, kib))
    return peaks


class Child:
    """A subprocess of the bench, its output in a log file, in a session of
    its own: a Ctrl-C in the terminal reaches only the bench, which then stops
    it (and its children, the whole process group) in order."""

    ROLES = ("main", "child")  # for peak_rss_kib: the process, each child
    title = "the process"  # for errors: "<title> exited", "never answered"

    def __init__(self, command, log_path, env):
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self):
        return self.log_path.read_text(errors="replace")[-3000:]

    def wait_until(self, answers, timeout):
        """Call answers() until it says True; fail, with the log's tail, if
        the process exits first or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.title} exited:\n{self.log_tail()}")
            if answers():
                return
        raise RuntimeError(f"{self.title} never answered:\n{self.log_tail()}")

    def peak_rss_kib(self):
        return process_tree_peaks(self.process.pid, self.ROLES)

    def stop(self, timeout=20):
        """SIGTERM to the group (a graceful stop), SIGKILL if that hangs."""
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


class Worker(Child):
    """`celery -A dchweb worker --concurrency 1` on the bench's queue and
    database. `node`: its name (the queue's by default); workers sharing a
    queue need names of their own, and a worker started again under its old
    name frees its previous life's leases at once. `env`: variables on top
    (another database's, when `database` is None)."""

    ROLES = ("main", "pool")

    def __init__(self, queue, database, log_path, node=None, env=None):
        self.queue = queue
        self.node = node or queue
        self.title = f"worker {node}" if node else "the worker"
        env = {**os.environ, "DCHWEB_TASK_QUEUE": queue, **(env or {})}
        if database is not None:
            env["DCHWEB_SQLITE_PATH"] = str(database)
        command = [
            *(sys.executable, "-m", "celery", "-A", "dchweb", "worker"),
            *("-Q", queue, "--concurrency", "1", "-n", f"{self.node}@%h"),
            *("-l", "info"),
        ]
        super().__init__(command, log_path, env)

    def wait_ready(self, timeout=60):
        """Until the worker answers a Celery ping under its own node name."""
        from kombu.exceptions import OperationalError
        from redis.exceptions import RedisError

        from dchweb.celery import app

        def answers():
            try:
                replies = app.control.ping(timeout=1.0)
            except (OperationalError, RedisError):
                # Redis restarting (the fault tests do that).
                time.sleep(0.5)
                return False
            names = (name for reply in replies for name in reply)
            return any(name.startswith(f"{self.node}@") for name in names)

        self.wait_until(answers, timeout)


def start_numbered_worker(queue, database, index, workers) -> Worker:
    """Worker number `index` on the bench's queue, appended to `workers`
    (so the clean-up stops it even if it never answers), once it answers."""
    log = var_path(f"bench-{os.getpid()}-worker{index}.log")
    worker = Worker(queue, database, log, node=f"{queue}-w{index}")
    workers.append(worker)
    worker.wait_ready()
    say(f"worker {worker.node} (pid {worker.process.pid}) ready")
    return worker


def remove_queue(queue):
    """The queue's keys in Redis: its lists and its exchange bindings. A
    no-op when Django was never loaded (there is no Celery app then)."""
    if "django" not in sys.modules:
        return
    from dchweb.celery import app

    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        names = [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
        names += client.scan_iter(match=f"{queue}*")
        client.delete(*names)


def free_port():
    """A TCP port free on 127.0.0.1 now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server(Child):
    """gunicorn dchweb.wsgi on 127.0.0.1 only, with `workers` sync workers.
    `env`: variables on top of this process's (its database, DEBUG off)."""

    ROLES = ("master", "worker")
    title = "the server"

    def __init__(self, log_path, workers, options=(), env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        gunicorn = Path(sys.executable).parent / "gunicorn"
        command = [
            *(str(gunicorn), "dchweb.wsgi", "-b", f"127.0.0.1:{self.port}"),
            *("-w", str(workers), *options),
        ]
        super().__init__(command, log_path, dict(os.environ, **(env or {})))

    def wait_ready(self, timeout=60):
        """Until the login page answers (any status: the app is loaded)."""
        import requests

        def answers():
            try:
                requests.get(f"{self.url}/accounts/login/", timeout=2)
            except requests.RequestException:
                time.sleep(0.2)
                return False
            return True

        self.wait_until(answers, timeout)


@contextlib.contextmanager
def running_server(log_path, workers, options=(), env=None):
    """A Server, ready, for the length of a `with` block; stopped after it,
    with its log's tail printed if it did not stop cleanly."""
    # The server's processes open the SQLite file themselves: this process
    # holds no connection (and so no lock) on it meanwhile.
    close_database_connections()
    server = Server(log_path, workers, options, env)
    try:
        server.wait_ready()
        say(f"server {server.process.pid} on {server.url}: {workers} workers")
        yield server
    finally:
        server.stop()
        if server.process.returncode not in (0, -signal.SIGTERM):
            say(f"server log tail:\n{server.log_tail()}")


def say_server_peaks(peaks):
    for role, pid, kib in peaks:
        say(f"server peak RSS (VmHWM), {role} {pid}: {kib / 1024:.1f} MiB")
    total = sum(peak[2] for peak in peaks) / 1024
    say(f"server peak RSS, all processes: {total:.1f} MiB")


def login_cookies(url, username, password):
    """The cookies a login through the form gives (the session cookie among
    them), as for a browser: the page's CSRF token, then the POST."""
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
        if answer.status_code != 302 or "sessionid" not in session.cookies:
            raise RuntimeError(f"login as {username} failed: {answer.status_code}")
        return session.cookies.get_dict()


# --- One request in this process ------------------------------------------------


def in_process_client(*, user=None, token=None):
    """A django.test.Client for one role: logged in as `user` (a page's
    session), else sending `token` (the API's bearer). Returns (client, the
    headers to pass to client.get)."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    headers = {}
    if user is not None:
        client.force_login(user)
    else:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client, headers


def captured_request(client, path, headers):
    """One GET, with its SQL queries captured (they are kept even with DEBUG
    off). Returns (response, the CaptureQueriesContext)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **headers)
    return response, captured


def median_request_seconds(client, path, headers, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(path, **headers)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def percentile(values, fraction):
    """The nearest-rank percentile (fraction 0.95: p95) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- The direct side: a build host by hand with docker-py -----------------------


class StepClock:
    """Seconds per named step, each from the end of the one before: call it
    with a step's name when the step ends."""

    def __init__(self):
        self.steps = {}
        self.started = self.mark = time.perf_counter()

    def __call__(self, name):
        now = time.perf_counter()
        self.steps[name] = now - self.mark
        self.mark = now

    def elapsed(self):
        return time.perf_counter() - self.started


class Direct:
    """A build host as an admin would start it with docker-py on the same
    engine, with the options dchweb uses (tests/support/buildhost.py):
    the side dchweb is compared with."""

    def __init__(self, devstack, workdir):
        import docker

        self.devstack = devstack
        self.workdir = workdir
        self.client = docker.DockerClient(base_url=devstack["docker_url"], timeout=120)
        self.client.api.trust_env = False

    def start_build_host(self, number, step):
        """Pull (with the registry login), two named volumes, the container,
        the six TLS files and the registry CA by put_archive, start, /_ping
        over mutual TLS every 0.25 s (as hosts.provisioning): dchweb's
        provisioning steps to `wait_ready`, each ended by step(its name).
        Returns (container, {volume name: bind}, url, client certificates)."""
        from tests.support import pki
        from tests.support.buildhost import (
            DIND_OPTIONS,
            registry_ca_files,
            stream_errors,
            tar_of,
            tlsverify_files,
            wait_until_pinged,
            write_client_files,
        )

        devstack = self.devstack
        name = f"dchweb-bench-{TOKEN}-{number}"
        labels = {BENCH_LABEL: TOKEN}

        repository, tag = devstack["image"].rsplit(":", 1)
        chunks = self.client.api.pull(
            repository,
            tag=tag,
            stream=True,
            decode=True,
            auth_config=devstack["registry_auth"],
        )
        errors = stream_errors(chunks)
        if errors:
            raise RuntimeError(f"pull failed: {errors}")
        step("pull_image")

        binds = {}
        for suffix, path in (("data", "/var/lib/docker"), ("certs", "/certs")):
            volume = self.client.volumes.create(name=f"{name}-{suffix}", labels=labels)
            binds[volume.name] = {"bind": path, "mode": "rw"}
        step("create_volumes")

        container = self.client.containers.create(
            devstack["image"],
            command=["-tlsverify"],
            name=name,
            labels=labels,
            detach=True,
            volumes=binds,
            ports={"2376/tcp": ("127.0.0.1", None)},
            network=devstack["network"],
            **DIND_OPTIONS,
        )
        step("create_container")

        # Certificates are made here, as dchweb makes them in this step.
        ca = pki.make_ca(f"bench build host {name}")
        server = ca.issue_server(name, [name], ["127.0.0.1"])
        client_pair = ca.issue_client("bench")
        cert_dir = write_client_files(self.workdir / name, ca, client_pair)
        files = tlsverify_files(ca, server, client_pair)
        files.update(registry_ca_files(devstack["registry"], devstack["registry_ca"]))
        if not container.put_archive("/", tar_of(files)):
            raise RuntimeError("the engine refused the archive")
        step("inject_certs")

        container.start()
        container.reload()
        port = int(container.ports["2376/tcp"][0]["HostPort"])
        step("start")

        url = f"https://127.0.0.1:{port}"
        wait_until_pinged(url, cert_dir, timeout=READY_TIMEOUT_SECONDS)
        step("wait_ready")
        return container, binds, url, cert_dir

    def registry_login(self, build_host):
        """A registry login from the build host (dchweb's verify_registry),
        with no config file: nothing of the machine's docker login is used."""
        devstack = self.devstack
        build_host.login(
            username=devstack["registry_user"],
            password=devstack["registry_password"],
            registry=devstack["registry"],
            reauth=True,
            dockercfg_path="/nonexistent/dchweb-bench/config.json",
        )

    def remove_volumes(self, names):
        for name in names:
            self.client.volumes.get(name).remove()

    def remove_labelled(self, key, value):
        """Remove every container, then every volume, labelled key=value."""
        import docker.errors

        label = {"label": f"{key}={value}"}
        count = 0
        for container in self.client.containers.list(all=True, filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
                count += 1
        for volume in self.client.volumes.list(filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)
                count += 1
        return count

    def remove_leftovers(self, installation_id):
        """What a run left on the engine: by the bench's label, and by the
        throwaway database's installation id (what dchweb made for it)."""
        removed = self.remove_labelled(BENCH_LABEL, TOKEN)
        if installation_id:
            removed += self.remove_labelled("io.dchweb.installation", installation_id)
        if removed:
            say(f"clean-up: removed {removed} leftover containers/volumes")
        self.client.close()


# --- Direct against dchweb: runs and report --------------------------------------


def interleaved_runs(sides, runs):
    """One untimed warm-up of each side, then `runs` rounds taking the sides in
    turn (direct, dchweb, direct, ...), so that a slow spell of the machine
    hits both alike. sides: ((name, run(number) -> (seconds, {step: s})), ...).
    Returns (times, steps, warm-ups), each by side name."""
    warmups = {}
    for side, run in sides:
        warmups[side], _ = run(0)
        say(f"warm-up {side}: {warmups[side]:.3f} s")
    times = {side: [] for side, _ in sides}
    steps = {side: [] for side, _ in sides}
    for number in range(1, runs + 1):
        for side, run in sides:
            seconds, detail = run(number)
            times[side].append(seconds)
            steps[side].append(detail)
            say(f"run {number} {side}: {seconds:.3f} s")
    return times, steps, warmups


def say_runs(times, steps, warmups, goal, *, warmups_are, stamp, stamp_is):
    """Each run, the medians, the warm-ups, the ratio dchweb/direct against
    the goal (None: no goal), and the same ratio with dchweb's time ended by
    the worker's own stamp (steps' `stamp`: free of the bench's polling)."""
    direct, dchweb = times["direct"], times["dchweb"]
    say()
    say(f"{'run':>4}  {'direct s':>9}  {'dchweb s':>9}")
    for index, (one, other) in enumerate(zip(direct, dchweb, strict=True), 1):
        say(f"{index:>4}  {one:>9.3f}  {other:>9.3f}")
    direct_median = statistics.median(direct)
    dchweb_median = statistics.median(dchweb)
    ratio = dchweb_median / direct_median
    say(f"{'med':>4}  {direct_median:>9.3f}  {dchweb_median:>9.3f}")
    say(
        f"warm-up ({warmups_are}): direct {warmups['direct']:.3f} s, "
        f"dchweb {warmups['dchweb']:.3f} s"
    )
    if goal is None:
        say(f"ratio dchweb/direct: {ratio:.3f} (no goal of its own)")
    else:
        verdict = "meets" if ratio <= goal else "misses"
        say(f"ratio dchweb/direct: {ratio:.3f} ({verdict} the goal of <= {goal})")
    stamped = statistics.median(run[stamp] for run in steps["dchweb"])
    say(
        f"dchweb to {stamp_is} (no polling delay): median {stamped:.3f} s, "
        f"ratio {stamped / direct_median:.3f}"
    )


def say_step_medians(steps, names, row):
    """The table of median seconds per step, direct and dchweb; `row` is the
    format of a line: (step name, direct cell, dchweb cell)."""
    say(row.format("step", f"{'direct':>7}", f"{'dchweb':>7}"))
    for name in names:
        cells = []
        for side in ("direct", "dchweb"):
            values = [run[name] for run in steps[side] if run.get(name) is not None]
            cells.append(f"{statistics.median(values):>7.3f}" if values else "      -")
        say(row.format(name, *cells))


def stop_and_clean_up(workers, direct, installation_id, queue, database, failed):
    """The clean-up of a bench that ran Celery workers, uninterruptible:
    workers first (so that they make nothing more), then what is left on the
    engine, the Redis queue, the database files; the workers' logs are kept
    after a failure (and said so), removed otherwise."""
    with uninterruptible():
        for worker in workers:
            worker.stop()
        if direct is not None:
            direct.remove_leftovers(installation_id)
        close_database_connections()
        with contextlib.suppress(Exception):
            remove_queue(queue)
        remove_database(database)
        for worker in workers:
            if failed:
                say(f"worker log kept: {worker.log_path}")
            else:
                worker.log_path.unlink(missing_ok=True)


class WorkerBench:
    """A bench with Celery workers on the devstack, as worker_bench() sets it
    up: its throwaway database, queue and folders, the devstack world (the
    endpoint, registry and developer), the direct side, the workers it
    starts (start_worker) and how the run ended (`run`)."""

    def __init__(self, devstack, database, queue, workdir, data_dir):
        self.devstack = devstack
        self.database = database
        self.queue = queue
        self.workdir = workdir
        self.data_dir = data_dir
        self.workers = []
        self.direct = None
        self.installation_id = None
        self.endpoint = self.registry = self.user = None
        self.run = None

    def start_worker(self, index=1) -> "Worker":
        return start_numbered_worker(self.queue, self.database, index, self.workers)


@contextlib.contextmanager
def worker_bench(direct_class, *, data_dir=False, also_clean_up=None):
    """Set up what every bench with Celery workers needs and clean it up
    whatever happens (guarded_run): SIGTERM as Ctrl-C, the devstack's
    values, a throwaway SQLite database under var/, the run's queue, a work
    folder for the direct side (`direct_class(devstack, workdir)`), and with
    `data_dir` a throwaway DCHWEB_DATA_DIR (contexts, build logs). Django is
    set up on them and the devstack world made. The clean-up stops the
    workers first (so they make nothing more), then removes engine objects,
    the Redis queue, the database, the folders, and calls
    `also_clean_up(bench, failed)` (what only that bench made). Yields the
    WorkerBench; its `run.ok` says whether the block finished."""
    import tempfile

    stop_on_sigterm()
    devstack = devstack_values(needs_redis=True)
    workdir = tempfile.TemporaryDirectory(prefix="dchweb-bench-")
    bench = WorkerBench(
        devstack,
        var_path(f"bench-{os.getpid()}.sqlite3"),
        f"dchweb-bench-{TOKEN}",
        Path(workdir.name),
        Path(tempfile.mkdtemp(prefix="dchweb-bench-data-")) if data_dir else None,
    )

    def clean_up(failed):
        stop_and_clean_up(
            bench.workers,
            bench.direct,
            bench.installation_id,
            bench.queue,
            bench.database,
            failed,
        )
        if bench.data_dir is not None:
            remove_data_dir(bench.data_dir)
        if also_clean_up is not None:
            also_clean_up(bench, failed)
        workdir.cleanup()

    with guarded_run(clean_up) as bench.run:
        data = f", data {bench.data_dir}" if bench.data_dir else ""
        say(f"bench {TOKEN}: database {bench.database.name}, queue {bench.queue}{data}")
        # DEBUG off, as deployed: with it on, Django keeps every query and,
        # on SQLite, asks the database again to quote each one's parameters.
        setup_django(
            bench.database,
            queue=bench.queue,
            data_dir=bench.data_dir,
            debug_off=True,
        )
        world = devstack_world(devstack)
        bench.endpoint, bench.registry, bench.user, bench.installation_id = world
        bench.direct = direct_class(devstack, bench.workdir)
        yield bench


def say_worker_peaks(workers):
    """Peak RSS (VmHWM) of each worker's main and pool processes, and of the
    bench's own process: read before the workers stop."""
    say()
    for worker in workers:
        for role, pid, kib in worker.peak_rss_kib():
            say(
                f"worker {worker.node} peak RSS (VmHWM), {role} process {pid}: "
                f"{kib / 1024:.1f} MiB"
            )
    say(f"bench process peak RSS (VmHWM): {own_peak_rss_mib():.1f} MiB")


# --- The warm pool -------------------------------------------------------------------

POOL_FILL_TIMEOUT_SECONDS = 180


def set_pool(admin, endpoint, size, cap=None):
    """The endpoint's pool_size (and its cap, when given) changed by an admin
    as `PATCH /api/v1/endpoints/{id}` does; the refill it sends is the
    bench's workers' to run. Returns the endpoint row as saved."""
    from hosts.endpoints import commands as endpoints
    from hosts.models import AuditEvent

    changes = {"pool_size": size}
    if cap is not None:
        changes["max_build_hosts"] = cap
    return endpoints.patch_endpoint(
        admin, endpoint, changes, source=AuditEvent.Source.API
    )


def wait_for_full_pool(endpoint, timeout=POOL_FILL_TIMEOUT_SECONDS, owner=None):
    """Until the endpoint has pool_size free pool hosts, ready, and, when
    `owner` has a build cache there, a warm host ready on it; returns the
    seconds waited. A pool that never fills is an error (the worker's log
    says why)."""
    started = time.perf_counter()
    while True:
        missing = _pool_missing(endpoint, owner)
        if not missing:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise RuntimeError(
                f"after {timeout} s the pool of {endpoint.name} {missing}"
            )
        time.sleep(0.05)


def _pool_missing(endpoint, owner) -> str:
    """What the pool still lacks, in words ("": nothing)."""
    from hosts.buildhosts import pool
    from hosts.models import BuildHost
    from hosts.volumes import caches

    ready = pool.ready_count(endpoint)
    if ready < endpoint.pool_size:
        return f"has {ready} of {endpoint.pool_size} hosts ready"
    if owner is None:
        return ""
    theirs = caches.caches().filter(endpoint=endpoint, owner_name=owner.get_username())
    if not theirs.exists():
        return ""
    warm = pool.warm_hosts(endpoint).filter(
        pk__in=caches.held_by_owner(owner), state=BuildHost.State.READY
    )
    return "" if warm.exists() else f"has no warm host ready on {owner}'s cache"
