"""Measure real Docker for dsim's defaults: the figures docs/build.md and docs/containers.md quote from it.

Needs a running dockerd and its docker CLI (Debian 12's ``docker.io`` package gives Docker 20.10.24 with
containerd 1.6.20 and runc 1.1.5: ``apt-get install docker.io busybox-static``, then start ``dockerd``). It
needs no registry: it imports a one-binary image (busybox) and builds on it.

- ``buildkit``: BuildKit's per-vertex solver work, ``daemon.buildkit_vertex``. Builds Dockerfiles of n RUN
  steps once uncached, then rebuilds each fully cached ``--repeat`` times; the slope of the cached rebuild's
  median wall time over n is what one more cached vertex costs (the session, context, export and naming are
  the same for every n, so they fall into the intercept). dockerd's CPU over the same rebuilds gives the
  CPU slope.
- ``run``: one ``docker run --rm`` at a time on the host, none and bridge networks: wall time and the CPU
  all processes spent (``/proc/stat``), the CLI's share and dockerd's and containerd's.
- ``start``: ``docker start`` alone of a created container per network: what the network's sandbox adds
  (runc's libnetwork-setkey hook, ``networking.setkey_hook``: none less host).
- ``storm``: n concurrent ``docker run --rm`` per network: makespan and CPU (every process's, the CLIs',
  dockerd's and containerd's).
- ``cpu``: where a run's CPU goes, one by one and 32 at once, by cgroup (cgroup v1's ``cpuacct``, as root):
  dockerd; containerd with every process it starts (shims, runc, its hooks); the containers' own cgroups; the
  CLI; and kernel threads (the root cgroup's own time, once every other process is moved to a cgroup of its
  own). Start containerd apart (``containerd &``, then ``dockerd --containerd /run/containerd/containerd.sock``)
  so the two are two processes.
- ``syncfs``: what dirty page cache on Docker's filesystem costs a `docker create` and a container's exit.
  An overlay mount's unmount syncs the filesystem under it (the kernel's ``ovl_sync_fs``; moby#42817,
  moby#47630): `docker create` mounts and unmounts the container's init layer, and a container's exit
  unmounts its rootfs. So each waits for every dirty byte of /var/lib/docker's filesystem to be written.
  Imports a layer of ``--sizes`` MB of random bytes (written into the page cache, as a pull's unpack is),
  then times `docker create` at once, and a run's start and exit after writing as many dirty bytes beside
  it; the kernel's Dirty count before and after, and the disk's direct-write rate, show it is the flush.
- ``netops``: the kernel operations a bridge endpoint's exit makes, without Docker (``ip`` and ``iptables``, as
  root): a veth end moved from a namespace back to the host's (libnetwork osl's ``RemoveInterface``) and the pair
  deleted, one at a time and ``--sizes`` at once; and the ``iptables`` invocations Docker 28 makes for a bridge
  endpoint's raw-table rule (``-C``, ``-A``, ``-D``): wall time and the processes' CPU; and a bridge device deleted,
  as ``docker network rm`` deletes its network's. ``ip link show lo`` times the ``ip`` process itself, to subtract.
  And ``--sizes`` whole exits at once (the end down, renamed, moved back, the pair deleted), the deletions side by
  side or one at a time (as dockerd's, through its bridge driver's one netlink handle).
- ``conntrack``: what tracked connections cost a bridge container's start and exit: the table filled with
  ``--sizes`` udp flows on loopback (kept by a 900 s timeout, restored afterwards), then ``docker start`` of a created
  container and its ``docker kill`` + ``docker wait``, against an empty table (libnetwork flushes the endpoint's
  address at both, a netlink dump of the whole table that dockerd parses); and one bare dump's CPU. As root.
- ``export``: BuildKit's export of a new layer of shared libraries (``--sizes`` MB) and its push to a registry
  without auth (``REGISTRY``, default localhost:5000): "exporting layers" and "unpacking to" from BuildKit's log (the
  containerd store gzips at export, then unpacks the image), the push's time and dockerd's CPU, the layer's and the
  blob's bytes. Needs the buildx plugin.
- ``ports``: what published ports cost a bridge container's start and its exit: ``docker start`` of a created
  container with 0 and ``--sizes`` published udp ports, then ``docker kill`` and ``docker wait`` (which returns once
  the exit's cleanup, the ports' rules and proxies included, is done); wall times and dockerd's CPU with its reaped
  children's (the ``iptables`` and ``docker-proxy`` processes it runs); then ``--repeat`` such containers started at
  once, with and without the ports.

    python tools/real_docker.py buildkit [--steps 1,41,81,121] [--repeat 9]
    python tools/real_docker.py run [--repeat 20]
    python tools/real_docker.py start [--repeat 9]
    python tools/real_docker.py storm [--sizes 8,16,32]
    python tools/real_docker.py cpu [--repeat 12]
    python tools/real_docker.py syncfs [--sizes 500,1500]
    python tools/real_docker.py netops [--repeat 20] [--sizes 16]
    python tools/real_docker.py ports [--repeat 5] [--sizes 25,50]
    python tools/real_docker.py network [--repeat 9]
    python tools/real_docker.py conntrack [--repeat 8] [--sizes 50000,150000]
- ``pull``: what a pull's unpack costs per file and per byte: one-layer images of 200 MB of random bytes in each of
  ``--sizes`` file counts, built on ``scratch``, pushed to a registry without auth (``REGISTRY``) and removed (the
  image, the build cache and, under the containerd store, its leases, so the blob goes too), then pulled ``--repeat``
  times each, caches dropped before each: the wall time, when the inflate began (the first ``unpigz`` seen, so the
  download's end), and the CPU of dockerd and containerd, each its own and its reaped children's (unpigz). The
  slope over the file counts is an entry's cost to the store's applier. With ``--refs``, images already in the
  registry are pulled instead (no slope), and with ``--together`` all at once (a busy host). As root.
- ``rmi``: ``docker rmi`` of images in a registry (``--refs``, e.g. ``pull``'s), each pulled first, the page cache
  synced: the rmi's wall time and the daemons' CPU over it and the 3 s after (the containerd store's collector).
- ``pipe``: what a pipe between the inflate and the applier costs, without Docker: a tar of ``--sizes`` MB of random
  bytes in 4 files, gzip'd at level 1 (stored blocks, as Docker's gzip of random bytes is), then ``unpigz -c | tar
  -x`` ``--repeat`` times each way: as the kernel schedules them, pinned to two cores apart (``taskset``) and pinned
  to one core; the page cache dropped and the blob read back before each. The share of the piped run's extra
  time spent as if on one core, ``(free - apart) / (one - apart)``, is ``storage.pipe_colocation``.
- ``layers``: a pull of each of ``--refs`` through the Engine API (``/images/create``), each progress message
  timestamped: when each layer began and ended its download and its extraction, and the most layers downloading at
  once (the image gone with its blobs and the caches dropped first).
- ``push``: what a push costs beyond a deflate: images of 4 layers of ``--sizes`` MB of random bytes (one file each,
  new bytes every time, so nothing is mounted or already in the registry) built on ``scratch``, then pushed to
  ``REGISTRY`` (a registry without auth): the push's wall time and the CPU of dockerd and containerd (each its own
  and its reaped children's). Under the containerd store BuildKit's export made the blobs, so the push only sends
  them; under graphdriver's the push also gzips every layer.
- ``phases``: where dockerd's CPU goes in a run by network: a created container's ``docker start``, then ``docker
  kill`` and ``docker wait`` (its exit's cleanup), then ``docker rm``, ``--repeat`` times per network: each phase's
  median wall time and the mean CPU of dockerd with its reaped children (its ``iptables`` processes).
- ``steps``: a run's phases (create, a cheap ``inspect`` for the CLI's own cost, start, kill + wait, rm) with their
  wall time and CPU by cgroup (as ``cpu`` counts it, as root, less each group's idle rate), by network: ``--sizes``
  containers at once (``docker wait`` returns once the exit is cleaned up), and ``--repeat`` one at a time.
- ``handle``: where ``--sizes`` bridge exits at once wait in dockerd (started with ``-D``): its goroutine dumps every
  0.1 s while the containers are killed at once, the exits' cleanup goroutines counted by state and call.

    REGISTRY=localhost:5000 python tools/real_docker.py export [--repeat 3] [--sizes 250]
    REGISTRY=localhost:5000 python tools/real_docker.py pull [--repeat 3] [--sizes 200,2000,20000]
    python tools/real_docker.py pull [--repeat 3] --refs localhost:5000/NAME:TAG,... [--together]
    python tools/real_docker.py rmi [--repeat 2] --refs localhost:5000/dsim-pull:200,localhost:5000/dsim-pull:20000
    python tools/real_docker.py pipe [--repeat 9] [--sizes 400]
    REGISTRY=localhost:5000 python tools/real_docker.py push [--repeat 3] [--sizes 100]
    python tools/real_docker.py layers --refs localhost:5000/NAME:TAG,...
    python tools/real_docker.py phases [--repeat 12]
    python tools/real_docker.py steps [--repeat 12] [--sizes 32]
    python tools/real_docker.py handle [--sizes 32]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import functools
import json
import os
import re
import resource
import socket
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")  # Debian's 20.10 CLI: BuildKit without the buildx plugin
IMAGE = "dsim-measure:busybox"
TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU-seconds every process has spent since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


def process_seconds(names: Iterable[str]) -> float:
    """CPU-seconds the live processes of these command names have spent (utime + stime)."""
    wanted, total = set(names), 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in wanted:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            continue
    return total


def docker(*args: str, **env: str) -> str:
    done = subprocess.run([DOCKER, *args], check=True, capture_output=True, text=True, env={**os.environ, **env})
    return done.stdout.strip()


def import_image() -> None:
    """A one-layer image of busybox (Debian's busybox-static), so nothing comes from a registry."""
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "bin").mkdir()
        (Path(root) / "bin" / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
        (Path(root) / "bin" / "busybox").chmod(0o755)
        for applet in ("sh", "true", "echo"):
            (Path(root) / "bin" / applet).symlink_to("busybox")
        tar = subprocess.run(["tar", "-C", root, "-c", "."], check=True, capture_output=True).stdout
        subprocess.run([DOCKER, "import", "-", IMAGE], input=tar, check=True, capture_output=True)


def timed(action: Callable[[], object], names: Iterable[str] = ("dockerd", "containerd")) -> tuple[float, float]:
    """(wall seconds, CPU-seconds of the named daemons) of one action."""
    cpu, start = process_seconds(names), time.perf_counter()
    action()
    return time.perf_counter() - start, process_seconds(names) - cpu


def slope(xs: list[int], ys: list[float]) -> tuple[float, float]:
    """Least-squares line through the points: (slope, intercept)."""
    fit = statistics.linear_regression(xs, ys)
    return fit.slope, fit.intercept


def measure_buildkit(steps: list[int], repeat: int) -> None:
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as context:
        for n in steps:
            dockerfile = Path(context) / f"Dockerfile.{n}"
            dockerfile.write_text("\n".join([f"FROM {IMAGE}"] + [f"RUN echo {i} > /f{i}" for i in range(n)]) + "\n")

            def build(*extra: str, path: Path = dockerfile, tag: str = f"dsim-measure:run{n}") -> None:
                docker("build", "-q", *extra, "-f", str(path), "-t", tag, context, DOCKER_BUILDKIT="1")

            build("--no-cache")
            rebuilds = [timed(build) for _ in range(repeat)]
            walls.append(statistics.median(wall for wall, _ in rebuilds))
            cpus.append(sum(cpu for _, cpu in rebuilds) / repeat)
            print(f"{n:4d} RUN steps: cached rebuild median {walls[-1] * 1e3:7.1f} ms wall, "
                  f"dockerd+containerd {cpus[-1] * 1e3:6.1f} ms CPU (mean of {repeat})", flush=True)
    wall_slope, wall_base = slope(steps, walls)
    cpu_slope, _ = slope(steps, cpus)
    print(f"per cached vertex: {wall_slope * 1e3:.3f} ms wall, {cpu_slope * 1e3:.3f} ms CPU "
          f"(intercept {wall_base * 1e3:.0f} ms: session, export, naming)")


NETWORKS = ("host", "none", "bridge")


def run_once(network: str) -> None:
    docker("run", "--rm", "--network", network, IMAGE, "/bin/true")


def measure_runs(repeat: int) -> None:
    for network in NETWORKS:
        run_once(network)  # warm the page cache
        busy, children, daemons = busy_seconds(), os.times(), process_seconds(("dockerd", "containerd"))
        start = time.perf_counter()
        for _ in range(repeat):
            run_once(network)
        wall = (time.perf_counter() - start) / repeat
        after = os.times()
        cli = (after.children_user + after.children_system - children.children_user - children.children_system)
        everything = (busy_seconds() - busy) / repeat
        served = (process_seconds(("dockerd", "containerd")) - daemons) / repeat
        print(f"--network {network:6s}: {wall * 1e3:5.0f} ms wall, all processes {everything * 1e3:5.0f} ms CPU, "
              f"the CLI {cli / repeat * 1e3:3.0f} ms, dockerd+containerd {served * 1e3:3.0f} ms (mean of {repeat})",
              flush=True)


def measure_starts(repeat: int, settle: float = 0.3) -> None:
    """``docker start`` alone of a created container (its process sleeps), per network: the median wall time
    and the mean CPU of every process over the start and ``settle`` seconds after it."""
    for network in NETWORKS:
        walls, cpus = [], []
        for _ in range(repeat):
            container = docker("create", "--network", network, IMAGE, "/bin/sh", "-c", "sleep 1000")
            time.sleep(settle)
            busy, start = busy_seconds(), time.perf_counter()
            docker("start", container)
            walls.append(time.perf_counter() - start)
            time.sleep(settle)
            cpus.append(busy_seconds() - busy)
            docker("rm", "-f", container)
        print(f"--network {network:6s}: docker start {statistics.median(walls) * 1e3:5.0f} ms wall (median), "
              f"{statistics.mean(cpus) * 1e3:5.0f} ms CPU of every process (mean of {repeat})", flush=True)


def measure_storms(sizes: list[int]) -> None:
    """n concurrent ``docker run --rm``: the makespan, and per run the CPU of every process, of the CLIs and of
    dockerd and containerd (the rest: the shims, runc and its hooks, the kernel)."""
    for network in NETWORKS:
        for n in sizes:
            busy, children, daemons = busy_seconds(), os.times(), process_seconds(("dockerd", "containerd"))
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(n) as pool:
                list(pool.map(run_once, [network] * n))
            makespan, cpu = time.perf_counter() - start, busy_seconds() - busy
            after = os.times()
            cli = after.children_user + after.children_system - children.children_user - children.children_system
            served = process_seconds(("dockerd", "containerd")) - daemons
            print(f"--network {network:6s} x{n:3d}: makespan {makespan:5.2f} s, CPU {cpu:5.2f} s "
                  f"({cpu / n * 1e3:.0f} ms a run: the CLI {cli / n * 1e3:.0f}, dockerd+containerd "
                  f"{served / n * 1e3:.0f}) on {os.cpu_count()} CPUs", flush=True)


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def cgroup_seconds(group: Path) -> float:
    return int((group / "cpuacct.usage").read_text()) / 1e9


def move_threads(pids: Iterable[str], group: Path) -> None:
    """Every thread of these processes into ``group`` (cgroup v1 takes threads one by one)."""
    for pid in pids:
        for thread in Path(f"/proc/{pid}/task").glob("*"):
            try:
                (group / "tasks").write_text(thread.name)
            except OSError:
                continue  # gone, or a kernel thread


class CpuGroups:
    """CPU-seconds by cgroup v1 ``cpuacct`` group, as root: dockerd's threads, containerd's (children stay in their
    parent's cgroup, so what they start counts with them: dockerd's ``iptables``, containerd's shims and runc and
    its hooks), every other user process moved to a group of its own, so what the root keeps is the kernel
    threads'; the containers' own cgroups (runc init and the command) are the rest of the children's."""

    def __init__(self) -> None:
        if not (CPUACCT / "cpuacct.usage").exists():
            raise SystemExit("needs cgroup v1's cpuacct hierarchy at /sys/fs/cgroup/cpuacct (and root)")
        self.groups = {name: CPUACCT / f"dsim-{name}" for name in ("dockerd", "containerd", "others")}
        for group in self.groups.values():
            group.mkdir(exist_ok=True)
        served: list[str] = []
        for name in ("dockerd", "containerd"):
            pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == name]
            move_threads(pids, self.groups[name])
            served += pids
        in_root = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and p.name not in served
                   and _user_process(p) and _cpuacct_group(p) == "/"]
        move_threads(in_root, self.groups["others"])  # what stays in the root is the kernel's

    def read(self) -> dict[str, float]:
        """Seconds so far: ``dockerd``, ``containerd``, ``others`` (every other user process: this tool, the CLIs it
        runs), ``containers`` (every other child group), ``kernel`` (the root's own)."""
        children = sum(cgroup_seconds(group.parent) for group in CPUACCT.glob("*/cpuacct.usage"))
        spent = {name: cgroup_seconds(group) for name, group in self.groups.items()}
        return {"dockerd": spent["dockerd"], "containerd": spent["containerd"], "others": spent["others"],
                "containers": children - sum(spent.values()), "kernel": cgroup_seconds(CPUACCT) - children}


