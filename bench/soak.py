"""A soak with chaos: pipelines and page/API load for a bounded time, with one
real part broken every few minutes.

    cd /work/main && devstack/up && devstack/exec .venv/bin/python bench/soak.py

For --minutes (default 15), on a throwaway SQLite database and data folder:
- two Celery workers (--concurrency 1) and `celery beat` on a queue of the
  run's own, and gunicorn (4 workers, 127.0.0.1, DEBUG off);
- ephemeral pipelines back to back, one per worker at a time: create_build()
  with endpoint_id in this process, as bench/pipeline.py (provision, build,
  push, verify the digest, remove the host), each to a repository of its
  own; a new one as soon as one's build is final (RETRY_PAUSE_SECONDS later
  after a failure);
- 20 clients (threads) GETting, in turn, the pages (a session from the
  login form) and API lists (bearer tokens) bench/load.py measures;
- every --fault-every seconds (default 180) one fault, in turn: a worker
  killed with SIGKILL and started again under its name (as a supervisor
  would), Redis restarted, the registry stopped for 30 s, the engine (the
  devstack's dockerd) stopped and started again (tests/support/faults.py).

Then no new pipelines and no clients. Every pipeline must end (build final,
build host removed or failed) within --hung-after seconds of its request,
else it is reported hung; then the periodic pass beat runs
(hosts.tasks.reconcile_endpoints: resume interrupted work, reconcile the
endpoint) is run every few seconds until nothing of the run is left on the
engine and no row is in a non-final state, or --settle seconds have gone.

It prints the pipelines done and failed (a failure must fall in a fault's
window, and say why), the hung ones, the clients' answers, the containers and
volumes left on the engine, rows in a non-final state, the peak RSS (VmHWM) of
the web server and each worker just before the first fault and at the end
(growth under 10 %), Redis's INFO memory and the database's row counts; the
exit status is 1 when one of those rules is broken.

tests/faults/ops/test_soak.py runs the same code (run()) for two minutes.
Everything made here (processes, Redis queue, database, data folder, pushed
manifests, containers and volumes) is removed at the end, on Ctrl-C /
SIGTERM and on errors too; the logs are kept after a failure.
"""

import argparse
import contextlib
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import TOKEN, say

MINUTES = 15
CLIENTS = 20
WORKERS = 2
SERVER_WORKERS = 4
FAULTS = ("worker_killed", "redis_restarted", "registry_stopped", "engine_restarted")
FAULT_EVERY_SECONDS = 180
# Longer than a message lost with Redis waits for the periodic pass: its
# grace (hosts.ops.tasks.QUEUE_GRACE, 60 s) plus beat's interval (60 s).
HUNG_AFTER_SECONDS = 300
SETTLE_SECONDS = 180
SETTLE_PASS_SECONDS = 10
REGISTRY_DOWN_SECONDS = 30
SUPERVISOR_DELAY_SECONDS = 1  # before a killed worker is started again
# What a fault broke may show a little after it is repaired (a step that
# started against the stopped registry fails when it times out).
FAULT_MARGIN_SECONDS = 20
POLL_SECONDS = 0.5
# After a failed or refused pipeline the next request waits this long, as a CI
# job's retry would: a part that is down fails a pipeline in a fraction of a
# second, and back-to-back requests would turn each fault into hundreds.
RETRY_PAUSE_SECONDS = 5
CLIENT_TIMEOUT_SECONDS = 30
MEMORY_GROWTH_LIMIT = 0.10
PASSWORD = "soak-password-1"  # the two client users', set by the soak

# (path, who, how): pages with the session of a login, the API with a token.
TARGETS = (
    ("/", "developer", "page"),
    ("/build-hosts/", "developer", "page"),
    ("/builds/", "developer", "page"),
    ("/endpoints/", "developer", "page"),
    ("/volumes/", "admin", "page"),
    ("/audit/", "admin", "page"),
    ("/api/v1/builds?limit=50", "developer", "api"),
    ("/api/v1/build-hosts?limit=50", "developer", "api"),
    ("/api/v1/volumes?limit=50", "admin", "api"),
    ("/api/v1/audit-events", "admin", "api"),
)


