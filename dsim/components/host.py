"""The shared kernel of one host: CPU by processor sharing, memory and its OOM killer, the page cache,
a network-namespace lock and the host port table.

Containers share it (no guest kernel): every start takes the netns lock briefly, every published port is
an entry in one table, CPU and memory add up on one machine, and containers of one image share its
files in one page cache. A VM brings its own kernel, but its VMM is still a process on this one.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from array import array
from collections.abc import Callable
from typing import Any

import simpy

from dsim.components.workers import Lock
from dsim.domain.hosts import SMT_GAIN
from dsim.environment import process_now
from dsim.records import Recorder, SpanKind

#: A task finishes when it is this close (relative to the clock's time) to its finish: float error only.
_FINISH_TOL = 1e-9


class PortInUse(Exception):
    """A host port another container already publishes."""


class PortsExhausted(Exception):
    """Every port of the ephemeral range is taken (libnetwork: 'all ports are allocated')."""


class CpuTask:
    """CPU work of one process: ``work`` CPU-seconds at no more than ``cap`` cores; ``done`` fires at the end."""

    __slots__ = ("cap", "work", "done", "mark", "seq", "cls", "cancelled", "started")

    def __init__(self, cap: float, work: float, done: simpy.Event, started: float) -> None:
        self.cap = cap
        self.work = work
        self.done = done
        self.mark = 0.0
        self.seq = 0
        self.cls: _CapClass | None = None
        self.cancelled = False
        self.started = started


class _CapClass:
    """Tasks with one cap: the same rate at any moment, so one virtual clock (CPU-seconds per task)."""

    __slots__ = ("cap", "n", "clock", "rate", "heap")

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.n = 0
        self.clock = 0.0
        self.rate = 0.0
        self.heap: list[tuple[float, int, CpuTask]] = []


class CpuScheduler:
    """Processor sharing of ``cores`` among running tasks, each capped (the CFS quota of ``--cpus``).

    Rates are max-min fair (water-filling): with C cores and tasks capped at c_i, every task gets
    min(c_i, L) where L solves sum_i min(c_i, L) = C (or every task its cap when they fit). This is the
    fluid limit of CFS with quotas. Tasks with equal caps share one virtual clock and a heap of finish
    marks, so a start or an end costs O(k log k) for k distinct caps, plus one rescheduled wake-up:
    nothing polls.
    """

    def __init__(self, env: simpy.Environment, cores: float,
                 on_change: Callable[[float, float, float, int], None] | None = None, *,
                 utilisation: bool = True) -> None:
        """``utilisation``: keep the marks :meth:`utilisation` reads (three numbers at each change of the busy
        cores, for the whole run); a server whose utilisation nobody asks for keeps none."""
        self.env = env
        self.cores = cores
        self.classes: dict[float, _CapClass] = {}
        self.busy = 0.0  # cores in use now
        self.runnable = 0
        self._t = env.now
        self._since = env.now  # start of the current constant-busy interval
        self._integral = 0.0
        self._seq = itertools.count()
        self._pending: simpy.Event | None = None  # the wake-up scheduled by the last change, if any
        self._on_change = on_change
        #: at each change of the busy cores: (time, busy integral so far, busy cores from then on), as C
        #: doubles (8 bytes a number where a list of floats takes 32): a long run makes millions
        self._marks: array[float] | None = array("d", (env.now,)) if utilisation else None
        self._mark_integral = array("d", (0.0,))
        self._mark_busy = array("d", (0.0,))
        self._shown: tuple[float, int] = (0.0, 0)  # (busy, runnable) of the interval since _since

    # ------------------------------------------------------------------ public

    def run(self, work: float, cap: float, threads: float | None = None) -> CpuTask:
        """Start ``work`` CPU-seconds at up to ``cap`` cores; the task's ``done`` event fires when it is done.
        ``threads``: the hardware threads it runs on at once while its quota lets it run, when more than ``cap``
        (a CFS quota below its runnable threads); only :class:`SmtCpuScheduler` reads it."""
        env = self.env
        now = env.now
        task = CpuTask(cap, work, env.event(), now)
        if work <= 0:
            task.done.succeed(now)
            return task
        if not self.runnable and cap > 0 and self.cores > 0:
            self._run_alone(task)
        else:
            self._run_shared(task)
        return task

    def cancel(self, task: CpuTask) -> float:
        """The process ended before its work did (stopped, killed): returns the CPU-seconds it received."""
        cls = task.cls
        if cls is None or task.cancelled or task.done.triggered:
            return task.work if task.done.triggered else 0.0
        self._advance()
        received = task.work - (task.mark - cls.clock)
        task.cancelled = True
        cls.n -= 1
        self.runnable -= 1
        if cls.n == 0:
            del self.classes[cls.cap]
            cls.heap.clear()  # only cancelled tasks are left: no cycle between them and their class
        self._resolve()
        return received

    def received(self, task: CpuTask, at: float | None = None) -> float:
        """CPU-seconds ``task`` has received by ``at`` (default now; a later instant before the next event
        extrapolates the current rates). Read-only: ``docker stats``."""
        cls = task.cls
        if task.done.triggered or cls is None:
            return task.work if task.done.triggered else 0.0
        if task.cancelled:
            return 0.0
        clock = cls.clock + cls.rate * ((self.env.now if at is None else at) - self._t)
        return min(task.work, max(0.0, task.work - (task.mark - clock)))

    def close(self) -> None:
        """At the end of the run: record the interval still open."""
        if self._on_change is not None and self.busy > 0 and self.env.now > self._since:
            self._on_change(self._since, self.env.now, self.busy, self.runnable)
            self._since = self.env.now

    def utilisation(self, horizon: float) -> float:
        """Mean share of the cores busy over [0, horizon] (work after the horizon does not count)."""
        marks = self._marks
        if marks is None:
            raise ValueError("this scheduler keeps no utilisation marks (made with utilisation=False)")
        if horizon <= 0 or self.cores <= 0:
            return 0.0
        i = bisect.bisect_right(marks, horizon) - 1
        if i < 0:
            return 0.0
        busy = self._mark_integral[i] + self._mark_busy[i] * (horizon - marks[i])
        return busy / (self.cores * horizon)

    # ------------------------------------------------------------------ internals

    def _run_shared(self, task: CpuTask) -> None:
        """``run`` in general: the task joins its cap class (at the class's virtual clock) and the rates are
        solved again."""
        now = self.env.now
        classes = self.classes
        dt = now - self._t
        if dt > 0:  # _advance, inline: a start is the scheduler's commonest change
            for other in classes.values():
                other.clock += other.rate * dt
            self._integral += self.busy * dt
            self._t = now
        cap = task.cap
        cls = classes.get(cap)
        if cls is None:
            cls = classes[cap] = _CapClass(cap)
        task.cls = cls
        task.mark = mark = cls.clock + task.work
        task.seq = seq = next(self._seq)
        heapq.heappush(cls.heap, (mark, seq, task))
        cls.n += 1
        self.runnable += 1
        self._resolve()

    def _run_alone(self, task: CpuTask) -> None:
        """``run`` on an idle scheduler (the commonest start: a step of a start path on a host with no other
        CPU work): what ``_advance``, a new cap class and ``_resolve`` do for one task, without their loops.
        Idle, no class is left and the busy cores are 0, so the integral stands; the task runs at its cap
        (at most every core) and ends ``work / rate`` from now, exactly as the general path computes it."""
        now = self.env.now
        self._t = now
        cap, work = task.cap, task.work
        cls = self.classes[cap] = _CapClass(cap)
        task.cls = cls
        task.mark = work  # the new class's clock is 0
        task.seq = seq = next(self._seq)
        cls.heap.append((work, seq, task))
        cls.n = 1
        self.runnable = 1
        rate = cls.rate = cap if cap <= self.cores else self.cores
        self._changed(rate, now)
        wake = self._pending = self.env.timeout(work / rate)
        wake.callbacks.append(self._wake)

    def _changed(self, busy: float, now: float) -> None:
        """The busy cores are now ``busy`` (and ``runnable`` tasks run): the utilisation marks and the
        interval just ended (``on_change``), as ``_resolve`` records them."""
        self.busy = busy
        marks = self._marks
        if marks is not None and busy != self._mark_busy[-1]:
            if marks[-1] == self._t:
                self._mark_busy[-1] = busy
            else:
                marks.append(self._t)
                self._mark_integral.append(self._integral)
                self._mark_busy.append(busy)
        shown = self._shown
        runnable = self.runnable
        if self._on_change is not None and (busy != shown[0] or runnable != shown[1]):
            if now > self._since and shown[0] > 0:
                self._on_change(self._since, now, *shown)
            self._since = now
            self._shown = (busy, runnable)

    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._t
        if dt > 0:
            for cls in self.classes.values():
                cls.clock += cls.rate * dt
            self._integral += self.busy * dt
            self._t = now

    def _rates(self) -> None:
        """Water-filling over the cap classes, smallest cap first."""
        classes = self.classes
        cores = self.cores
        if len(classes) == 1:  # one cap: the common case, the loop below with one turn
            for cls in classes.values():
                level = cores / self.runnable
                cap = cls.cap
                rate = cls.rate = cap if cap <= level else level
                busy = rate * cls.n
                self.busy = busy if busy <= cores else cores
            return
        left = cores
        tasks = self.runnable
        busy = 0.0
        for _, cls in sorted(classes.items()):
            cap = cls.cap
            level = left / tasks if tasks else 0.0
            rate = cap if cap <= level else level
            cls.rate = rate
            left -= rate * cls.n
            tasks -= cls.n
            busy += rate * cls.n
        self.busy = busy if busy <= cores else cores

    def _resolve(self) -> None:
        """After a change at this instant: new rates, record the interval, one wake-up at the next finish."""
        self._rates()
        self._changed(self.busy, self.env.now)
        self._pending = None
        due = math.inf
        for cls in self.classes.values():
            heap = cls.heap
            while heap and heap[0][2].cancelled:
                heapq.heappop(heap)
            rate = cls.rate
            if heap and rate > 0:
                after = (heap[0][0] - cls.clock) / rate
                if after < due:
                    due = after
        if due != math.inf:
            wake = self._pending = self.env.timeout(due if due > 0.0 else 0.0)
            wake.callbacks.append(self._wake)

    def _wake(self, wake: simpy.Event) -> None:
        if wake is not self._pending:
            return  # a later change rescheduled the wake-up
        self._advance()
        now = self.env.now
        if self.runnable == 1 and len(self.classes) == 1 and self._end_alone(now):
            return
        finished = self._finished(now)
        self._resolve()
        if len(finished) > 1:
            finished.sort(key=_by_seq)
        # a wake-up is a timeout's callback: the tasks' waiters resume now, in the order the tasks started, with
        # no event each (dsim.environment.process_now), once the scheduler's state is whole again
        process_now(self.env, [task.done for task in finished], now)

    def _finished(self, now: float) -> list[CpuTask]:
        """The tasks that end now, out of their classes (a class left empty is dropped)."""
        tol = _FINISH_TOL * (now if now > 1.0 else 1.0)
        finished: list[CpuTask] = []
        classes = self.classes
        for cap, cls in list(classes.items()):
            heap = cls.heap
            clock = cls.clock
            tol_work = tol * cls.rate
            while heap and (heap[0][2].cancelled or heap[0][0] - clock <= tol_work):
                task = heapq.heappop(heap)[2]
                if task.cancelled:
                    continue
                finished.append(task)
                cls.n -= 1
                self.runnable -= 1
            if cls.n == 0:
                del classes[cap]
        return finished

    def _end_alone(self, now: float) -> bool:
        """``_wake``'s work when the one task left ends now (the commonest end): it leaves, the scheduler is
        idle (no class, 0 cores busy, no wake-up), its waiters resume. False, with nothing done, when the
        task does not end now or its class's heap holds cancelled tasks too (the general path then)."""
        classes = self.classes
        (cls,) = classes.values()
        heap = cls.heap
        if len(heap) != 1 or heap[0][0] - cls.clock > _FINISH_TOL * (now if now > 1.0 else 1.0) * cls.rate:
            return False
        task = heap[0][2]
        heap.clear()  # the task and its class would hold each other: a reference cycle only the collector frees
        classes.clear()
        self.runnable = 0
        self._changed(0.0, now)
        self._pending = None
        process_now(self.env, [task.done], now)
        return True


def _by_seq(task: CpuTask) -> int:
    return task.seq


class SmtCpuScheduler(CpuScheduler):
    """:class:`CpuScheduler` on hardware threads (SMT, Intel's Hyper-Threading): ``cores`` are logical CPUs,
    ``threads_per_core`` of them on each of the P = cores / threads_per_core physical cores.

    A core with all its threads busy does ``1 + smt_gain`` times the work of one thread alone, each busy
    thread beyond its first adding smt_gain / (threads_per_core - 1), and the kernel fills idle cores before
    siblings. So with B logical CPUs busy, P of them are the cores' first threads (P units of work) and the
    other B - P are siblings (smt_gain / (threads_per_core - 1) each): the host's throughput (CPU-seconds of
    one thread alone on a core, per second) is, in the fluid limit,

        T(B) = B                                                  for B <= P
        T(B) = P + smt_gain x (B - P) / (threads_per_core - 1)   for P < B <= cores

    The water-filling shares out logical CPUs as before (a CFS quota caps a task's logical share: CFS charges
    it per hardware thread), ``busy`` and the utilisation stay logical (what top shows), and every task
    progresses at its logical rate times T(B*) / B*, where B* is the occupancy: B, plus, while threads are
    idle, the extra threads of tasks whose quota is below their runnable threads. CFS bandwidth control runs
    such a task on all its threads at once until the period's quota is spent, then throttles it, so while it
    runs its threads sit on siblings: over a period its quota q buys q x T(w) / w of work on w threads
    (docker/for-linux#423). B* = min(cores, B + sum of (threads - cap) over those tasks): the bursts are taken
    to overlap the host's other work, an upper bound on the siblings' contention. With no such task, B* = B
    and the work delivered is T(B) integrated over time.
    """

    def __init__(self, env: simpy.Environment, cores: float,
                 on_change: Callable[[float, float, float, int], None] | None = None, *,
                 utilisation: bool = True, threads_per_core: int = 2, smt_gain: float = SMT_GAIN) -> None:
        if threads_per_core < 1 or not 0.0 <= smt_gain <= max(threads_per_core - 1, 0):
            raise ValueError(f"need threads_per_core >= 1 and 0 <= smt_gain <= threads_per_core - 1 "
                             f"(got {threads_per_core}, {smt_gain})")
        super().__init__(env, cores, on_change, utilisation=utilisation)
        self.threads_per_core = threads_per_core
        self.smt_gain = smt_gain
        self.physical = cores / threads_per_core
        #: threads beyond their cap of the running quota-throttled tasks, by task; and their sum
        self._extra: dict[CpuTask, float] = {}
        self._surplus = 0.0

    def throughput(self, busy: float) -> float:
        """T(B): the work per second of ``busy`` logical CPUs (the formula above)."""
        physical = self.physical
        if busy <= physical:
            return busy
        return physical + self.smt_gain * (busy - physical) / (self.threads_per_core - 1)

    def run(self, work: float, cap: float, threads: float | None = None) -> CpuTask:
        """Every start by the general path (the fast path for a lone task knows no siblings)."""
        now = self.env.now
        task = CpuTask(cap, work, self.env.event(), now)
        if work <= 0:
            task.done.succeed(now)
            return task
        if threads is not None and threads > cap > 0:
            self._extra[task] = extra = threads - cap
            self._surplus += extra
        self._run_shared(task)
        return task

    def cancel(self, task: CpuTask) -> float:
        self._leave(task)
        return super().cancel(task)

    def _leave(self, task: CpuTask) -> None:
        extra = self._extra.pop(task, None)
        if extra is not None:
            self._surplus = self._surplus - extra if self._extra else 0.0  # no float residue once none is left

    def _finished(self, now: float) -> list[CpuTask]:
        finished = super()._finished(now)
        if self._extra:
            for task in finished:
                self._leave(task)
        return finished

    def _end_alone(self, now: float) -> bool:
        """The fast path only for a task without extra threads (else the general path, which drops them
        before any waiter resumes and starts more)."""
        return not self._extra and super()._end_alone(now)

    def _rates(self) -> None:
        """The logical rates, then each class's progress scaled by T(B*) / B*."""
        super()._rates()
        occupied = self.busy + self._surplus
        if occupied > self.cores:
            occupied = self.cores
        if occupied > self.physical:
            scale = self.throughput(occupied) / occupied
            for cls in self.classes.values():
                cls.rate *= scale


class Kernel:
    """Per-host kernel state that containers contend for."""

    def __init__(self, env: simpy.Environment, name: str, cpus: float, memory: float, recorder: Recorder, *,
                 ephemeral_ports: tuple[int, int] = (49153, 65535), threads_per_core: int = 1,
                 smt_gain: float = SMT_GAIN) -> None:
        """``cpus``: logical CPUs, ``threads_per_core`` on each physical core (SmtCpuScheduler when more than 1)."""
        self.env = env
        self.name = name
        self.cpus = cpus
        self.memory = memory
        self.recorder = recorder
        #: netns creation and veth setup serialise on the kernel's rtnl lock: a burst of starts queues here
        #: (SimPy's Resource queue, without its request and release events while the lock is free: workers.py)
        self.netns_lock = Lock(env, 1)
        self.cpu = (CpuScheduler(env, cpus, self._cpu_interval, utilisation=recorder.keeps) if threads_per_core == 1
                    else SmtCpuScheduler(env, cpus, self._cpu_interval, utilisation=recorder.keeps,
                                         threads_per_core=threads_per_core, smt_gain=smt_gain))
        self.ports: dict[tuple[int, str], str] = {}
        #: the ports each owner holds, so that releasing them reads no other owner's
        self._ports_of: dict[str, list[tuple[int, str]]] = {}
        self.ephemeral_ports = ephemeral_ports
        self._last_ephemeral: dict[str, int] = {}
        #: memory in use by owner (a container's workload, a VM's guest + VMM), with a start order for ties
        self.resident: dict[Any, tuple[float, int]] = {}
        self._order = itertools.count()
        #: the OOM killer's candidates, made at its first kill: a heap of (-bytes, start order, owner) with stale
        #: entries (an owner's that no longer match ``resident``) dropped when they reach the top
        self._victims: list[tuple[float, int, Any]] | None = None
        self.memory_used = 0.0
        self.peak_memory = 0.0
        #: image ref -> [bytes, users]: files read by containers, one copy per host however many use them
        self.page_cache: dict[str, list[float]] = {}
        self.page_cache_bytes = 0.0
        self.peak_page_cache = 0.0

    # ------------------------------------------------------------------ CPU

    def _cpu_interval(self, start: float, end: float, busy: float, runnable: int) -> None:
        self.recorder.span(SpanKind.CPU, self.name, start, end, host=self.name, busy=busy, runnable=runnable)

    def cpu_utilisation(self, horizon: float) -> float:
        """Mean share of the host's cores (logical CPUs, as top counts them) in use over [0, horizon]."""
        return self.cpu.utilisation(horizon)

    # ------------------------------------------------------------------ ports

    def bind(self, host_port: int, proto: str, owner: str) -> None:
        if (host_port, proto) in self.ports:
            raise PortInUse(host_port)
        self._hold((host_port, proto), owner)

    def _hold(self, key: tuple[int, str], owner: str) -> None:
        self.ports[key] = owner
        self._ports_of.setdefault(owner, []).append(key)

    def bind_ephemeral(self, proto: str, owner: str) -> int:
        """libnetwork portallocator: the first free port after the last one handed out, wrapping in the range."""
        low, high = self.ephemeral_ports
        port = self._last_ephemeral.get(proto, high)
        for _ in range(high - low + 1):
            port = low if port >= high else port + 1
            if (port, proto) not in self.ports:
                self._hold((port, proto), owner)
                self._last_ephemeral[proto] = port
                return port
        raise PortsExhausted("all ports are allocated")

    def unbind(self, owner: str) -> None:
        """Release every port ``owner`` holds."""
        for key in self._ports_of.pop(owner, ()):
            del self.ports[key]

    def rename_owner(self, old: str, new: str) -> None:
        """The ports ``old`` holds are ``new``'s (``docker rename``)."""
        keys = self._ports_of.pop(old, None)
        if keys is not None:
            self._ports_of.setdefault(new, []).extend(keys)
            for key in keys:
                self.ports[key] = new

    # ------------------------------------------------------------------ memory

    def free_memory(self) -> float:
        return self.memory - self.memory_used

    def reserve(self, owner: Any, nbytes: float) -> bool:
        """Reserve up front (a VM's guest memory and VMM): refused when it does not fit."""
        if nbytes > self.free_memory():
            return False
        self._charge(owner, nbytes)
        return True

    def charge(self, owner: Any, nbytes: float) -> list[Any]:
        """A process allocates ``nbytes``; if the host runs out, the OOM killer picks the largest resident
        owners (earliest started first on ties) until the rest fits. Returns the victims, already uncharged."""
        self._charge(owner, nbytes)
        victims: list[Any] = []
        while self.memory_used > self.memory and self.resident:
            victim = self._largest()
            self.uncharge(victim)
            victims.append(victim)
        self.peak_memory = max(self.peak_memory, self.memory_used)  # the kernel never lets it overshoot
        return victims

    def _largest(self) -> Any:
        """The resident owner using the most memory, the earliest started among equals: the top of the
        candidates' heap once stale entries are dropped (a host of thousands of processes is not scanned for
        each victim). The heap is made at the first kill, and made again when stale entries outnumber live."""
        resident, victims = self.resident, self._victims
        if victims is None or self._mostly_stale(victims):
            victims = self._victims = [(-used, order, owner) for owner, (used, order) in resident.items()]
            heapq.heapify(victims)
        while True:
            minus_used, order, owner = victims[0]
            if resident.get(owner) == (-minus_used, order):
                return owner
            heapq.heappop(victims)

    def _mostly_stale(self, victims: list[tuple[float, int, Any]]) -> bool:
        """More entries than twice the resident owners (and a few): most are stale, made again from ``resident``."""
        return len(victims) > 2 * len(self.resident) + 16

    def _charge(self, owner: Any, nbytes: float) -> None:
        used, order = self.resident.get(owner, (0.0, next(self._order)))
        self.resident[owner] = (used + nbytes, order)
        victims = self._victims
        if victims is not None:
            if self._mostly_stale(victims):
                self._victims = None  # mostly stale: made again at the next kill, so ended owners are not kept
            else:
                heapq.heappush(victims, (-(used + nbytes), order, owner))
        self.memory_used += nbytes
        if self.memory_used <= self.memory:
            self.peak_memory = max(self.peak_memory, self.memory_used)

    def uncharge(self, owner: Any) -> float:
        used, _ = self.resident.pop(owner, (0.0, 0))
        self.memory_used -= used
        return used

    # ------------------------------------------------------------------ page cache

    def cache_files(self, image: str, nbytes: float) -> None:
        """A container of ``image`` reads its files: the first one brings them into the page cache."""
        entry = self.page_cache.get(image)
        if entry is None:
            self.page_cache[image] = [nbytes, 1]
            self.page_cache_bytes += nbytes
            self.peak_page_cache = max(self.peak_page_cache, self.page_cache_bytes)
        else:
            entry[1] += 1

    def release_files(self, image: str) -> None:
        """The last user gone, the pages are reclaimable: dsim counts them out."""
        entry = self.page_cache.get(image)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            self.page_cache_bytes -= entry[0]
            del self.page_cache[image]