def measure_cpu(repeat: int, storm: int = 32) -> None:
    """A run's CPU by cgroup, alone and in a storm: dockerd's, containerd's with what it starts (shims, runc, its
    hooks: children stay in their parent's cgroup), the containers' own cgroups (runc init and the command), the
    CLI, kernel threads."""
    groups = CpuGroups()
    for network in NETWORKS:
        run_once(network)
        for n in (1, storm):
            time.sleep(2)
            before, cli = groups.read(), os.times()
            runs = repeat if n == 1 else n
            if n == 1:
                for _ in range(runs):
                    run_once(network)
            else:
                with concurrent.futures.ThreadPoolExecutor(n) as pool:
                    list(pool.map(run_once, [network] * n))
            time.sleep(2)  # the kernel's cleanup of the last namespaces
            after, ended = groups.read(), os.times()
            spent = {name: (after[name] - before[name]) / runs * 1e3 for name in after}
            spent_cli = ended.children_user + ended.children_system - cli.children_user - cli.children_system
            print(f"--network {network:6s} {'alone' if n == 1 else f'x{n}':5s}: per run, dockerd "
                  f"{spent['dockerd']:4.0f} ms, containerd with its shims and runc {spent['containerd']:4.0f} ms, "
                  f"the containers' cgroups {spent['containers']:3.0f} ms, the CLI {spent_cli / runs * 1e3:3.0f} ms, "
                  f"kernel threads {spent['kernel']:3.0f} ms", flush=True)