@dataclass
class Plan:
    """How long, how much load, which faults and how often, what bounds."""

    minutes: float = MINUTES
    clients: int = CLIENTS
    faults: tuple = FAULTS
    fault_every: float = FAULT_EVERY_SECONDS
    hung_after: float = HUNG_AFTER_SECONDS
    settle: float = SETTLE_SECONDS

    @property
    def seconds(self):
        return self.minutes * 60

    def fault_times(self):
        """[(seconds from the start, fault)]: one every fault_every, the
        faults in turn, each with a whole interval after it before the end
        (to show what it did)."""
        times, number = [], 1
        while self.faults and (number + 1) * self.fault_every <= self.seconds:
            name = self.faults[(number - 1) % len(self.faults)]
            times.append((number * self.fault_every, name))
            number += 1
        return times

    def first_snapshot_at(self):
        """When memory is first read: just before the first fault, after the
        processes have warmed up on an interval of work."""
        times = self.fault_times()
        return times[0][0] - 5 if times else self.seconds / 4


@dataclass
class World:
    """What the soak acts with: the devstack, its endpoint and registry rows,
    the developer who asks for the pipelines and an admin (the clients act
    as both), and the build context every pipeline builds."""

    devstack: dict
    endpoint: object
    registry: object
    developer: object
    admin: object
    context: bytes


class Clock:
    """Seconds since the soak started."""

    def __init__(self):
        self.started = time.monotonic()

    def __call__(self):
        return time.monotonic() - self.started


# --- The processes ----------------------------------------------------------------


class Beat(_common.Child):
    """`celery -A dchweb beat`: the periodic tasks (probes, volume refresh,
    the reconcile pass that resumes interrupted work) on the soak's queue."""

    title = "celery beat"

    def __init__(self, log_path, schedule, env):
        command = [
            *(sys.executable, "-m", "celery", "-A", "dchweb", "beat"),
            *("-s", str(schedule), "-l", "info"),
        ]
        super().__init__(command, log_path, env)


class Stack:
    """The soak's processes: WORKERS workers, beat and the web server, all on
    the queue and with `env` (the database, the data folder) on top of this
    process's environment. Logs go to log_dir."""

    def __init__(self, queue, env, log_dir):
        self.queue = queue
        self.env = {**env, "DCHWEB_TASK_QUEUE": queue}
        self.log_dir = log_dir
        self.workers = [None] * WORKERS
        self.lives = [0] * WORKERS
        self.restarted_at = {}  # "worker N" -> Clock seconds of its last restart
        self.beat = None
        self.server = None

    def start(self):
        # The server's and workers' processes open the database themselves:
        # this process holds no connection (and so no SQLite lock) meanwhile.
        _common.close_database_connections()
        for index in range(WORKERS):  # all started, then each waited for
            self.start_worker(index, wait=False)
        for worker in self.workers:
            worker.wait_ready()
        schedule = self.log_dir / "beat-schedule"
        env = dict(os.environ, **self.env)
        self.beat = Beat(self.log_dir / "beat.log", schedule, env)
        self.server = _common.Server(
            self.log_dir / "server.log",
            SERVER_WORKERS,
            ("--timeout", "120"),
            env={**self.env, "DCHWEB_DEBUG": "0"},
        )
        self.server.wait_ready()
        say(
            f"workers {', '.join(w.node for w in self.workers)}, beat "
            f"{self.beat.process.pid}, server on {self.server.url} "
            f"({SERVER_WORKERS} workers)"
        )

    def start_worker(self, index, wait=True):
        """Worker `index`, under the same node name in every life, as a
        supervisor starts it: it then frees its previous life's leases."""
        self.lives[index] += 1
        log = self.log_dir / f"worker{index + 1}-life{self.lives[index]}.log"
        worker = _common.Worker(
            self.queue, None, log, node=f"{self.queue}-w{index + 1}", env=self.env
        )
        self.workers[index] = worker
        if wait:
            worker.wait_ready()
        return worker

    def kill_worker(self, index):
        """SIGKILL to the worker's whole process group (main and pool): no
        warm shutdown, no acknowledgement, leases left behind."""
        process = self.workers[index].process
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def peaks_mib(self):
        """{role: peak RSS (VmHWM) MiB, summed over the role's processes}:
        the web server (master and workers) and each worker (main and pool)."""
        found = {"web": _sum_mib(self.server.peak_rss_kib())}
        for index, worker in enumerate(self.workers):
            found[f"worker {index + 1}"] = _sum_mib(worker.peak_rss_kib())
        return found

    def stop(self):
        for child in (self.beat, *self.workers, self.server):
            if child is not None:
                child.stop()


def _sum_mib(peaks):
    return sum(kib for _, _, kib in peaks) / 1024


