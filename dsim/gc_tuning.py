"""Garbage-collector thresholds for the length of a run.

A run allocates millions of short-lived SimPy events while keeping every span; with CPython's default
thresholds (a young-generation pass every 700 allocations) the collector spends a third to a half of a
large run re-scanning what the run keeps, and the run grows faster than linearly in its jobs (measured:
benchmarks/bench_events.py, docs/performance.md: Measured). Runs therefore collect less often, never not at all:
dsim.run enters ``fewer_gc_passes`` around every run (and ``dsim serve``'s outputs); nothing else in dsim does
(benchmarks/ times parts of a run inside it too).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Young-generation threshold of the cyclic garbage collector during runs (CPython's default: 700). A pass
#: costs a visit of every object allocated since the last one and still alive, so most of its cost is what the
#: run keeps, and a higher threshold saves the passes a run never reaches: 200,000 burst CI jobs made 20 passes
#: at 1 million (about 100 net objects a job), and a 20,000-job burst's one pass cost 0.3-0.7 s of its 9-10 s,
#: where at 20 million it makes none. The example scenarios leave at most about one object of cyclic garbage per
#: job (docs/performance.md, "The collector's young threshold"), so what waits for a pass is small.
GC_THRESHOLD = 20_000_000
#: Young passes between two passes of the middle generation during runs (CPython's default: 10). What survives a
#: young pass is a run's long-lived state (every waiting job, the kept records); a middle pass re-visits all of
#: it and, in a run, finds next to nothing: 200,000 burst CI jobs made 20 young passes, and the one middle pass
#: they triggered took 7-8 s of a 147 s run and collected 0 objects (docs/performance.md, "The collector in
#: large runs"). Every 100 young passes, so at least 100 million net allocations apart.
OLDER_PASSES = 100
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_saved: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def fewer_gc_passes(threshold: int = GC_THRESHOLD) -> Iterator[None]:
    """Collect the young generation every ``threshold`` allocations instead of every 700 while runs go on.

    The count is of container objects allocated and not yet freed, and a run makes few cycles (SimPy's
    events, once processed, are freed by reference counting), so a pass finds little garbage; what it
    costs is visiting everything still alive, the kept spans above all. Measured on 20,000 container jobs
    (benchmarks/bench_events.py; docs/performance.md: Measured): 2.59 s at CPython's default 700, 2.55 s at
    100,000, 2.28 s at 1,000,000 and 2.34 s with the collector off; ``GC_THRESHOLD`` says why it is now 20
    million. The middle generation is collected every ``OLDER_PASSES`` young passes instead of 10. Cycles are
    still collected, only less often, so memory stays bounded. What exists when the first entry happens
    (modules, the scenario, often the world) is frozen (``gc.freeze``) until the last exit, so the run's passes skip it.
    Thread-safe (threads of a Dask worker, each in its own run) and nestable: the first entry saves the
    thresholds, the last exit restores them.
    """
    global _gc_depth, _gc_saved
    with _gc_lock:
        if _gc_depth == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(threshold, _gc_saved[0]), max(OLDER_PASSES, _gc_saved[1]), _gc_saved[2])
            gc.freeze()  # what exists before the run (modules, the scenario, the world) is not re-scanned
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


def end_of_process() -> None:
    """The ``dsim`` command's last step (``dsim.cli.main``, the process entry point, never a library call):
    freeze everything, so the interpreter's final full collection skips what the command made. The process ends
    here, so there is nothing to reclaim; the pass would visit every object a run kept (0.7 s of CPU after a
    20,000-job burst, docs/performance.md "Session 36"). Every file is closed by then: dsim writes each file
    inside a ``with`` block or through a call that closes it."""
    gc.freeze()


def freeze_survivors() -> bool:
    """Inside ``fewer_gc_passes``: freeze what exists now (``gc.freeze``) until its last exit, so the passes
    that follow skip it. The charts collect after each figure (a figure is a web of cycles); without this
    the first of those passes scans everything the run allocated and kept (its records: 0.3 s of a 20,000-job
    run's outputs, docs/performance.md), the others only one figure's objects. Outside a run it does nothing
    (nothing would unfreeze), and says so: False."""
    with _gc_lock:
        if _gc_depth == 0:
            return False
        gc.freeze()
        return True