def measure_steps(repeat: int, together: int, settle: float = 1.0) -> None:
    """A run's phases by network, each with its wall time and CPU by cgroup (``CpuGroups``): ``together`` containers
    (a sleeping busybox) created at once, inspected at once (one cheap API call each: what the CLI itself costs),
    started at once, killed at once (``docker kill`` then ``docker wait``, which returns once the exit is cleaned
    up) and removed at once; and ``repeat`` containers one at a time. Each phase is counted over ``settle`` seconds
    more (the kernel's deferred work: RCU callbacks, the namespaces' cleanup), less what each group spends idle over
    as long (measured first)."""
    groups = CpuGroups()
    before = groups.read()
    time.sleep(2 * settle)
    idle = {name: (seconds - before[name]) / (2 * settle) for name, seconds in groups.read().items()}
    phases = ("create", "inspect", "start", "exit", "rm")
    for network in NETWORKS:
        for n in (1, together):
            rounds = repeat if n == 1 else 1
            totals: dict[str, dict[str, float]] = {phase: {} for phase in phases}
            walls: dict[str, list[float]] = {phase: [] for phase in phases}
            for _ in range(rounds):
                made: list[str] = []

                def create(_: str, made: list[str] = made, network: str = network) -> None:
                    made.append(docker("create", "--network", network, IMAGE, "/bin/sh", "-c", "sleep 1000"))

                actions: dict[str, Callable[[str], object]] = {
                    "create": create, "inspect": lambda c: docker("inspect", "--format", "{{.Id}}", c),
                    "start": lambda c: docker("start", c), "exit": lambda c: docker("kill", c) + docker("wait", c),
                    "rm": lambda c: docker("rm", c)}
                for phase in phases:
                    start, cli = groups.read(), _children_cpu()
                    wall = _at_once(actions[phase], [str(i) for i in range(n)] if phase == "create" else made)[-1]
                    time.sleep(settle)
                    spent = groups.read()
                    spent["cli"] = _children_cpu() - cli
                    walls[phase].append(wall)
                    for name, seconds in spent.items():
                        used = seconds - start.get(name, 0.0) - idle.get(name, 0.0) * (wall + settle)
                        totals[phase][name] = totals[phase].get(name, 0.0) + used
            runs = rounds * n
            for phase in phases:
                cpu = {name: seconds / runs * 1e3 for name, seconds in totals[phase].items()}
                print(f"--network {network:6s} {'alone' if n == 1 else f'x{n}':5s} {phase:7s}: wall "
                      f"{statistics.median(walls[phase]) * 1e3:6.0f} ms (median); CPU a container: dockerd "
                      f"{cpu['dockerd']:5.1f} ms, containerd with shims and runc {cpu['containerd']:5.1f}, containers "
                      f"{cpu['containers']:4.1f}, kernel threads {cpu['kernel']:5.1f}, the CLI {cpu['cli']:5.1f}",
                      flush=True)


def dirty_mb() -> float:
    """The kernel's dirty page cache, MB (/proc/meminfo "Dirty")."""
    line = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("Dirty:"))
    return int(line.split()[1]) / 1024


def direct_write_rate(directory: Path, nbytes: int = 1 << 30) -> float:
    """The disk's sequential write rate under ``directory``, bytes/s (dd with O_DIRECT: no page cache)."""
    target = directory / "dsim-measure-dd"
    done = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=16M", f"count={nbytes >> 24}", "oflag=direct"],
                          check=True, capture_output=True, text=True)
    target.unlink()
    return nbytes / float(done.stderr.strip().splitlines()[-1].split(",")[2].split()[0])