# --- Pipelines --------------------------------------------------------------------


@dataclass
class Pipeline:
    number: int
    build_id: object
    host_id: object
    submitted: float  # Clock seconds
    state: str = "queued"
    host_state: str = "requested"
    reason: str = ""
    error: str = ""
    ended: float | None = None  # build final and host removed or failed
    faults: list = field(default_factory=list)  # the windows it overlaps

    @property
    def build_final(self):
        from hosts.models import Build

        return self.state in Build.FINAL_STATES

    @property
    def succeeded(self):
        return self.ended is not None and (self.state, self.host_state) == (
            "succeeded",
            "removed",
        )

    @property
    def failed(self):
        return self.ended is not None and not self.succeeded


class Pipelines:
    """Ephemeral pipelines asked for in this process, as bench/pipeline.py
    does, and watched through their rows."""

    def __init__(self, world, clock, made):
        self.world = world
        self.clock = clock
        self.made = made
        self.all = []
        self.refused = []  # (Clock seconds, code: message)
        self.paused_until = 0.0  # Clock seconds; see RETRY_PAUSE_SECONDS

    def in_flight(self):
        return [p for p in self.all if not p.build_final]

    def wanted(self):
        """Whether to ask for another one now: one per worker, and not while
        pausing after a failure."""
        return len(self.in_flight()) < WORKERS and self.clock() >= self.paused_until

    def open(self):
        return [p for p in self.all if p.ended is None]

    def submit(self):
        """Ask for one; False when dchweb refused (the refusal is noted)."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from bench.pipeline import new_repository
        from hosts.builds import commands as builds
        from hosts.core.errors import DchwebError
        from hosts.models import AuditEvent

        number = len(self.all) + len(self.refused) + 1
        world = self.world
        # A repository of its own, as bench/pipeline.py: two pipelines
        # pushing the same layer into one repository at once can make the
        # registry refuse one manifest ("blob unknown"), a race of the
        # registry's, not a fault this soak makes.
        repository = new_repository()
        self.made.pushing(repository, str(number))
        data = {
            "tag": f"{world.registry.address}/{repository}:{number}",
            "endpoint_id": world.endpoint.pk,
            "registry_id": world.registry.pk,
            "push": True,
            "volume_policy": "delete",
        }
        upload = SimpleUploadedFile("context.tar.gz", world.context)
        at = self.clock()
        try:
            build = builds.create_build(
                world.developer, data, upload=upload, source=AuditEvent.Source.API
            )
        except DchwebError as error:
            self.refused.append((at, f"{error.code}: {error.message}"))
            self.paused_until = at + RETRY_PAUSE_SECONDS
            return False
        self.all.append(Pipeline(number, build.pk, build.build_host_id, at))
        return True

    def poll(self):
        """Read the open pipelines' build and host rows (two queries)."""
        from hosts.models import Build, BuildHost

        open_ = self.open()
        if not open_:
            return
        builds = {
            row[0]: row[1:]
            for row in Build.objects.filter(
                pk__in=[p.build_id for p in open_]
            ).values_list("pk", "state", "error_reason", "error")
        }
        hosts = {
            row[0]: row[1:]
            for row in BuildHost.objects.filter(
                pk__in=[p.host_id for p in open_]
            ).values_list("pk", "state", "error_reason", "error")
        }
        now = self.clock()
        for pipeline in open_:
            was_final = pipeline.build_final
            state, build_reason, build_error = builds[pipeline.build_id]
            host_state, host_reason, host_error = hosts[pipeline.host_id]
            pipeline.state, pipeline.host_state = state, host_state
            # The build's words first: the host's say why its build could
            # not run, or (after a success) why the host did not go cleanly.
            pipeline.reason = build_reason or host_reason
            pipeline.error = build_error or host_error
            if pipeline.build_final and not was_final and state != "succeeded":
                self.paused_until = now + RETRY_PAUSE_SECONDS
            if pipeline.build_final and host_state in BuildHost.ENDED_STATES:
                pipeline.ended = now


# --- Clients ----------------------------------------------------------------------


@dataclass
class Answer:
    at: float
    target: str
    status: int  # 0: no answer (connection error, time-out)
    seconds: float
    fault: str  # the fault under way, "" if none


