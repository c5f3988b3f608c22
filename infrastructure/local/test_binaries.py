#!/usr/bin/env python3
"""Runs the test executables of the workspace, several at a time, and the same executables again on ClickHouse 26.

    python3 infrastructure/local/test_binaries.py [--jobs N] [--clickhouse-26 PACKAGE,...] [PACKAGE...]

Builds them first as `cargo test --workspace --locked --no-run` does (nothing when they are up to date), then runs
every test executable of the PACKAGEs (default: the whole workspace), each like under cargo: in its package's
directory, with CARGO_MANIFEST_DIR and CARGO_PKG_NAME set. `--clickhouse-26` adds the executables of those packages
once more with PACKETPULSE_TEST_CLICKHOUSE=modern. Doctests are not run here (`cargo test --doc`).

Why not `cargo test`: it runs one executable at a time, and most of the time a test waits on a server while a core
is idle (on 2026-12-02: 1,256 s one after the other, 723 s two at a time, 587 s three at a time). Why not
`cargo test -p PACKAGE...` for the second engine: cargo unifies features over the packages selected, so selecting
a few rebuilds several shared crates (3 min 57 s of CI) only to test the same code again.

Scheduling: the longest first (durations of the last run, kept in $CARGO_TARGET_DIR/test-durations.json, else the
committed test_durations.json beside this script), N at a time (default 2); those listed as `alone` there (the
whole native stack, the chaos run) run by themselves, first. An executable's output is printed when it ends, with
its wall and CPU time; one still running after --timeout (900 s: the longest takes ~130) is killed as failed (a hung
test would otherwise hold CI until it is cut); the first failure stops the others (their process groups are killed, and the servers they
started die with them) and the run exits 1.

Orphans: a server a test starts in a process group of its own (chromedriver, which starts Chromium) dies with the
test executable, but the processes it started do not when the executable is SIGKILLed. This runner is their
subreaper (prctl PR_SET_CHILD_SUBREAPER), so they become its children, and it kills whatever is left of them after
each executable it stops and at the end.
"""

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field


KIND_ORDER = {"lib": 0, "bin": 1, "test": 2}
COMMITTED_DURATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_durations.json")
# An executable never timed before is assumed long, so it starts early rather than last.
UNKNOWN_SECONDS = 120.0
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


@dataclass
class Job:
    label: str  # "jupiter tests/streaming.rs", "… on ClickHouse 26"
    package: str
    package_dir: str
    executable: str
    env: dict = field(default_factory=dict)
    expected: float = UNKNOWN_SECONDS
    alone: bool = False


@dataclass
class Running:
    job: Job
    process: subprocess.Popen
    output: object  # the temporary file holding its stdout and stderr
    started: float


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", metavar="PACKAGE", help="default: every workspace package")
    parser.add_argument("--jobs", type=int, default=2, help="executables at a time (default 2)")
    parser.add_argument(
        "--clickhouse-26",
        default="",
        metavar="PACKAGE,...",
        help="run these packages' executables once more with PACKETPULSE_TEST_CLICKHOUSE=modern",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=900,
        metavar="SECONDS",
        help="an executable still running after this long is killed and fails the run (default 900)",
    )
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    args.clickhouse_26 = [name for name in args.clickhouse_26.split(",") if name]
    return args


def workspace_packages():
    """{package name: package dir} of every workspace member."""
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--no-deps", "--locked", "--format-version", "1"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
    )
    return {p["name"]: os.path.dirname(p["manifest_path"]) for p in metadata["packages"]}


def built_executables():
    """(package dir, kind order, source file, executable) of every test target cargo builds for the workspace."""
    build = subprocess.run(
        ["cargo", "test", "--workspace", "--locked", "--no-run", "--message-format=json-render-diagnostics"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    found = []
    for line in build.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact" or not message.get("executable"):
            continue
        if not message["profile"]["test"]:
            continue
        package_dir = os.path.dirname(message["manifest_path"])
        source = os.path.relpath(message["target"]["src_path"], package_dir)
        kind = KIND_ORDER.get(message["target"]["kind"][0], len(KIND_ORDER))
        found.append((package_dir, kind, source, message["executable"]))
    return found


def plan(args):
    packages = workspace_packages()
    unknown = [name for name in args.packages + args.clickhouse_26 if name not in packages]
    if unknown:
        sys.exit(f"test_binaries: no workspace package named {', '.join(unknown)}")
    selected = args.packages or sorted(packages)
    name_of = {directory: name for name, directory in packages.items()}
    jobs = []
    # cargo's order (package by package: library, binaries, integration tests by name) decides among equals.
    for package_dir, _, source, executable in sorted(built_executables(), key=lambda e: (name_of[e[0]], e[1], e[2])):
        name = name_of[package_dir]
        if name in selected:
            jobs.append(Job(f"{name} {source}", name, package_dir, executable))
        if name in args.clickhouse_26:
            modern = {"PACKETPULSE_TEST_CLICKHOUSE": "modern"}
            jobs.append(Job(f"{name} {source} on ClickHouse 26", name, package_dir, executable, modern))
    if not jobs:
        sys.exit("test_binaries: cargo reported no test executable for those packages")
    return jobs


def durations_cache():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.getcwd(), "target")
    return os.path.join(target, "test-durations.json")


def load_durations():
    """{"seconds": {label: s}, "alone": [label, ...]}: the alone list always from the committed file."""
    with open(COMMITTED_DURATIONS, encoding="utf-8") as f:
        known = json.load(f)
    try:
        with open(durations_cache(), encoding="utf-8") as f:
            known["seconds"].update(json.load(f)["seconds"])
    except (OSError, ValueError, KeyError):
        pass  # no earlier run on this machine: the committed figures order the first one
    return known


def save_durations(measured):
    path = durations_cache()
    try:
        with open(path, encoding="utf-8") as f:
            seconds = json.load(f)["seconds"]
    except (OSError, ValueError, KeyError):
        seconds = {}
    seconds.update({label: round(s, 1) for label, s in measured.items()})
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"seconds": dict(sorted(seconds.items()))}, f, indent=1)