def measure_syncfs(sizes: list[int]) -> None:
    root = Path(docker("info", "--format", "{{.DockerRootDir}}"))
    print(f"{root}: direct writes {direct_write_rate(root) / 1e6:,.0f} MB/s", flush=True)
    for size in sizes:
        with tempfile.TemporaryDirectory() as staging:
            (Path(staging) / "bin").mkdir()
            (Path(staging) / "bin" / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
            (Path(staging) / "bin" / "busybox").chmod(0o755)
            (Path(staging) / "blob").write_bytes(os.urandom(size * 10**6))
            subprocess.run(["sync"], check=True)
            tar = subprocess.run(["tar", "-C", staging, "-c", "."], check=True, capture_output=True).stdout
        subprocess.run([DOCKER, "import", "-", "dsim-measure:dirty"], input=tar, check=True, capture_output=True)
        before = dirty_mb()
        created, _ = timed(lambda: docker("create", "dsim-measure:dirty", "/bin/busybox", "true"))
        after = dirty_mb()
        again, _ = timed(lambda: docker("create", "dsim-measure:dirty", "/bin/busybox", "true"))
        print(f"{size:5d} MB imported: dirty {before:7.0f} MB; docker create {created * 1e3:6.0f} ms (dirty after "
              f"{after:4.0f} MB); the next create {again * 1e3:4.0f} ms", flush=True)
        container = docker("create", IMAGE, "true")

        def run_once(name: str = container) -> str:
            return docker("start", "-a", name)

        run_once()
        clean, _ = timed(run_once)
        (root / "dsim-measure-dirty").write_bytes(os.urandom(size * 10**6))
        before = dirty_mb()
        loaded, _ = timed(run_once)
        (root / "dsim-measure-dirty").unlink()
        print(f"{size:5d} MB written beside a run: dirty {before:7.0f} MB; start + exit {loaded * 1e3:6.0f} ms "
              f"against {clean * 1e3:4.0f} ms clean (dirty after {dirty_mb():4.0f} MB)", flush=True)
        docker("rm", "-f", container)


def _comm(process: Path) -> str:
    try:
        return (process / "comm").read_text().strip()
    except OSError:
        return ""


def _user_process(process: Path) -> bool:
    """Not a kernel thread: a kernel thread has no executable (its ``exe`` link does not resolve)."""
    try:
        return bool(os.readlink(process / "exe"))
    except OSError:
        return False


def _cpuacct_group(process: Path) -> str:
    try:
        lines = (process / "cgroup").read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 2)[2] for line in lines if "cpuacct" in line.split(":", 2)[1]), "")


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _timed_sh(*args: str) -> float:
    start = time.perf_counter()
    _sh(*args)
    return time.perf_counter() - start


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def _veth_in_namespace(index: int) -> tuple[str, str, str]:
    """A namespace with one end of a veth pair in it, both ends up, as a bridge endpoint's is."""
    namespace, host_end, inner = f"dsimns{index}", f"dsimh{index}", f"dsimc{index}"
    _sh("ip", "netns", "add", namespace)
    _sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", inner)
    _sh("ip", "link", "set", inner, "netns", namespace)
    _sh("ip", "-n", namespace, "link", "set", inner, "up")
    _sh("ip", "link", "set", host_end, "up")
    return namespace, host_end, inner


def _exits_without_docker(together: int, one_at_a_time: bool) -> float:
    """``together`` bridge endpoints' exits at once without Docker: each end set down, renamed and moved back to the
    host (libnetwork osl's ``RemoveInterface``: three requests, each taking the rtnl lock), then its pair deleted;
    the deletions side by side (each ``ip`` its own socket) or one at a time (as dockerd's through its bridge
    driver's one netlink handle). Returns when the last ended, seconds from the first."""
    made = [_veth_in_namespace(index) for index in range(together)]
    time.sleep(0.5)
    handle = threading.Lock()
    began = time.perf_counter()

    def leave(made: tuple[str, str, str]) -> float:
        namespace, host_end, inner = made
        _sh("ip", "-n", namespace, "link", "set", inner, "down")
        _sh("ip", "-n", namespace, "link", "set", inner, "name", f"{inner}x")
        _sh("ip", "-n", namespace, "link", "set", f"{inner}x", "netns", "1")
        with handle if one_at_a_time else contextlib.nullcontext():
            _sh("ip", "link", "del", host_end)
        return time.perf_counter() - began

    with concurrent.futures.ThreadPoolExecutor(together) as pool:
        last = max(pool.map(leave, made))
    for namespace, _, _ in made:
        _sh("ip", "netns", "del", namespace)
    time.sleep(1)
    return last


def measure_netops(repeat: int, together: int) -> None:
    """What a bridge endpoint's exit asks of the kernel, alone and ``together`` at once."""
    walls: dict[str, list[float]] = {"ip itself (link show lo)": [], "move back to the host": [],
                                     "delete the pair": [], "delete a bridge (docker network rm)": []}
    for index in range(repeat):
        namespace, host_end, inner = _veth_in_namespace(index)
        time.sleep(0.2)
        walls["ip itself (link show lo)"].append(_timed_sh("ip", "link", "show", "lo"))
        _sh("ip", "-n", namespace, "link", "set", inner, "down")
        walls["move back to the host"].append(_timed_sh("ip", "-n", namespace, "link", "set", inner, "netns", "1"))
        walls["delete the pair"].append(_timed_sh("ip", "link", "del", host_end))
        _sh("ip", "netns", "del", namespace)
        _sh("ip", "link", "add", f"dsim-br{index}", "type", "bridge")
        _sh("ip", "link", "set", f"dsim-br{index}", "up")
        walls["delete a bridge (docker network rm)"].append(_timed_sh("ip", "link", "del", f"dsim-br{index}"))
    for what, values in walls.items():
        print(f"{what}: {statistics.median(values) * 1e3:.1f} ms (median of {repeat})", flush=True)
    made = [_veth_in_namespace(index) for index in range(together)]
    time.sleep(0.5)
    with concurrent.futures.ThreadPoolExecutor(together) as pool:
        start = time.perf_counter()
        list(pool.map(lambda made: _sh("ip", "-n", made[0], "link", "set", made[2], "netns", "1"), made))
        moved = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(lambda made: _sh("ip", "link", "del", made[1]), made))
        deleted = time.perf_counter() - start
    for namespace, _, _ in made:
        _sh("ip", "netns", "del", namespace)
    print(f"{together} at once: moved back in {moved * 1e3:.0f} ms, deleted in {deleted * 1e3:.0f} ms", flush=True)
    for one_at_a_time in (False, True):
        last = _exits_without_docker(together, one_at_a_time)
        print(f"{together} exits at once (each: down, renamed, moved back, deleted; deletions "
              f"{'one at a time, as through one handle' if one_at_a_time else 'side by side'}): the last ended at "
              f"{last * 1e3:.0f} ms", flush=True)
    rule = ("-t", "raw", "{op}", "PREROUTING", "-d", "{address}", "!", "-i", "docker0", "-j", "DROP")

    def iptables(op: str, address: str) -> None:
        _sh("iptables", "--wait", *(part.format(op=op, address=address) for part in rule))

    def checked(address: str) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # -C fails when the rule is not there
            iptables("-C", address)

    for op in ("-C", "-A", "-D"):  # -C of a rule not there, as at a start; -D of one added just before
        values, cpus = [], []
        for index in range(repeat):
            address = f"192.0.2.{index + 1}"
            if op == "-D":
                iptables("-A", address)
            start, cpu = time.perf_counter(), _children_cpu()
            checked(address) if op == "-C" else iptables(op, address)
            values.append(time.perf_counter() - start)
            cpus.append(_children_cpu() - cpu)
            if op == "-A":
                iptables("-D", address)
        print(f"iptables {op}: {statistics.median(values) * 1e3:.1f} ms (median of {repeat}), "
              f"{statistics.mean(cpus) * 1e3:.2f} ms CPU (mean)", flush=True)
    addresses = [f"198.51.100.{index + 1}" for index in range(together)]
    for op in ("-A", "-D"):
        with concurrent.futures.ThreadPoolExecutor(together) as pool:
            start = time.perf_counter()
            list(pool.map(iptables, [op] * together, addresses))
        print(f"{together} iptables {op} at once: {(time.perf_counter() - start) * 1e3:.0f} ms", flush=True)