class Clients:
    """`count` threads, each GETting the TARGETS in turn (each thread starts
    at another one) until stopped; every answer is kept."""

    def __init__(self, count, url, credentials, clock, chaos):
        self.url = url
        self.credentials = credentials  # (who, how) -> requests kwargs
        self.clock = clock
        self.chaos = chaos
        self.stopping = threading.Event()
        self.answers = [[] for _ in range(count)]
        self.threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True)
            for index in range(count)
        ]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT_SECONDS + 5)

    def _run(self, index):
        import requests

        mine = self.answers[index]
        turn = index
        with requests.Session() as session:
            while not self.stopping.is_set():
                path, who, how = TARGETS[turn % len(TARGETS)]
                turn += 1
                fault = self.chaos.active
                started = time.monotonic()
                try:
                    answer = session.get(
                        self.url + path,
                        timeout=CLIENT_TIMEOUT_SECONDS,
                        allow_redirects=False,
                        **self.credentials[who, how],
                    )
                    status = answer.status_code
                except requests.RequestException:
                    status = 0
                    self.stopping.wait(0.2)  # the server is not answering
                seconds = time.monotonic() - started
                mine.append(Answer(self.clock(), path, status, seconds, fault))

    def all(self):
        return [answer for mine in self.answers for answer in mine]


def client_credentials(url, world):
    """requests keyword arguments per (who, how): the session cookies of a
    login through the form, or a bearer token."""
    from tests.support import world as cast

    found = {}
    for who in ("developer", "admin"):
        user = getattr(world, who)
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        cookies = _common.login_cookies(url, user.username, PASSWORD)
        found[who, "page"] = {"cookies": cookies}
        token = cast.api_token(user, name="soak")
        found[who, "api"] = {"headers": {"Authorization": f"Bearer {token}"}}
    return found


# --- Faults -----------------------------------------------------------------------


@dataclass
class Window:
    """One fault: when it began and when its repair was done (Clock s)."""

    name: str
    started: float
    ended: float | None = None
    detail: str = ""

    def overlaps(self, start, end):
        until = (self.ended if self.ended is not None else end) + FAULT_MARGIN_SECONDS
        return start <= until and end >= self.started


class Chaos(threading.Thread):
    """Breaks one part at each of the plan's fault times and repairs it
    before the next; each fault's window is kept. An error in a fault or
    its repair stops the chaos and is kept in `error`: the soak then stops."""

    def __init__(self, plan, stack, world, docker_client, clock):
        super().__init__(daemon=True)
        self.plan = plan
        self.stack = stack
        self.world = world
        self.docker = docker_client
        self.clock = clock
        self.windows = []
        self.active = ""  # the fault under way; the clients read it
        self.error = None
        self.kills = 0
        self.stopping = threading.Event()

    def run(self):
        from django.db import connection

        try:
            for at, name in self.plan.fault_times():
                if self.stopping.wait(max(0.0, at - self.clock())):
                    return
                window = Window(name, self.clock())
                self.windows.append(window)
                self.active = name
                say(f"[{_mmss(window.started)}] fault: {name}")
                try:
                    window.detail = getattr(self, name)()
                finally:
                    window.ended = self.clock()
                    self.active = ""
                say(f"[{_mmss(window.ended)}] repaired: {window.detail}")
        except BaseException as error:  # pytest's failures are BaseExceptions
            self.error = error
            say(f"[{_mmss(self.clock())}] the chaos stopped: {error!r}")
        finally:
            connection.close()  # this thread's own

    def stop(self):
        """No new fault; wait for the one under way to be repaired."""
        self.stopping.set()
        self.join(timeout=300)

    def worker_killed(self):
        from hosts.models import Build, BuildHost

        index = self.kills % WORKERS
        self.kills += 1
        node = self.stack.workers[index].node
        holding = Build.objects.filter(lease_owner__startswith=f"{node}@").count()
        holding += BuildHost.objects.filter(lease_owner__startswith=f"{node}@").count()
        self.stack.kill_worker(index)
        killed = time.monotonic()
        time.sleep(SUPERVISOR_DELAY_SECONDS)
        self.stack.start_worker(index)
        self.stack.restarted_at[f"worker {index + 1}"] = self.clock()
        return (
            f"worker {index + 1} killed (SIGKILL) holding {holding} leases, "
            f"answering again {time.monotonic() - killed:.1f} s later"
        )

    def redis_restarted(self):
        from tests.support import faults

        started = time.monotonic()
        faults.restart_redis()
        return f"Redis stopped and started again in {time.monotonic() - started:.1f} s"

    def registry_stopped(self):
        from tests.support import faults

        registry = self.docker.containers.get(faults.REGISTRY_CONTAINER)
        registry.stop(timeout=2)
        try:
            time.sleep(REGISTRY_DOWN_SECONDS)
        finally:
            registry.start()
            faults.wait_for_registry(self.world.devstack)
        return f"registry stopped for {REGISTRY_DOWN_SECONDS} s, answering again"

    def engine_restarted(self):
        from tests.support import faults

        started = time.monotonic()
        others = faults.others_running(self.docker)
        try:
            faults.stop_engine()
        finally:
            faults.start_engine(others)
        faults.wait_for_registry(self.world.devstack)
        return (
            f"dockerd stopped and started again (with the registry) in "
            f"{time.monotonic() - started:.1f} s"
        )