def start(job):
    print(f"     Started {job.label} (took {job.expected:.0f} s last time)", flush=True)
    output = tempfile.TemporaryFile()
    env = dict(os.environ, CARGO_MANIFEST_DIR=job.package_dir, CARGO_PKG_NAME=job.package, **job.env)
    # Its own process group, so a failure elsewhere stops it and every process it started.
    process = subprocess.Popen(
        [job.executable],
        cwd=job.package_dir,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Running(job, process, output, time.monotonic())


def report(running, status, usage):
    wall = time.monotonic() - running.started
    cpu = usage.ru_utime + usage.ru_stime
    print(f"     Running {running.job.label} ({running.job.executable})", flush=True)
    running.output.seek(0)
    sys.stdout.buffer.write(running.output.read())
    running.output.close()
    verdict = "ok" if status == 0 else "FAILED (timed out)" if status == "timeout" else f"FAILED (exit {status})"
    print(f"     Finished {running.job.label}: {verdict} in {wall:.1f} s, {cpu:.1f} s of CPU\n", flush=True)
    return wall


def stop_all(running):
    for item in running.values():
        try:
            os.killpg(item.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        item.process.wait()
        print(f"     Stopped {item.job.label}", flush=True)


def adopt_orphans():
    """Makes this runner the parent of every process its test executables orphan (see the module docs)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"test_binaries: cannot become a subreaper ({os.strerror(ctypes.get_errno())}): "
              "processes left by killed tests may outlive the run", flush=True)


def children_of(parent):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # it ended while we looked
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        if int(stat[stat.rindex(")") + 2:].split()[1]) == parent:
            found.append(int(entry))
    return found


def kill_orphans():
    """SIGKILLs every child of this runner, once its test executables have ended, until none is left (killing one
    may orphan its own children onto us)."""
    killed = 0
    for _ in range(100):
        orphans = children_of(os.getpid())
        if not orphans:
            break
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                killed += 1
            except (ProcessLookupError, ChildProcessError):
                pass  # already gone or reaped
    if killed:
        print(f"     Killed {killed} processes left behind by test executables", flush=True)


def next_exit(running, timeout):
    """Waits for one of ours to end, or to outlive `timeout`: (pid, exit status, rusage); a timed-out one is
    killed with its process group and reported with status "timeout"."""
    while True:
        pid, wait_status, usage = os.wait4(-1, os.WNOHANG)
        if pid:
            return pid, os.waitstatus_to_exitcode(wait_status), usage
        now = time.monotonic()
        for pid, item in running.items():
            if now - item.started > timeout:
                print(f"     Timed out {item.job.label} after {timeout} s: killed", flush=True)
                os.killpg(pid, signal.SIGKILL)
                _, _, usage = os.wait4(pid, 0)
                return pid, "timeout", usage
        time.sleep(0.5)


def run(jobs, parallel, timeout):
    """Runs the jobs; returns {label: seconds} of those that passed and the label of the first failure or None."""
    alone = [job for job in jobs if job.alone]
    shared = sorted((job for job in jobs if not job.alone), key=lambda job: -job.expected)
    queue = alone + shared
    running, measured = {}, {}
    try:
        while queue or running:
            while queue and (
                (not queue[0].alone and len(running) < parallel and not any(r.job.alone for r in running.values()))
                or (queue[0].alone and not running)
            ):
                item = start(queue.pop(0))
                running[item.process.pid] = item
            pid, status, usage = next_exit(running, timeout)
            item = running.pop(pid, None)
            if item is None:
                continue  # not one of ours
            item.process.returncode = -9 if status == "timeout" else status
            wall = report(item, status, usage)
            if status != 0:
                stop_all(running)
                kill_orphans()
                return measured, item.job.label
            measured[item.job.label] = wall
    except KeyboardInterrupt:
        stop_all(running)
        kill_orphans()
        raise
    kill_orphans()
    return measured, None


def main():
    args = parse_args()
    jobs = plan(args)
    known = load_durations()
    for job in jobs:
        job.expected = known["seconds"].get(job.label, UNKNOWN_SECONDS)
        job.alone = job.label in known["alone"]
    began = time.monotonic()
    adopt_orphans()
    print(f"test_binaries: {len(jobs)} test executables, {args.jobs} at a time", flush=True)
    measured, failed = run(jobs, args.jobs, args.timeout)
    save_durations(measured)
    if failed:
        sys.exit(f"test_binaries: {failed} failed")
    slowest = sorted(measured.items(), key=lambda item: -item[1])[:5]
    print(
        f"test_binaries: {len(jobs)} test executables passed in {time.monotonic() - began:.0f} s "
        f"(one after the other: {sum(measured.values()):.0f} s); slowest: "
        + ", ".join(f"{label} {seconds:.0f} s" for label, seconds in slowest),
        flush=True,
    )


if __name__ == "__main__":
    main()