def _dockerd_seconds() -> float:
    """CPU-seconds of dockerd and of the children it has reaped (its ``iptables`` and ``docker-proxy``)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _comm(entry) == "dockerd":
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15]) / TICK
    return total


def _published(ports: int, first: int = 10000, proto: str = "udp") -> list[str]:
    """``-p`` of ``ports`` ports of ``proto`` from host port ``first`` onto container ports 10000 and up."""
    if not ports:
        return []
    return ["-p", f"{first}-{first + ports - 1}:10000-{10000 + ports - 1}/{proto}"]


def _start_and_exit(ports: int, proto: str = "udp") -> tuple[float, float, float]:
    """(start wall, exit wall, dockerd's CPU over both) of one bridge container with ``ports`` published."""
    container = docker("create", *_published(ports, proto=proto), IMAGE, "/bin/sh", "-c", "sleep 1000")
    cpu = _dockerd_seconds()
    start = time.perf_counter()
    docker("start", container)
    started = time.perf_counter()
    docker("kill", container)
    docker("wait", container)
    ended = time.perf_counter()
    used = _dockerd_seconds() - cpu
    docker("rm", container)
    return started - start, ended - started, used


def _at_once(action: Callable[[str], object], containers: list[str]) -> list[float]:
    """``action`` on every container at once: when each returned, in order, seconds from the first call."""
    began = time.perf_counter()

    def timed(container: str) -> float:
        action(container)
        return time.perf_counter() - began

    with concurrent.futures.ThreadPoolExecutor(len(containers)) as pool:
        return sorted(pool.map(timed, containers))


def _starts_at_once(containers: list[str]) -> list[float]:
    """``docker start`` of every container at once: when each returned, in order, from the first call."""
    return _at_once(lambda container: docker("start", container), containers)


def _exits_at_once(containers: list[str]) -> list[float]:
    """``docker kill`` then ``docker wait`` of every container at once: when each wait returned (its exit cleaned
    up), in order, from the first call."""
    return _at_once(lambda container: (docker("kill", container), docker("wait", container)), containers)


def _exit_beside_start(leaving: str, coming: str) -> tuple[float, float]:
    """``docker kill`` + ``wait`` of ``leaving`` and ``docker start`` of ``coming`` at once: when each returned."""
    began = time.perf_counter()

    def stop() -> float:
        docker("kill", leaving)
        docker("wait", leaving)
        return time.perf_counter() - began

    def start() -> float:
        docker("start", coming)
        return time.perf_counter() - began

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        exited, started = pool.submit(stop), pool.submit(start)
        return exited.result(), started.result()


def measure_ports(repeat: int, sizes: list[int], proto: str = "udp") -> None:
    """Published ports of ``proto`` at a bridge container's start and exit, one container at a time, then ``repeat`` at
    once (when each start ends): medians of ``repeat`` each, and per port the difference from no port."""
    alone: dict[int, list[float]] = {}
    for ports in [0, *sizes]:
        runs = [_start_and_exit(ports, proto) for _ in range(repeat)]
        alone[ports] = [statistics.median(run[k] for run in runs) for k in range(3)]
        start, exit_, cpu = alone[ports]
        line = f"{ports:4d} ports: start {start * 1e3:6.0f} ms, exit {exit_ * 1e3:6.0f} ms, CPU {cpu * 1e3:5.0f}"
        if ports:
            each = [(now - base) / ports * 1e3 for now, base in zip(alone[ports], alone[0], strict=True)]
            line += f" ms; a port: start {each[0]:5.1f} ms, exit {each[1]:5.1f} ms, CPU {each[2]:5.1f}"
        print(line + " ms", flush=True)
    for ports in [0, *sizes]:
        containers = [docker("create", *_published(ports, 20000 + i * 100, proto), IMAGE, "/bin/sh", "-c", "sleep 1000")
                      for i in range(repeat)]
        ends = _starts_at_once(containers)
        exits = _exits_at_once(containers)
        for container in containers:
            docker("rm", "-f", container)
        print(f"{repeat} at once, {ports:4d} ports each: the starts end at "
              + ", ".join(f"{end * 1e3:.0f}" for end in ends) + " ms; killed at once, their exits at "
              + ", ".join(f"{end * 1e3:.0f}" for end in exits) + " ms", flush=True)
    for ports in sizes:
        leaving, coming = (docker("create", *_published(ports, first, proto), IMAGE, "/bin/sh", "-c", "sleep 1000")
                           for first in (20000, 30000))
        docker("start", leaving)
        exited, started = _exit_beside_start(leaving, coming)
        docker("rm", "-f", leaving, coming)
        print(f"one exit and one start at once, {ports:4d} ports each: the exit cleaned up at {exited * 1e3:.0f} ms, "
              f"the start done at {started * 1e3:.0f} ms", flush=True)


_NETLINK_NETFILTER = 12
#: ctnetlink (subsystem 1) messages: IPCTNL_MSG_CT_GET and IPCTNL_MSG_CT_DELETE
_CTNETLINK_GET, _CTNETLINK_DELETE = (1 << 8) | 1, (1 << 8) | 2
_CONNTRACK = Path("/proc/sys/net/netfilter")


def _conntrack_request(message: int, flags: int) -> socket.socket:
    """A ctnetlink request for the IPv4 table (nlmsghdr then nfgenmsg), sent; the socket to read the answer from."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.send(struct.pack("=LHHLL", 20, message, flags, 1, 0) + struct.pack("=BBH", socket.AF_INET, 0, 0))
    return sock


def conntrack_flush() -> None:
    """Empty the conntrack table (IPCTNL_MSG_CT_DELETE with no attributes), as ``conntrack -F`` does."""
    with _conntrack_request(_CTNETLINK_DELETE, 0x1 | 0x4) as sock:  # NLM_F_REQUEST | NLM_F_ACK
        sock.recv(4096)


def conntrack_dump() -> float:
    """CPU-seconds of one netlink dump of the whole table (what a flush asks the kernel for), read to its end."""
    start = resource.getrusage(resource.RUSAGE_SELF)
    with _conntrack_request(_CTNETLINK_GET, 0x1 | 0x300) as sock:  # NLM_F_REQUEST | NLM_F_DUMP
        done = False
        while not done:
            data, offset = sock.recv(65536), 0
            while offset < len(data):
                length, kind = struct.unpack_from("=LH", data, offset)
                done = done or kind in (2, 3)  # NLMSG_ERROR, NLMSG_DONE
                offset += (length + 3) & ~3
    end = resource.getrusage(resource.RUSAGE_SELF)
    return end.ru_utime - start.ru_utime + end.ru_stime - start.ru_stime


def conntrack_fill(entries: int) -> int:
    """Track ``entries`` more udp flows (a datagram each to a distinct loopback address and port); the count."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for n in range(entries):
            sock.sendto(b"x", (f"127.0.{n // 40000}.{2 + n // 40000}", 20000 + n % 40000))
    return int((_CONNTRACK / "nf_conntrack_count").read_text())


def measure_conntrack(repeat: int, sizes: list[int]) -> None:
    """A bridge container's start and exit with ``sizes`` udp flows in the conntrack table (kept by a 900 s timeout,
    restored afterwards), against an empty table: libnetwork flushes the endpoint's address at both, a dump of the
    whole table that dockerd parses. ``docker start`` of a created container, then ``docker kill`` and ``docker
    wait`` (the exit cleaned up), medians of ``repeat``; dockerd's CPU with its reaped children, the table's count
    before and after, and one bare dump's CPU from here."""
    timeout = _CONNTRACK / "nf_conntrack_udp_timeout"
    saved = timeout.read_text().strip()
    timeout.write_text("900")
    print(f"{(_CONNTRACK / 'nf_conntrack_buckets').read_text().strip()} buckets", flush=True)
    base: tuple[float, float, float] | None = None
    try:
        for entries in [0, *sizes]:
            conntrack_flush()
            counted = conntrack_fill(entries)
            dump = conntrack_dump()
            runs = [_start_and_exit(0) for _ in range(repeat)]
            start, exit_, cpu = (statistics.median(run[k] for run in runs) for k in range(3))
            line = (f"{counted:7d} entries: start {start * 1e3:6.1f} ms, exit {exit_ * 1e3:6.1f} ms, "
                    f"dockerd's CPU {cpu * 1e3:6.1f} ms; a dump {dump * 1e3:6.1f} ms; "
                    f"{int((_CONNTRACK / 'nf_conntrack_count').read_text())} entries after")
            if base is None:
                base = (start, exit_, cpu)
            elif entries:
                each = [(now - then) / entries * 1e6 for now, then in zip((start, exit_, cpu), base, strict=True)]
                line += f"; an entry: start {each[0]:.2f} us, exit {each[1]:.2f} us, CPU {each[2] / 2:.2f} us a flush"
            print(line, flush=True)
    finally:
        timeout.write_text(saved)
        conntrack_flush()


def _largest_files(root: Path, total: int) -> list[Path]:
    """The largest regular files under ``root``, biggest first, until they add up to ``total`` bytes."""
    files = sorted((path for path in root.rglob("*") if path.is_file() and not path.is_symlink()),
                   key=lambda path: path.stat().st_size, reverse=True)
    chosen, size = [], 0
    for path in files:
        if size >= total:
            break
        chosen.append(path)
        size += path.stat().st_size
    return chosen


def _largest_blob(registry: str, name_tag: str) -> int:
    """The largest layer blob's bytes of ``name:tag`` in a registry without auth (an index's first manifest)."""
    name, tag = name_tag.split(":", 1)
    accept = ", ".join(("application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json",
                        "application/vnd.docker.distribution.manifest.v2+json"))

    def manifest(reference: str) -> dict[str, Any]:
        request = urllib.request.Request(f"http://{registry}/v2/{name}/manifests/{reference}",
                                         headers={"Accept": accept})
        with urllib.request.urlopen(request) as answer:
            return dict(json.load(answer))

    found = manifest(tag)
    if "manifests" in found:
        found = manifest(found["manifests"][0]["digest"])
    return max(int(layer["size"]) for layer in found["layers"])


def measure_export(repeat: int, megabytes: int, registry: str) -> None:
    """BuildKit's export and a push of one layer of shared libraries (the largest files under /usr/lib, about
    ``megabytes`` MB: a typical layer, gzip to about 0.3): ``docker build`` of ``COPY ctx /ctx`` on the imported
    busybox, a stamp file changed each time so every layer is new, then ``docker push`` to ``registry`` (a registry
    without auth, e.g. Debian's ``docker-registry`` on localhost:5000). Prints BuildKit's "exporting layers" and
    "unpacking to" times (the containerd store gzips the layer into a blob at export and unpacks the image into its
    snapshotter; the graphdriver store registers it, and its push gzips it), the push's wall time and dockerd's
    CPU over it, the layer's bytes and its blob's. Needs the buildx plugin."""
    with tempfile.TemporaryDirectory() as context:
        ctx = Path(context) / "ctx"
        ctx.mkdir()
        for n, path in enumerate(_largest_files(Path("/usr/lib"), megabytes * 10**6)):
            (ctx / f"{n:04d}-{path.name}").write_bytes(path.read_bytes())
        (Path(context) / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY ctx /ctx\n")
        size = sum(path.stat().st_size for path in ctx.iterdir())
        for n in range(repeat):
            (ctx / "stamp").write_text(f"{time.time_ns()}\n")
            ref = f"{registry}/dsim-export:{n}-{time.time_ns()}"
            built = subprocess.run([DOCKER, "build", "--progress=plain", "-t", ref, context], capture_output=True,
                                   text=True, check=True, env={**os.environ, "DOCKER_BUILDKIT": "1"})
            log = built.stdout + built.stderr  # BuildKit's plain progress goes to stderr
            exported = re.search(r"exporting layers ([0-9.]+)s done", log)
            unpacked = re.search(r"unpacking to \S+ ([0-9.]+)s done", log)
            pushed = _timed_dockerd(functools.partial(docker, "push", "-q", ref))
            blob = _largest_blob(registry, ref.rsplit("/", 1)[1])
            print(f"layer {size / 1e6:.1f} MB, blob {blob / 1e6:.1f} MB: exporting layers "
                  f"{exported.group(1) if exported else '-'} s, unpacking {unpacked.group(1) if unpacked else '-'} s; "
                  f"push {pushed[0]:.2f} s wall, dockerd's CPU {pushed[1]:.2f} s", flush=True)


def measure_network(repeat: int) -> None:
    """``docker network create`` then ``rm`` of a bridge network, ``repeat`` times, and ``docker network inspect
    bridge`` (the CLI and one API call: to subtract): median wall times, and dockerd's CPU (with its children's)
    as a mean (its ticks are 10 ms)."""
    runs: dict[str, list[tuple[float, float]]] = {"inspect": [], "create": [], "rm": []}
    for n in range(repeat):
        name = f"dsim-measure-{n}"
        for what, args in (("inspect", ("inspect", "bridge")), ("create", ("create", name)), ("rm", ("rm", name))):
            runs[what].append(_timed_dockerd(functools.partial(docker, "network", *args)))
    for what, timed_runs in runs.items():
        print(f"docker network {what:7s}: {statistics.median(w for w, _ in timed_runs) * 1e3:5.0f} ms wall "
              f"(median), dockerd's CPU {statistics.mean(c for _, c in timed_runs) * 1e3:5.1f} ms (mean of {repeat})",
              flush=True)


def _own_and_children(names: Iterable[str]) -> dict[str, tuple[float, float]]:
    """(own, reaped children's) CPU-seconds of the live processes of each command name."""
    found: dict[str, tuple[float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            if name in names:
                ticks = [int(field) for field in (entry / "stat").read_text().rsplit(")", 1)[1].split()[11:15]]
                own, children = found.get(name, (0.0, 0.0))
                found[name] = (own + (ticks[0] + ticks[1]) / TICK, children + (ticks[2] + ticks[3]) / TICK)
        except OSError:
            continue
    return found


def _forget_image(ref: str) -> None:
    """``ref`` gone with its layers: the image, the build cache, and the containerd store's leases (which keep a
    pulled blob and its snapshot alive until they expire), then a wait for containerd's collector."""
    subprocess.run([DOCKER, "rmi", "-f", ref], capture_output=True)
    subprocess.run([DOCKER, "builder", "prune", "-af"], capture_output=True)
    leases = subprocess.run(["ctr", "-n", "moby", "leases", "ls", "-q"], capture_output=True, text=True)
    for lease in leases.stdout.split():
        subprocess.run(["ctr", "-n", "moby", "leases", "rm", lease], capture_output=True)
    time.sleep(2.5)


def _timed_pull(ref: str) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """(wall seconds, seconds until unpigz first ran, each daemon's (own, children's) CPU-seconds) of one pull."""
    names = ("dockerd", "containerd")
    _drop_caches()
    time.sleep(1)
    before = _own_and_children(names)
    start = time.perf_counter()
    pull = subprocess.Popen([DOCKER, "pull", "-q", ref], stdout=subprocess.DEVNULL)
    inflating = None
    while pull.poll() is None:
        if inflating is None and subprocess.run(["pidof", "unpigz"], capture_output=True).returncode == 0:
            inflating = time.perf_counter() - start
        time.sleep(0.02)
    wall = time.perf_counter() - start
    after = _own_and_children(names)
    spent = {name: (after[name][0] - before[name][0], after[name][1] - before[name][1]) for name in after}
    return wall, inflating if inflating is not None else float("nan"), spent


def measure_pulls_together(repeat: int, refs: list[str]) -> None:
    """All of ``refs`` pulled at once (one ``docker pull`` each), every image gone with its layers and the caches
    dropped first: each pull's wall time and the daemons' CPU (each its own and its reaped children's) over all."""
    names = ("dockerd", "containerd")
    for _ in range(repeat):
        for ref in refs:
            _forget_image(ref)
        _drop_caches()
        time.sleep(1)
        before, start = _own_and_children(names), time.perf_counter()
        pulls = {ref: subprocess.Popen([DOCKER, "pull", "-q", ref], stdout=subprocess.DEVNULL) for ref in refs}
        ended: dict[str, float] = {}
        while len(ended) < len(pulls):
            for ref, pull in pulls.items():
                if ref not in ended and pull.poll() is not None:
                    ended[ref] = time.perf_counter() - start
            time.sleep(0.01)
        after = _own_and_children(names)
        print("together: " + ", ".join(f"{ref} {seconds:.2f} s" for ref, seconds in ended.items()) + "; CPU "
              + ", ".join(f"{name} {after[name][0] - before[name][0]:.2f} + children "
                          f"{after[name][1] - before[name][1]:.2f}" for name in sorted(after)), flush=True)


def measure_pulls(repeat: int, refs: list[str]) -> None:
    """Pulls of images already in a registry, each gone with its layers before each pull."""
    for _ in range(repeat):
        for ref in refs:
            _forget_image(ref)
            wall, inflating, spent = _timed_pull(ref)
            print(f"{ref}: {wall:.2f} s, inflate from {inflating:.2f} s; CPU "
                  + ", ".join(f"{name} {own:.2f} + children {children:.2f}"
                              for name, (own, children) in sorted(spent.items())), flush=True)


def measure_rmi(repeat: int, refs: list[str]) -> None:
    """``docker rmi`` of each image just pulled (see the module's docstring)."""
    names = ("dockerd", "containerd")
    for _ in range(repeat):
        for ref in refs:
            _forget_image(ref)
            docker("pull", "-q", ref)
            subprocess.run(["sync"], check=True)
            time.sleep(1)
            before, start = _own_and_children(names), time.perf_counter()
            docker("rmi", ref)
            wall = time.perf_counter() - start
            time.sleep(3)
            after = _own_and_children(names)
            print(f"{ref}: rmi {wall:.3f} s; CPU over it and 3 s after: "
                  + ", ".join(f"{name} {after[name][0] - before[name][0]:.2f}" for name in sorted(after)), flush=True)


def measure_pull(repeat: int, counts: list[int], registry: str, megabytes: int = 200) -> None:
    """Pulls of one-layer images of ``megabytes`` MB of random bytes in each of ``counts`` files (see the module's
    docstring); prints each pull and, per daemon, the least-squares CPU-seconds an entry of the layer's tar."""
    refs = {}
    for count in counts:
        with tempfile.TemporaryDirectory() as context:
            size = megabytes * 10**6 // count
            for n in range(count):
                folder = Path(context) / "data" / str(n // 500)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"f{n}").write_bytes(os.urandom(size))
            (Path(context) / "Dockerfile").write_text("FROM scratch\nCOPY data /data\n")
            ref = refs[count] = f"{registry}/dsim-pull:{count}"
            docker("build", "-q", "-t", ref, context, DOCKER_BUILDKIT="1")
            docker("push", "-q", ref)
            _forget_image(ref)
    cpus: dict[str, list[tuple[int, float]]] = {}
    for _ in range(repeat):
        for count, ref in refs.items():
            wall, inflating, spent = _timed_pull(ref)
            print(f"{count:6d} files: {wall:.2f} s, inflate from {inflating:.2f} s; CPU "
                  + ", ".join(f"{name} {own:.2f} + children {children:.2f}"
                              for name, (own, children) in sorted(spent.items())), flush=True)
            for name, (own, _) in spent.items():
                cpus.setdefault(name, []).append((count, own))
            _forget_image(ref)
    for name, points in sorted(cpus.items()):
        per_file, base = slope([count for count, _ in points], [own for _, own in points])
        print(f"{name}: {per_file * 1e6:.0f} us of its own CPU an entry, {base:.2f} s at none", flush=True)


def _drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def measure_pipe(repeat: int, megabytes: int) -> None:
    """``unpigz -c | tar -x`` as scheduled, on two cores apart and on one (see the module's docstring)."""
    ways = {"free": ("", ""), "apart": ("taskset -c 0 ", "taskset -c 1 "), "one": ("taskset -c 0 ", "taskset -c 0 ")}
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "data").mkdir()
        for i in range(4):
            (root / "data" / f"f{i}").write_bytes(os.urandom(megabytes * 250_000))
        subprocess.run(["tar", "-cf", "layer.tar", "data"], cwd=root, check=True)
        subprocess.run("pigz -1 -c layer.tar > layer.gz && rm -r layer.tar data", shell=True, cwd=root, check=True)
        times: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(repeat):
            for way, (inflate, apply) in ways.items():
                subprocess.run(["rm", "-rf", "out"], cwd=root, check=True)
                (root / "out").mkdir()
                _drop_caches()
                (root / "layer.gz").read_bytes()
                start = time.perf_counter()
                subprocess.run(f"{inflate}unpigz -c layer.gz | {apply}tar -x -C out", shell=True, cwd=root, check=True)
                times[way].append(time.perf_counter() - start)
        medians = {way: statistics.median(seconds) for way, seconds in times.items()}
        for way, seconds in times.items():
            print(f"{way}: " + " ".join(f"{s:.3f}" for s in sorted(seconds)) + f" s, median {medians[way]:.3f} s")
        share = (medians["free"] - medians["apart"]) / (medians["one"] - medians["apart"])
        print(f"as if on one core: {share:.2f} of the difference", flush=True)


def _progress_stream(ref: str) -> Iterable[tuple[float, dict[str, Any]]]:
    """The Engine API's pull of ``ref``: each JSON message with the seconds since the request."""
    repository, tag = ref.rsplit(":", 1)
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect("/var/run/docker.sock")
        start = time.perf_counter()
        conn.sendall(f"POST /images/create?fromImage={repository}&tag={tag} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        reader = conn.makefile("rb")
        while reader.readline().strip():  # the response's headers
            pass
        for line in reader:
            if line.strip():
                yield time.perf_counter() - start, json.loads(line)


def measure_layers(refs: list[str]) -> None:
    """Each layer's download and extraction as the pull's progress shows them (see the module's docstring)."""
    for ref in refs:
        _forget_image(ref)
        _drop_caches()
        time.sleep(1)
        seen: dict[tuple[str, str], list[float]] = {}
        end = 0.0
        for at, message in _progress_stream(ref):
            end = at
            if "id" in message and "status" in message:
                seen.setdefault((message["id"], message["status"]), []).append(at)
        layers = sorted({layer for layer, status in seen if (layer, "Pull complete") in seen})
        spans = []
        for layer in layers:
            began = seen.get((layer, "Downloading"), [float("nan")])[0]
            done = seen.get((layer, "Download complete"), [float("nan")])[0]
            extracting = seen.get((layer, "Extracting"), [float("nan")])[0]
            spans.append((began, done))
            print(f"{ref} {layer}: downloading {began:.2f}-{done:.2f} s, extracting {extracting:.2f}-"
                  f"{seen[layer, 'Pull complete'][0]:.2f} s")
        most = max(sum(1 for b, d in spans if b <= at < d) for at, _ in spans) if spans else 0
        print(f"{ref}: {end:.2f} s, at most {most} layers downloading at once (progress every 0.1 s)", flush=True)


def measure_push(repeat: int, megabytes: int, registry: str) -> None:
    """Pushes of new images of 4 random layers (see the module's docstring)."""
    names = ("dockerd", "containerd")
    with tempfile.TemporaryDirectory() as context:
        root = Path(context)
        (root / "Dockerfile").write_text("FROM scratch\n" + "".join(f"COPY r{i} /r{i}\n" for i in range(4)))
        for n in range(repeat):
            for i in range(4):
                (root / f"r{i}").write_bytes(os.urandom(megabytes * 10**6))
            ref = f"{registry}/dsim-push-{time.time_ns()}:{n}"
            subprocess.run([DOCKER, "build", "-q", "-t", ref, context], capture_output=True, check=True,
                           env={**os.environ, "DOCKER_BUILDKIT": "1"})
            _drop_caches()
            time.sleep(1)
            before, start = _own_and_children(names), time.perf_counter()
            docker("push", "-q", ref)
            wall = time.perf_counter() - start
            after = _own_and_children(names)
            print(f"{ref}: push {wall:.2f} s; CPU " + ", ".join(
                f"{name} {after[name][0] - before[name][0]:.2f} + children {after[name][1] - before[name][1]:.2f}"
                for name in sorted(after)), flush=True)


def measure_phases(repeat: int) -> None:
    """A run's start, exit and removal by network (see the module's docstring)."""
    phases: dict[str, list[tuple[float, ...]]] = {}
    for _ in range(repeat):
        for network in NETWORKS:
            container = docker("create", "--network", network, IMAGE, "/bin/sh", "-c", "sleep 1000")
            time.sleep(0.2)
            marks = [(time.perf_counter(), _dockerd_seconds())]
            for action in (("start", container), ("kill", container), ("rm", container)):
                docker(*action)
                if action[0] == "kill":
                    docker("wait", container)
                marks.append((time.perf_counter(), _dockerd_seconds()))
            phases.setdefault(network, []).append(tuple(
                [after[0] - before[0] for before, after in zip(marks, marks[1:], strict=False)]
                + [after[1] - before[1] for before, after in zip(marks, marks[1:], strict=False)]))
    for network, runs in phases.items():
        columns = list(zip(*runs, strict=True))
        walls = " / ".join(f"{statistics.median(column) * 1e3:.1f}" for column in columns[:3])
        cpus = " / ".join(f"{statistics.mean(column) * 1e3:.1f}" for column in columns[3:])
        print(f"--network {network:6s}: start / exit / rm {walls} ms; dockerd's CPU {cpus} ms", flush=True)


def _goroutines() -> str:
    """dockerd's goroutine dump (``/debug/pprof/goroutine?debug=2`` on the API socket: dockerd started with -D)."""
    done = subprocess.run(["curl", "-s", "--unix-socket", "/var/run/docker.sock",
                           "http://docker/debug/pprof/goroutine?debug=2"], capture_output=True, text=True, check=True)
    return done.stdout


def _waiting_in(dump: str, marker: str) -> collections.Counter[str]:
    """Goroutines of ``dump`` whose stack holds ``marker``, counted by their state, their innermost libnetwork call
    and the netlink handle's method they are in, if any (e.g. ``sync.Mutex.Lock bridge.(*driver).DeleteEndpoint
    netlink.(*Handle).LinkDel``)."""
    found: collections.Counter[str] = collections.Counter()
    for goroutine in dump.split("\n\n"):
        if marker not in goroutine:
            continue
        lines = goroutine.splitlines()
        state = lines[0].split("[", 1)[1].split("]", 1)[0].split(",")[0]
        calls = [line.split("(0x")[0].split("({")[0].rsplit("/", 1)[-1] for line in lines[1::2]]
        netlink = next((call for call in calls if call.startswith("netlink.(*Handle).")), "")
        moby = next((call for call in calls if call.startswith(("bridge.", "libnetwork.", "osl.", "iptables."))),
                    "?")
        found[f"{state} {moby} {netlink}".rstrip()] += 1
    return found


def measure_handle(together: int, interval: float = 0.1) -> None:
    """Where ``together`` bridge exits at once wait in dockerd: the containers (a sleeping busybox) started, then
    killed at once (``docker kill`` then ``docker wait``, which returns once the exit is cleaned up) while dockerd's
    goroutines are dumped every ``interval`` seconds; the goroutines of the exits' cleanup (``releaseNetwork``) are
    counted by state and call, averaged over the dumps. Needs dockerd started with -D."""
    containers = [docker("create", "--network", "bridge", IMAGE, "/bin/sh", "-c", "sleep 1000")
                  for _ in range(together)]
    _starts_at_once(containers)
    time.sleep(2)
    dumps: list[str] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            dumps.append(_goroutines())
            stop.wait(interval)

    sampler = threading.Thread(target=sample)
    sampler.start()
    ends = _exits_at_once(containers)
    stop.set()
    sampler.join()
    docker("rm", *containers)
    counts: collections.Counter[str] = collections.Counter()
    for dump in dumps:
        counts.update(_waiting_in(dump, "releaseNetwork"))
    print(f"{together} bridge exits at once: the last cleaned up at {ends[-1]:.2f} s; {len(dumps)} dumps; the exits' "
          "goroutines on average:", flush=True)
    for where, count in counts.most_common(8):
        print(f"  {count / len(dumps):5.2f}  {where}", flush=True)


def _timed_dockerd(action: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU-seconds of dockerd with its reaped children) of one action."""
    cpu, start = _dockerd_seconds(), time.perf_counter()
    action()
    return time.perf_counter() - start, _dockerd_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("buildkit", "run", "start", "storm", "cpu", "syncfs", "netops", "ports",
                                         "network", "conntrack", "export", "pull", "rmi", "pipe", "layers", "push",
                                         "phases", "steps", "handle"))
    parser.add_argument("--steps", default="1,41,81,121")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--proto", choices=("udp", "tcp"), default="udp",
                        help="ports: the published ports' protocol (a udp port's conntrack entries are flushed, "
                             "a tcp port's are not)")
    parser.add_argument("--refs", default=None, help="pull: images in a registry to pull instead of building them")
    parser.add_argument("--together", action="store_true", help="pull --refs: pull them all at once")
    parser.add_argument("--sizes", default=None, help="storm: containers at once (8,16,32); syncfs: MB (500,1500)")
    args = parser.parse_args()
    if args.what == "netops":
        measure_netops(args.repeat, int(args.sizes or 16))
        return
    if args.what == "pipe":
        measure_pipe(args.repeat, int(args.sizes or 400))
        return
    print(f"Docker {docker('version', '--format', '{{.Server.Version}}')}, {os.cpu_count()} CPUs", flush=True)
    import_image()
    if args.what == "buildkit":
        measure_buildkit([int(n) for n in args.steps.split(",")], args.repeat)
    elif args.what == "run":
        measure_runs(args.repeat)
    elif args.what == "start":
        measure_starts(args.repeat)
    elif args.what == "cpu":
        measure_cpu(args.repeat)
    elif args.what == "network":
        measure_network(args.repeat)
    elif args.what == "export":
        measure_export(args.repeat, int(args.sizes or 250), os.environ.get("REGISTRY", "localhost:5000"))
    elif args.what == "rmi":
        refs = args.refs or "localhost:5000/dsim-pull:200,localhost:5000/dsim-pull:20000"
        measure_rmi(args.repeat, refs.split(","))
    elif args.what == "phases":
        measure_phases(args.repeat)
    elif args.what == "handle":
        measure_handle(int(args.sizes or 32))
    elif args.what == "steps":
        measure_steps(args.repeat, int(args.sizes or 32))
    elif args.what == "push":
        measure_push(args.repeat, int(args.sizes or 100), os.environ.get("REGISTRY", "localhost:5000"))
    elif args.what == "layers":
        measure_layers((args.refs or "").split(","))
    elif args.what == "pull" and args.refs and args.together:
        measure_pulls_together(args.repeat, args.refs.split(","))
    elif args.what == "pull" and args.refs:
        measure_pulls(args.repeat, args.refs.split(","))
    elif args.what == "pull":
        measure_pull(args.repeat, [int(n) for n in (args.sizes or "200,2000,20000").split(",")],
                     os.environ.get("REGISTRY", "localhost:5000"))
    elif args.what == "conntrack":
        measure_conntrack(args.repeat, [int(n) for n in (args.sizes or "50000,150000").split(",")])
    elif args.what == "ports":
        measure_ports(args.repeat, [int(n) for n in (args.sizes or "25,50").split(",")], args.proto)
    elif args.what == "syncfs":
        measure_syncfs([int(n) for n in (args.sizes or "500,1500").split(",")])
    else:
        measure_storms([int(n) for n in (args.sizes or "8,16,32").split(",")])


if __name__ == "__main__":
    main()