def _mmss(seconds):
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


# --- What is read at the start and at the end -------------------------------------


def redis_memory():
    """Redis's INFO memory (the figures a soak watches) and its key count."""
    from dchweb.celery import app

    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        info = client.info("memory")
        keys = client.dbsize()
    names = ("used_memory", "used_memory_peak", "used_memory_rss")
    return {**{name: info[name] for name in names}, "keys": keys}


def row_counts():
    """Rows of every model of the app, and the build and host rows by state."""
    from django.apps import apps
    from django.db.models import Count

    from hosts.models import Build, BuildHost

    counts = {
        model.__name__: model.objects.count()
        for model in apps.get_app_config("hosts").get_models()
    }
    for model in (Build, BuildHost):
        for row in model.objects.values("state").annotate(n=Count("pk")):
            counts[f"{model.__name__} {row['state']}"] = row["n"]
    return counts


def stuck_rows():
    """Rows still in a non-final state once everything should have ended:
    {what: [ids]} (empty when none)."""
    from hosts.models import Build, BuildHost, BuildHostStep

    found = {
        "builds not final": Build.objects.exclude(state__in=Build.FINAL_STATES),
        "build hosts not removed or failed": BuildHost.objects.exclude(
            state__in=BuildHost.ENDED_STATES
        ),
        "build-host steps still running": BuildHostStep.objects.filter(
            status=BuildHostStep.Status.RUNNING
        ),
        "builds holding a lease": Build.objects.exclude(lease_owner=""),
        "build hosts holding a lease": BuildHost.objects.exclude(lease_owner=""),
    }
    stuck = {}
    for what, rows in found.items():
        ids = [str(pk) for pk in rows.values_list("pk", flat=True)]
        if ids:
            stuck[what] = ids
    return stuck


def engine_left(docker_client, installation_id):
    """The containers (any state) and volumes this installation has on the
    engine, by name."""
    label = {"label": f"io.dchweb.installation={installation_id}"}
    return {
        "containers": sorted(
            c.name for c in docker_client.containers.list(all=True, filters=label)
        ),
        "volumes": sorted(v.name for v in docker_client.volumes.list(filters=label)),
    }


def settle(plan, docker_client, installation_id):
    """The periodic pass beat sends (hosts.tasks.reconcile_endpoints: resume
    interrupted work, reap, one reconcile per endpoint, run by the workers)
    every SETTLE_PASS_SECONDS, until nothing of the run is left on the engine
    and no row is stuck, or plan.settle has gone. Returns (passes, engine
    leftovers, stuck rows)."""
    from hosts.ops import tasks

    deadline = time.monotonic() + plan.settle
    passes = 0
    while True:
        left, stuck = engine_left(docker_client, installation_id), stuck_rows()
        nothing = not (left["containers"] or left["volumes"] or stuck)
        if nothing or time.monotonic() > deadline:
            return passes, left, stuck
        tasks.reconcile_endpoints()
        passes += 1
        time.sleep(SETTLE_PASS_SECONDS)


# --- The report -------------------------------------------------------------------


