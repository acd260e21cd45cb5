"""A host's CPU: processor sharing of its cores among tasks, each capped by its CFS quota (``--cpus``) and
weighted by its cgroup's CPU weight (``--cpu-shares``), on plain cores or on hardware threads (SMT).

Split out of dsim/components/host.py (which re-exports these names) to keep each module short.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from array import array
from collections.abc import Callable

import simpy

from dsim.components.cpu_group import CpuGroup
from dsim.domain.hosts import SMT_GAIN
from dsim.environment import ANY_BACKGROUND, process_now

#: A task finishes when it is this close (relative to the clock's time) to its finish: float error only.
_FINISH_TOL = 1e-9


#: the CPU weight of a cgroup nobody set one for (cgroup v1 cpu.shares 1024, Docker's default): weights are
#: relative to it, so this one is 1.0
DEFAULT_SHARES = 1024


class CpuTask:
    """CPU work of one process: ``work`` CPU-seconds at no more than ``cap`` cores, with the CPU ``weight`` of
    its cgroup relative to the default (``--cpu-shares`` / 1024); ``done`` fires at the end. A task in a
    :class:`CpuGroup` (``group``) has its cap and weight from the group's shares, by its ``demand``; ``threads``:
    its runnable threads when its quota is below them (an SMT host's siblings, :class:`SmtCpuScheduler`)."""

    __slots__ = ("cap", "work", "done", "mark", "seq", "cls", "cancelled", "started", "weight", "group", "demand",
                 "threads")

    def __init__(self, cap: float, work: float, done: simpy.Event, started: float, weight: float = 1.0) -> None:
        self.cap = cap
        self.weight = weight
        self.work = work
        self.done = done
        self.mark = 0.0
        self.seq = 0
        self.cls: _CapClass | None = None
        self.cancelled = False
        self.started = started
        self.group: CpuGroup | None = None
        self.demand = cap
        self.threads: float | None = None


class _CapClass:
    """Tasks with one cap and one weight: the same rate at any moment, so one virtual clock (CPU-seconds per
    task). ``key``: its key in the scheduler's classes, the cap for the default weight (as before weights were
    modelled: the common case costs nothing more), else (cap, weight)."""

    __slots__ = ("cap", "n", "clock", "rate", "heap", "key", "weight")

    def __init__(self, cap: float, key: float | tuple[float, float], weight: float) -> None:
        self.cap = cap
        self.key = key
        self.weight = weight
        self.n = 0
        self.clock = 0.0
        self.rate = 0.0
        self.heap: list[tuple[float, int, CpuTask]] = []


class CpuScheduler:
    """Processor sharing of ``cores`` among running tasks, each capped (the CFS quota of ``--cpus``) and
    weighted (the cgroup's CPU weight, ``--cpu-shares``).

    Rates are weighted max-min fair (water-filling): with C cores and tasks capped at c_i with weights w_i,
    every task gets min(c_i, w_i L) where L solves sum_i min(c_i, w_i L) = C (or every task its cap when they
    fit). This is the fluid limit of CFS with quotas and weights: under contention runnable cgroups get CPU in
    proportion to their weight, a quota still caps one, the share a capped or idle one leaves goes to the
    others, and without contention weights change nothing (kernel Documentation/admin-guide/cgroup-v2.rst
    "cpu.weight": "proportionally distributes CPU cycles to active children"; Docker's resource_constraints
    "--cpu-shares": "only enforced when CPU cycles are constrained"). Tasks with equal caps and weights share
    one virtual clock and a heap of finish marks, so a start or an end costs O(k log k) for k classes, plus
    one rescheduled wake-up: nothing polls.
    """

    def __init__(self, env: simpy.Environment, cores: float,
                 on_change: Callable[[float, float, float, int], None] | None = None, *,
                 utilisation: bool = True) -> None:
        """``utilisation``: keep the marks :meth:`utilisation` reads (three numbers at each change of the busy
        cores, for the whole run); a server whose utilisation nobody asks for keeps none."""
        self.env = env
        self.cores = cores
        self.classes: dict[float | tuple[float, float], _CapClass] = {}
        self._weighted = 0  # classes of a weight other than the default: the weighted water-filling when any
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
        #: tasks of background loops, with their kinds (a restarted run's work: runtime.py)
        self.background: dict[CpuTask, int] = {}

    # ------------------------------------------------------------------ public

    def run(self, work: float, cap: float, threads: float | None = None, weight: float = 1.0) -> CpuTask:
        """Start ``work`` CPU-seconds at up to ``cap`` cores; the task's ``done`` event fires when it is done.
        ``threads``: the hardware threads it runs on at once while its quota lets it run, when more than ``cap``
        (a CFS quota below its runnable threads); only :class:`SmtCpuScheduler` reads it. ``weight``: its
        cgroup's CPU weight relative to the default (cpu.shares / 1024), > 0."""
        env = self.env
        now = env.now
        task = CpuTask(cap, work, env.event(), now, weight)
        if work <= 0:
            task.done.succeed(now)
            return task
        self._start(task, threads)
        return task

    def run_in(self, group: CpuGroup, work: float, demand: float, threads: float | None = None) -> CpuTask:
        """Start ``work`` CPU-seconds of a process in ``group`` that keeps ``demand`` cores busy when alone
        (``threads``: as :meth:`run`'s); the group's members' caps and weights are its shares from now on
        (:meth:`CpuGroup.shares`), until one of them ends."""
        env = self.env
        now = env.now
        task = CpuTask(demand, work, env.event(), now)
        task.group, task.demand, task.threads = group, demand, threads
        if work <= 0:
            task.done.succeed(now)
            return task
        members = group.members
        members.append(task)
        if len(members) == 1:  # alone in its group: its demand under the quota, the group's weight
            task.cap = demand if demand <= group.quota else group.quota
            task.weight = group.weight
            self._start(task, threads)
            return task
        self._advance()
        shares = group.shares()
        _, task.cap, task.weight = shares[-1]  # the newest member, last
        self._take(shares[:-1])
        self._start(task, threads)
        return task

    def update_group(self, group: CpuGroup, quota: float, weight: float) -> None:
        """``group``'s quota and weight change from now on (``docker update``): its running members take their
        new shares (a member's ``demand`` and ``threads`` may have been changed before the call)."""
        group.quota, group.weight = quota, weight
        if not group.members:
            return
        self._advance()
        self._regroup(group)
        self._resolve()

    def _start(self, task: CpuTask, threads: float | None) -> None:
        """A task with work joins the scheduler (``threads``: its hardware threads beyond its cap, SMT)."""
        if not self.runnable and task.cap > 0 and self.cores > 0:
            self._run_alone(task)
        else:
            self._run_shared(task)

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
            del self.classes[cls.key]
            if cls.weight != 1.0:
                self._weighted -= 1
            cls.heap.clear()  # only cancelled tasks are left: no cycle between them and their class
        group = task.group
        if group is not None:
            group.members.remove(task)
            self._regroup(group)
        self._resolve()
        return received

    def shorten(self, task: CpuTask, work: float) -> None:
        """``work`` CPU-seconds of a running task turn out to be done already (a disk's fsync whose bytes the
        writeback has written, components/disk.py): it ends that much sooner; what it has received stands."""
        cls = task.cls
        if cls is None or task.cancelled or task.done.triggered or work <= 0:
            return
        self._advance()
        work = min(work, task.mark - cls.clock)
        cls.heap = [entry for entry in cls.heap if entry[2] is not task]
        task.mark -= work
        task.work -= work
        cls.heap.append((task.mark, task.seq, task))
        heapq.heapify(cls.heap)
        self._resolve()

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

    def background_kind(self, wake: simpy.Event) -> int:
        """What a queued wake-up is to ``environment.only_background_left``: background of every kind when a
        later change superseded it (it does nothing), else of the kinds every running task is background of."""
        if wake is not self._pending:
            return ANY_BACKGROUND
        kind = ANY_BACKGROUND
        for cls in self.classes.values():
            for _, _, task in cls.heap:
                if not task.cancelled:
                    kind &= self.background.get(task, 0)
        return kind

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
        cap, weight = task.cap, task.weight
        key = cap if weight == 1.0 else (cap, weight)
        cls = classes.get(key)
        if cls is None:
            cls = classes[key] = _CapClass(cap, key, weight)
            if weight != 1.0:
                self._weighted += 1
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
        cap, work, weight = task.cap, task.work, task.weight
        if weight == 1.0:
            cls = self.classes[cap] = _CapClass(cap, cap, 1.0)
        else:  # alone, its weight changes nothing: only which key its class has
            cls = self.classes[cap, weight] = _CapClass(cap, (cap, weight), weight)
            self._weighted = 1
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

    def _move(self, task: CpuTask, cap: float, weight: float) -> None:
        """A running task changes class (cap and weight) at this instant, keeping the work it has left; the
        caller solves the rates again."""
        cls = task.cls
        assert cls is not None
        left = task.mark - cls.clock
        cls.heap = [entry for entry in cls.heap if entry[2] is not task]
        heapq.heapify(cls.heap)
        cls.n -= 1
        if cls.n == 0:
            del self.classes[cls.key]
            if cls.weight != 1.0:
                self._weighted -= 1
            cls.heap.clear()
        key = cap if weight == 1.0 else (cap, weight)
        joined = self.classes.get(key)
        if joined is None:
            joined = self.classes[key] = _CapClass(cap, key, weight)
            if weight != 1.0:
                self._weighted += 1
        task.cap, task.weight, task.cls = cap, weight, joined
        task.mark = joined.clock + left
        heapq.heappush(joined.heap, (task.mark, task.seq, task))
        joined.n += 1

    def _regroup(self, group: CpuGroup) -> None:
        """``group``'s running members take their shares (after one started or ended, or the group changed)."""
        self._take(group.shares())

    def _take(self, shares: list[tuple[CpuTask, float, float]]) -> None:
        """Running tasks take their (cap, weight). A class whose tasks all take the same new values (a group's
        members of one demand, the common case) is re-keyed where it is, its clock and heap unchanged; other tasks
        move one by one."""
        by_class: dict[_CapClass, list[tuple[CpuTask, float, float]]] = {}
        for share in shares:
            cls = share[0].cls
            if cls is not None:
                by_class.setdefault(cls, []).append(share)
        for cls, members in by_class.items():
            _, cap, weight = members[0]
            if cap == cls.cap and weight == cls.weight and all(m[1] == cap and m[2] == weight for m in members):
                for task, _, _ in members:
                    self._rethread(task)
                continue
            key = cap if weight == 1.0 else (cap, weight)
            if len(members) == cls.n and key not in self.classes and all(
                    m[1] == cap and m[2] == weight for m in members):
                self._rekey(cls, cap, weight, key)
                for task, _, _ in members:
                    task.cap, task.weight = cap, weight
                    self._rethread(task)
                continue
            for task, cap, weight in members:
                if cap != task.cap or weight != task.weight:
                    self._move(task, cap, weight)
                self._rethread(task)

    def _rekey(self, cls: _CapClass, cap: float, weight: float, key: float | tuple[float, float]) -> None:
        """All of ``cls``'s tasks take a new cap and weight at once: the class takes them (its clock and marks
        stand, as every task's work left does)."""
        classes = self.classes
        del classes[cls.key]
        if cls.weight != 1.0:
            self._weighted -= 1
        cls.cap, cls.weight, cls.key = cap, weight, key
        classes[key] = cls
        if weight != 1.0:
            self._weighted += 1

    def _rethread(self, task: CpuTask) -> None:
        """A grouped task's threads beyond its new cap (only :class:`SmtCpuScheduler` counts them)."""

    def _rates(self) -> None:
        """Water-filling over the cap classes, smallest cap first (weighted: :meth:`_rates_weighted`)."""
        classes = self.classes
        cores = self.cores
        if len(classes) == 1:  # one class: the common case, the loop below with one turn (its weight is moot)
            for cls in classes.values():
                level = cores / self.runnable
                cap = cls.cap
                rate = cls.rate = cap if cap <= level else level
                busy = rate * cls.n
                self.busy = busy if busy <= cores else cores
            return
        if self._weighted:
            self._rates_weighted()
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

    def _rates_weighted(self) -> None:
        """Weighted water-filling: classes in order of the level L at which their cap binds (c / w), each
        getting min(c, w x level) with level = (cores left) / (weight left). Weights are taken relative to the
        least one, so equal weights make the very numbers of the unweighted loop (1.0 each: a sum of task
        counts, the same order, the same divisions), whatever their value."""
        classes = list(self.classes.values())
        least = min(cls.weight for cls in classes)
        cores = self.cores
        left = cores
        weights = 0.0
        for cls in classes:
            weights += cls.n * (cls.weight / least)
        classes.sort(key=lambda cls: cls.cap / (cls.weight / least))
        busy = 0.0
        for cls in classes:
            weight = cls.weight / least
            share = weight * (left / weights) if weights > 0 else 0.0
            cap = cls.cap
            rate = cls.rate = cap if cap <= share else share
            left -= rate * cls.n
            weights -= weight * cls.n
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
        groups: list[CpuGroup] = []
        for key, cls in list(classes.items()):
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
                group = task.group
                if group is not None:
                    group.members.remove(task)
                    if group.members and group not in groups:
                        groups.append(group)
            if cls.n == 0:
                del classes[key]
                if cls.weight != 1.0:
                    self._weighted -= 1
        for group in groups:  # the members left take the shares of those that ended
            self._regroup(group)
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
        if task.group is not None:  # the only one running: its group's only member
            task.group.members.clear()
        classes.clear()
        self._weighted = 0
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

    def _start(self, task: CpuTask, threads: float | None) -> None:
        """Every start by the general path (the fast path for a lone task knows no siblings)."""
        cap = task.cap
        if threads is not None and threads > cap > 0:
            self._extra[task] = extra = threads - cap
            self._surplus += extra
        self._run_shared(task)

    def _rethread(self, task: CpuTask) -> None:
        self._leave(task)
        threads, cap = task.threads, task.cap
        if threads is not None and threads > cap > 0:
            self._extra[task] = extra = threads - cap
            self._surplus += extra

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