@dataclass
class Report:
    plan: Plan
    pipelines: list
    refused: list
    windows: list
    answers: list
    memory: dict  # "start" / "end" -> {role: MiB}
    redis: dict  # "start" / "end" -> INFO memory figures
    rows: dict
    left: dict
    stuck: dict
    settle_passes: int
    restarted: dict  # "worker N" -> Clock seconds of its last restart
    chaos_error: object = None
    load_seconds: float = 0.0

    def assign_faults(self):
        """Each pipeline's faults: the windows its life overlaps (a hung
        one's life lasts to the end)."""
        end = max([p.ended or 0 for p in self.pipelines] + [self.load_seconds])
        for pipeline in self.pipelines:
            until = pipeline.ended if pipeline.ended is not None else end
            pipeline.faults = [
                w for w in self.windows if w.overlaps(pipeline.submitted, until)
            ]
        return self

    def succeeded(self):
        return [p for p in self.pipelines if p.succeeded]

    def failed(self):
        return [p for p in self.pipelines if p.failed]

    def hung(self):
        return [p for p in self.pipelines if p.ended is None]

    def unexplained(self):
        """Failures no fault's window covers, or without a reason."""
        return [p for p in self.failed() if not (p.faults and p.reason and p.error)]

    def memory_growth(self):
        """{role: growth from the first reading to the last} for the roles
        whose processes lived through both (a restarted worker is new)."""
        start, end = self.memory.get("start", {}), self.memory.get("end", {})
        growth = {}
        for role, before in start.items():
            if role in self.restarted or not before or role not in end:
                continue
            growth[role] = end[role] / before - 1
        return growth

    def problems(self):
        found = []
        if self.chaos_error is not None:
            found.append(f"a fault could not be made or repaired: {self.chaos_error!r}")
        found += [f"pipeline {p.number} hung: {_where(p)}" for p in self.hung()]
        found += [
            f"pipeline {p.number} failed outside any fault or without a reason: "
            f"{_where(p)}"
            for p in self.unexplained()
        ]
        for kind in ("containers", "volumes"):
            if self.left[kind]:
                found.append(f"{kind} left on the engine: {self.left[kind]}")
        found += [f"{what}: {ids}" for what, ids in self.stuck.items()]
        for role, growth in self.memory_growth().items():
            if growth >= MEMORY_GROWTH_LIMIT:
                found.append(f"{role} peak RSS grew {growth:.1%}")
        return found

    def say(self):
        say()
        say(f"## soak: {self.load_seconds / 60:.1f} minutes of load")
        self._say_faults()
        self._say_pipelines()
        self._say_clients()
        self._say_end()
        problems = self.problems()
        say()
        say(f"problems: {len(problems)}")
        for problem in problems:
            say(f"PROBLEM: {problem}")

    def _say_faults(self):
        say()
        say("faults:")
        for window in self.windows:
            end = _mmss(window.ended) if window.ended is not None else "?"
            hit = [p.number for p in self.pipelines if window in p.faults]
            failed = [p.number for p in self.failed() if window in p.faults]
            say(
                f"  {_mmss(window.started)}-{end} {window.name}: {window.detail}; "
                f"pipelines in its window: {len(hit)}, failed: {failed or 'none'}"
            )

    def _say_pipelines(self):
        done, failed, hung = self.succeeded(), self.failed(), self.hung()
        say()
        say(
            f"pipelines: {len(self.pipelines)} asked for, {len(done)} done, "
            f"{len(failed)} failed, {len(hung)} hung; {len(self.refused)} refused "
            "at the request"
        )
        times = [p.ended - p.submitted for p in done]
        if times:
            median = statistics.median(times)
            p95 = _common.percentile(times, 0.95)
            rate = len(done) / (self.load_seconds / 60)
            say(
                f"  done, request to host removed: median {median:.1f} s, p95 "
                f"{p95:.1f} s, max {max(times):.1f} s; {rate:.1f} a minute"
            )
        for pipeline in failed + hung:
            say(f"  pipeline {pipeline.number}: {_where(pipeline)}")
        for at, reason in self.refused:
            say(f"  refused at {_mmss(at)}: {reason}")

    def _say_clients(self):
        answers = self.answers
        say()
        say(f"clients: {self.plan.clients} threads, {len(answers)} requests")
        if not answers:
            return
        for during in (False, True):
            some = [a for a in answers if bool(a.fault) == during]
            if not some:
                continue
            ok = [a for a in some if 200 <= a.status < 300]
            seconds = [a.seconds * 1000 for a in some]
            statuses = sorted({a.status for a in some if not 200 <= a.status < 300})
            say(
                f"  {'during a fault' if during else 'outside faults'}: "
                f"{len(some)} requests, {len(ok)} 2xx, other "
                f"{len(some) - len(ok)} (statuses {statuses or '-'}); median "
                f"{statistics.median(seconds):.0f} ms, p95 "
                f"{_common.percentile(seconds, 0.95):.0f} ms, max {max(seconds):.0f} ms"
            )
        bad = [a for a in answers if not 200 <= a.status < 300]
        for fault in sorted({a.fault or "-" for a in bad}):
            mine = [a for a in bad if (a.fault or "-") == fault]
            paths = sorted({f"{a.target} {a.status}" for a in mine})
            say(f"  not 2xx during {fault}: {len(mine)}: {', '.join(paths[:8])}")

    def _say_end(self):
        say()
        say(
            f"left on the engine after {self.settle_passes} periodic passes: "
            f"{len(self.left['containers'])} containers, "
            f"{len(self.left['volumes'])} volumes"
        )
        say(f"rows not in a final state: {self.stuck or 'none'}")
        say()
        say("peak RSS (VmHWM), MiB: before the first fault -> at the end")
        growth = self.memory_growth()
        for role, end in self.memory.get("end", {}).items():
            start = self.memory.get("start", {}).get(role)
            note = f" ({growth[role]:+.1%})" if role in growth else ""
            if role in self.restarted:
                note = f" (started again at {_mmss(self.restarted[role])})"
            before = f"{start:.1f}" if start else "-"
            say(f"  {role}: {before} -> {end:.1f}{note}")
        say()
        say("Redis INFO memory: start -> end")
        start, end = self.redis.get("start", {}), self.redis.get("end", {})
        for name in end:
            say(f"  {name}: {start.get(name, '-')} -> {end[name]}")
        say()
        say("database rows at the end:")
        for name, count in self.rows.items():
            say(f"  {name}: {count}")


def _where(pipeline):
    faults = ", ".join(w.name for w in pipeline.faults) or "no fault"
    return (
        f"build {pipeline.state}, host {pipeline.host_state} "
        f"(asked at {_mmss(pipeline.submitted)}; {faults}): "
        f"{pipeline.reason or 'no reason'}: {pipeline.error[:300] or 'no error'}"
    )


# --- The run ----------------------------------------------------------------------


@contextlib.contextmanager
def tasks_to(queue):
    """Tasks this process sends (create_build's, the periodic pass's) go to
    the soak's queue for the length of the block."""
    from dchweb.celery import app

    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.task_default_queue = previous


def run(plan, world, *, queue, env, log_dir):
    """The soak: processes up, load and faults for plan.minutes, then the
    drain and the periodic passes; returns the Report. `env`: variables for
    every process it starts (database, data folder, settings). Stops what it
    started, removes its Redis queue and deletes the manifests it pushed,
    whatever happens; the engine objects are the caller's to remove."""
    import docker

    from bench.pipeline import Made
    from hosts.core import installation

    stack = Stack(queue, env, log_dir)
    made = Made()
    docker_client = docker.DockerClient(
        base_url=world.devstack["docker_url"], timeout=120
    )
    clients = chaos = None
    try:
        with tasks_to(queue):
            stack.start()
            clock = Clock()
            chaos = Chaos(plan, stack, world, docker_client, clock)
            credentials = client_credentials(stack.server.url, world)
            clients = Clients(plan.clients, stack.server.url, credentials, clock, chaos)
            pipelines = Pipelines(world, clock, made)
            redis_start = redis_memory()
            say(
                f"soak: {plan.minutes:g} min, {plan.clients} clients, faults at "
                + ", ".join(f"{_mmss(at)} {name}" for at, name in plan.fault_times())
            )
            chaos.start()
            clients.start()
            memory_start = load(plan, clock, pipelines, stack, chaos)
            load_seconds = clock()
            clients.stop()
            chaos.stop()
            say(f"[{_mmss(clock())}] load over: no new pipelines, no clients")
            drain(plan, clock, pipelines)
            say(f"[{_mmss(clock())}] every pipeline ended or hung")
            passes, left, stuck = settle(
                plan, docker_client, installation.installation_id()
            )
            say(f"[{_mmss(clock())}] settled after {passes} periodic passes")
            return Report(
                plan=plan,
                pipelines=pipelines.all,
                refused=pipelines.refused,
                windows=chaos.windows,
                answers=clients.all(),
                memory={"start": memory_start, "end": stack.peaks_mib()},
                redis={"start": redis_start, "end": redis_memory()},
                rows=row_counts(),
                left=left,
                stuck=stuck,
                settle_passes=passes,
                restarted=dict(stack.restarted_at),
                chaos_error=chaos.error,
                load_seconds=load_seconds,
            ).assign_faults()
    finally:
        with _common.uninterruptible():
            if clients is not None:
                clients.stop()
            if chaos is not None:
                chaos.stop()
            stack.stop()
            _common.close_database_connections()
            with contextlib.suppress(Exception):
                _common.remove_queue(queue)
            with contextlib.suppress(Exception):
                made.delete_images(world.devstack)
            docker_client.close()


def load(plan, clock, pipelines, stack, chaos):
    """Pipelines back to back, one per worker, for plan.seconds (the clients
    and the chaos run meanwhile). Returns the memory read before the first
    fault."""
    first_memory = None
    while clock() < plan.seconds:
        if chaos.error is not None:
            raise RuntimeError(f"the chaos stopped: {chaos.error!r}")
        pipelines.poll()
        while pipelines.wanted() and pipelines.submit():
            pass
        if first_memory is None and clock() >= plan.first_snapshot_at():
            first_memory = stack.peaks_mib()
        time.sleep(POLL_SECONDS)
    return first_memory or {}


def drain(plan, clock, pipelines):
    """No new pipelines: wait until each has ended or is plan.hung_after
    seconds old (hung)."""
    while True:
        pipelines.poll()
        waiting = [
            p for p in pipelines.open() if clock() - p.submitted < plan.hung_after
        ]
        if not waiting:
            return
        time.sleep(POLL_SECONDS)


# --- The bench script -------------------------------------------------------------


def say_machine(devstack):
    import docker

    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    client = docker.DockerClient(base_url=devstack["docker_url"], timeout=30)
    engine_version = client.version().get("Version", "?")
    client.close()
    say(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, MemTotal "
        f"{int(memory):,} kB, Linux {platform.release()}, Python "
        f"{platform.python_version()}, engine {engine_version}, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=MINUTES)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument(
        "--fault-every", type=float, default=FAULT_EVERY_SECONDS, help="seconds"
    )
    parser.add_argument(
        "--faults",
        default=",".join(FAULTS),
        help=f"in turn, comma-separated, from {', '.join(FAULTS)} (empty: none)",
    )
    parser.add_argument("--hung-after", type=float, default=HUNG_AFTER_SECONDS)
    parser.add_argument("--settle", type=float, default=SETTLE_SECONDS)
    args = parser.parse_args()
    faults = tuple(name for name in args.faults.split(",") if name)
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {sorted(unknown)}")
    plan = Plan(
        args.minutes,
        args.clients,
        faults,
        args.fault_every,
        args.hung_after,
        args.settle,
    )
    _common.stop_on_sigterm()
    devstack = _common.devstack_values(needs_redis=True)
    busybox = _common.busybox_bytes()

    database = _common.var_path(f"bench-soak-{os.getpid()}.sqlite3")
    data_dir = Path(tempfile.mkdtemp(prefix="dchweb-bench-soak-data-"))
    log_dir = _common.var_path(f"bench-soak-{os.getpid()}-logs")
    log_dir.mkdir(exist_ok=True)
    workdir = tempfile.TemporaryDirectory(prefix="dchweb-bench-soak-")
    direct, installation_id = None, None
    problems = []

    def clean_up(failed):
        with _common.uninterruptible():
            if direct is not None:
                direct.remove_leftovers(installation_id)
            _common.remove_database(database)
            _common.remove_data_dir(data_dir)
            workdir.cleanup()
            keep = failed or bool(problems)
            for path in log_dir.glob("beat-schedule*"):
                path.unlink(missing_ok=True)
            if keep:
                say(f"logs kept in {log_dir}")
            else:
                _common.remove_data_dir(log_dir)

    with _common.guarded_run(clean_up) as outcome:
        say_machine(devstack)
        say(f"bench {TOKEN}: database {database.name}, logs {log_dir}")
        _common.setup_django(database, data_dir=data_dir)
        from django.contrib.auth import get_user_model

        from tests.support import world as cast
        from tests.support.contexts import hello_context

        endpoint, registry, user, installation_id = _common.devstack_world(devstack)
        admin = cast.admin(get_user_model(), username="bench-admin")
        direct = _common.Direct(devstack, Path(workdir.name))
        world = World(
            devstack,
            endpoint,
            registry,
            user,
            admin,
            hello_context(busybox),
        )
        env = {"DCHWEB_SQLITE_PATH": str(database), "DCHWEB_DATA_DIR": str(data_dir)}
        report = run(
            plan, world, queue=f"dchweb-bench-{TOKEN}", env=env, log_dir=log_dir
        )
        report.say()
        problems = report.problems()
    return 0 if outcome.ok and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
