"""The recorder's span storage: compact blocks of columns behind a sequence of ``Span`` tuples.

A large run keeps millions of spans. As named tuples each cost about 190 bytes (the tuple, two boxed floats,
a boxed job number) plus about 190 for a dict of attributes; kept, they were most of a run's memory and made
every garbage-collector pass slower as the run went on. Here the newest spans stay as tuples (recording one
is a single append) and every ``CHUNK`` of them is compacted at once into columns (merged into blocks of ``BLOCK``
spans as they fill, the unit every reader steps by): kinds and hosts as
one-byte and four-byte codes, times in ``array('d')``, jobs in ``array('q')``, subjects as references to
their (mostly shared) strings, and each span's attributes as one tuple ``(keys, *values)`` with the keys
tuple shared by every span of the same shape: about 60 bytes a span plus its attribute values.

Readers see ``Span`` tuples, made when read (``store[i]``, iteration, ``of_kind``): the outputs iterate
the store rather than keep the spans, so their memory stays that of the columns. A recorded value that is a
``Derived`` (dsim/span_values.py: e.g. a pulled layer's progress, recorded as the few times its lines derive
from) is read as its ``derive()`` value: Docker's progress words are made when outputs are written, never
stored.
"""

from __future__ import annotations

import bisect
import marshal
import math
import struct
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, overload

import numpy as np

from dsim.span_values import DERIVABLE, EMPTY, LineAtStart, compact_value, derived_attrs, pack, unpack

#: Spans compacted at once while recording (the newest spans up to this many stay tuples): few enough that they are
#: still in the processor's caches when compacted. 16,384 at once evicted the simulation's working set and cost
#: 12-15% of a run's CPU; 1,024 at once cost 5-6% less of the whole run (docs/performance.md, "Session 39").
CHUNK = 1 << 10
#: Spans per block of columns: the chunks are merged as they fill one (readers step block by block, so fewer, larger
#: blocks read faster). A multiple of ``CHUNK``.
BLOCK = 1 << 14
#: Most distinct packed tuples shared per shape and types of values (``SpanStore._pack``): past it, values that
#: rarely repeat (a wait in seconds, a link's bytes) stop being pooled, and the pool is let go (a dict entry
#: costs about what the tuple it spares costs).
POOL_MOST = 1 << 14
#: The type of a span's offset in its block (``_block_positions``): a block of up to 65,536 spans (``BLOCK``
#: is 16,384) fits in 16 bits.
_OFFSET = np.uint16

#: Attributes as exact bytes (``SpanStore._pack``): marshal's format 2 writes a dict's keys in order and each value with
#: its exact type (1, 1.0 and True differ, as do 0.0 and -0.0; a subclass is refused), floats by their bits and
#: without back-references, so equal bytes are equal attributes that print alike.
_MARSHAL_EXACT = 2
#: the one derivable attribute (``_pack`` tests for it inline; a second one would fail here, not go unnoticed)
(_DERIVABLE_KEY,) = DERIVABLE
_exact = marshal.dumps
_new = tuple.__new__
_copysign = math.copysign
_FIRST = itemgetter(0)


def picked(values: Sequence[Any], at: list[int]) -> Sequence[Any]:
    """``[values[i] for i in at]`` (``at`` not empty) in one C call, a tuple or a list: the readers pick hundreds
    of thousands."""
    return itemgetter(*at)(values) if len(at) > 1 else [values[at[0]]]


def _column(typecode: str, values: Sequence[Any]) -> array[Any]:
    """``array(typecode, values)`` filled from ``struct``'s packing of the values: array's own converts each item
    through argument parsing, struct's converters are direct (about 6 ns an item against 14); the same C type
    (struct's native sizes are array's), the same bytes."""
    column: array[Any] = array(typecode)
    column.frombytes(struct.pack(f"{len(values)}{typecode}", *values))
    return column


def _joined(parts: list[Any]) -> Any:
    """Columns of consecutive blocks as one: arrays joined as arrays, tuples as a tuple."""
    if isinstance(parts[0], array):
        joined: array[Any] = array(parts[0].typecode)
        for part in parts:
            joined.extend(part)
        return joined
    return tuple(chain.from_iterable(parts))


def _intern(text: str) -> str:
    return sys.intern(text) if type(text) is str else text


class _Block:
    """Up to ``BLOCK`` spans as columns (``CHUNK`` while the newest are merged into one)."""

    __slots__ = ("kinds", "subjects", "hosts", "starts", "ends", "jobs", "attrs")

    def __init__(self, kinds: array[int], subjects: tuple[str, ...], hosts: array[int], starts: array[float],
                 ends: array[float], jobs: array[int], attrs: tuple[Any, ...]) -> None:
        self.kinds = kinds
        self.subjects = subjects
        self.hosts = hosts
        self.starts = starts
        self.ends = ends
        self.jobs = jobs
        self.attrs = attrs


class SpanStore(Sequence[Any]):
    """Spans in the order recorded (``span_type`` tuples: kind, subject, host, start, end, job, attrs)."""

    def __init__(self, span_type: type) -> None:
        self._type = span_type
        self.fresh: list[Any] = []  # the newest spans, as recorded (Recorder.span appends here)
        self._blocks: list[_Block] = []
        self._firsts: list[int] = []  # the position of each block's first span (a block compacted by hand
        self._count = 0               # may be short: tests compact before a block is full); spans in blocks
        self._unmerged = 0  # the last blocks, each a chunk, not yet merged into one
        self._kind_code: dict[str, int] = {}
        self._kinds: list[Any] = []
        self._host_code: dict[str, int] = {}
        self._hosts: list[str] = []
        #: each shape of attributes -> (its shared keys tuple, whether a key is DERIVABLE, its pools of shared
        #: packed tuples by the types of their values, None once a pool stopped): one look-up per span
        self._shapes: dict[tuple[str, ...], tuple[tuple[str, ...], bool, dict[int, dict[Any, Any] | None]]] = {}
        #: attributes' exact bytes -> the shared packed tuple spans of the same ones were given (``_pack``)
        self._known: dict[bytes, tuple[Any, ...]] = {}
        self._positions: dict[str, tuple[int, list[np.ndarray]]] = {}
        self._derived: dict[str, tuple[int, Any]] = {}

    # ------------------------------------------------------------ writing

    def append(self, span: Any) -> None:
        self.fresh.append(span)
        if len(self.fresh) >= CHUNK:
            self.compact_fresh()

    def compact(self) -> None:
        """Every span into columns, the last chunks merged into one block (before the outputs read by column)."""
        self.compact_fresh()
        self._merge()

    def compact_fresh(self) -> None:
        """Move the fresh spans into a block of columns (``Recorder.span`` calls it every ``CHUNK`` spans); merge
        the last chunks into one block once they hold ``BLOCK`` spans."""
        fresh = self.fresh
        if not fresh:
            return
        kinds, subjects, hosts, starts, ends, jobs, attrs = zip(*fresh, strict=True)
        pack = self._pack  # called for the spans with attributes only (a third have none)
        try:  # one string per distinct subject (requests repeat theirs)
            subjects = tuple(map(sys.intern, subjects))
        except TypeError:  # a subject that is not exactly a str is kept as it is
            subjects = tuple(map(_intern, subjects))
        self._blocks.append(_Block(_column("B", self._codes(kinds, self._kind_code, self._kinds)), subjects,
                                   _column("I", self._codes(hosts, self._host_code, self._hosts)),
                                   _column("d", starts), _column("d", ends), _column("q", jobs),
                                   tuple([pack(a, t) if a else None for a, t in zip(attrs, starts, strict=True)])))
        self._firsts.append(self._count)
        self._count += len(fresh)
        self.fresh = []
        self._unmerged += 1
        if self._count - self._firsts[-self._unmerged] >= BLOCK:
            self._merge()

    def _merge(self) -> None:
        """The last chunks into one block: their columns joined (each a copy of pointers or bytes, no span read)."""
        count, self._unmerged = self._unmerged, 0
        if count < 2:
            return
        first = len(self._blocks) - count
        parts = self._blocks[first:]
        columns = (_joined([getattr(part, name) for part in parts]) for name in _Block.__slots__)
        self._blocks[first:] = [_Block(*columns)]
        del self._firsts[first + 1:]
        for kind, (done, positions) in list(self._positions.items()):  # found per block: the merged ones again
            if done > first:
                self._positions[kind] = (first, positions[:first])

    @staticmethod
    def _codes(values: tuple[Any, ...], code: dict[Any, int], table: list[Any]) -> list[int]:
        try:
            return list(map(code.__getitem__, values))
        except KeyError:
            for value in values:
                if value not in code:
                    code[value] = len(table)
                    table.append(value)
            return list(map(code.__getitem__, values))

    def _pack(self, attrs: dict[str, Any], start: float) -> Any:
        """``(keys, *values)`` of attributes (not empty: ``compact`` packs those only), the keys tuple shared by
        every span of the shape; the whole tuple shared by every span of the shape with equal values of the same
        types when those are strings, None, shared derived values, ints, floats or bools. Equal values of one
        type print alike, but 1, 1.0 and True are equal and hash alike, as are 0.0 and -0.0: so the shared tuples
        are kept in a pool per shape and types of values (a signature of two bits a value), and a -0.0 is never
        shared. A CPU span's (busy, runnable) or a process's attributes repeat: thousands of spans, a few tuples.

        Attributes met twice are found after that by their exact bytes (``_exact``: one C call, no step per value;
        nine in ten attributed spans of a container job are found so). Only what a pool shared is kept so (never a
        list or a -0.0); a derivable value (its compact form depends on the span's start) and a subclass's value
        (marshal refuses it) are not looked up."""
        blob = None
        if _DERIVABLE_KEY not in attrs:
            try:
                blob = _exact(attrs, _MARSHAL_EXACT)
            except ValueError:
                pass
            else:
                seen = self._known.get(blob)
                if seen is not None:
                    return seen
        keys = tuple(attrs)
        shape = self._shapes.get(keys)
        if shape is None:
            shape = self._shapes[keys] = (keys, not DERIVABLE.isdisjoint(keys), {})
        shared, derivable, pools = shape
        if derivable:
            packed = (shared, *(compact_value(v, start) if k in DERIVABLE else v for k, v in attrs.items()))
            values: Any = packed[1:]
        else:
            values = attrs.values()
            packed = (shared, *values)
        signature = 1  # tested here rather than by a function (a call per span spared)
        for value in values:
            kind = type(value)
            if kind is str or value is None or kind is LineAtStart:
                signature <<= 2
            elif kind is int:
                signature = signature << 2 | 1
            elif kind is float:
                if value == 0.0 and _copysign(1.0, value) < 0:
                    return packed
                signature = signature << 2 | 2
            elif kind is bool:
                signature = signature << 2 | 3
            else:
                return packed
        pool = pools.get(signature)
        if pool is None:
            if signature in pools:  # values of these types that rarely repeat: not pooled
                return packed
            pool = pools[signature] = {}
        found = pool.setdefault(packed, packed)
        if found is packed and len(pool) > POOL_MOST:
            pools[signature] = None  # its entries would cost more than the tuples they spare
        elif blob is not None and found is not packed:  # met twice: looked up by bytes from now on
            known = self._known
            if len(known) >= POOL_MOST:
                known.clear()  # bounded: what stopped repeating is looked up the long way again
            known[blob] = found
        return found

    # ------------------------------------------------------------ reading

    def _read_fresh(self, span: Any) -> Any:
        """A fresh span as a ``span_type`` (recorded as a plain tuple: ``Recorder.span`` spares making one)."""
        attrs = span[6]
        if attrs and DERIVABLE.intersection(attrs):
            return _new(self._type, (*span[:6], derived_attrs(attrs, span[3])))
        return span if type(span) is self._type else _new(self._type, span)

    @property
    def blocks(self) -> int:
        """How many blocks of columns hold the spans compacted so far."""
        return len(self._blocks)

    def __len__(self) -> int:
        return self._count + len(self.fresh)

    def _block_span(self, block: _Block, i: int) -> Any:
        return _new(self._type, (self._kinds[block.kinds[i]], block.subjects[i], self._hosts[block.hosts[i]],
                                 block.starts[i], block.ends[i], block.jobs[i],
                                 unpack(block.attrs[i], block.starts[i])))

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("span index out of range")
        if index >= self._count:
            return self._read_fresh(self.fresh[index - self._count])
        block = bisect.bisect_right(self._firsts, index) - 1
        return self._block_span(self._blocks[block], index - self._firsts[block])

    def __eq__(self, other: object) -> bool:
        """Equal to a list (or another store or view) of the same spans in the same order."""
        if isinstance(other, list | SpanStore | KindView):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __add__(self, other: Sequence[Any]) -> list[Any]:
        """The spans and ``other``'s as a list (as ``list + list``: tests extend a run's spans)."""
        return [*self, *other]

    def __iter__(self) -> Iterator[Any]:
        for block in self._blocks:
            yield from self._iter_block(block, None)
        yield from map(self._read_fresh, list(self.fresh))

    def _iter_block(self, block: _Block, positions: np.ndarray | None) -> Iterator[Any]:
        kinds, hosts, span_type = self._kinds, self._hosts, self._type
        if positions is None:
            rows: Any = zip(block.kinds, block.subjects, block.hosts, block.starts, block.ends, block.jobs,
                            block.attrs, strict=True)
        else:
            at = positions.tolist()
            subjects, attrs = block.subjects, block.attrs
            rows = zip([block.kinds[i] for i in at], [subjects[i] for i in at], [block.hosts[i] for i in at],
                       [block.starts[i] for i in at], [block.ends[i] for i in at], [block.jobs[i] for i in at],
                       [attrs[i] for i in at], strict=True)
        for kind, subject, host, start, end, job, packed in rows:
            yield _new(span_type, (kinds[kind], subject, hosts[host], start, end, job,
                                   EMPTY if packed is None else unpack(packed, start)))

    def of_kind(self, kind: str) -> KindView:
        """The spans of ``kind`` in the order recorded, read when iterated (nothing is kept)."""
        return KindView(self, kind)

    def _block_positions(self, kind: str) -> list[np.ndarray]:
        """Per block, the offsets of ``kind``'s spans (found with NumPy once per kind and block, kept as
        ``_OFFSET``: add to them only after ``astype(np.int64)``)."""
        done, positions = self._positions.get(kind, (0, []))
        if done < len(self._blocks):
            positions = list(positions)
            code = self._kind_code.get(kind)
            for block in self._blocks[done:]:
                codes = np.frombuffer(block.kinds, dtype=np.uint8)
                found = np.flatnonzero(codes == code) if code is not None else np.empty(0, np.int64)
                small = len(block.kinds) <= 1 << 16
                positions.append(found.astype(_OFFSET) if small else found)  # kept: 2 bytes a span, not 8
            self._positions[kind] = (len(self._blocks), positions)
        return positions

    def codes(self, column: str) -> tuple[np.ndarray, list[Any]]:
        """Every span's ``kind`` or ``host`` as codes in record order, with the table the codes index."""
        if column == "kind":
            parts = [np.frombuffer(block.kinds, dtype=np.uint8).astype(np.int64) for block in self._blocks]
            table, code = self._kinds, self._kind_code
        else:
            parts = [np.frombuffer(block.hosts, dtype=np.uint32).astype(np.int64) for block in self._blocks]
            table, code = self._hosts, self._host_code
        position = 0 if column == "kind" else 2
        fresh = [span[position] for span in self.fresh]
        self._codes(tuple(fresh), code, table)
        parts.append(np.array([code[value] for value in fresh], dtype=np.int64))
        return np.concatenate(parts), list(table)

    def groups(self, column: str) -> dict[Any, np.ndarray]:
        """The positions of the spans of each ``kind`` or ``host``, in record order (for ``take``)."""
        codes, table = self.codes(column)
        order = np.argsort(codes, kind="stable")
        values, firsts = np.unique(codes[order], return_index=True)
        bounds = [*firsts.tolist(), len(order)]
        return {table[value]: order[bounds[i]:bounds[i + 1]] for i, value in enumerate(values.tolist())}

    def _cuts(self, positions: np.ndarray) -> np.ndarray:
        """Where each block's positions begin in ``positions`` (ascending), and where the fresh spans' do."""
        return np.searchsorted(positions, np.array([*self._firsts, self._count], dtype=np.int64))

    def take(self, positions: np.ndarray) -> list[Any]:
        """The spans at ``positions`` (ascending), made now."""
        out: list[Any] = []
        base = self._count
        cut = self._cuts(positions)
        for b, block in enumerate(self._blocks):
            if cut[b + 1] > cut[b]:
                out.extend(self._iter_block(block, positions[cut[b]:cut[b + 1]] - self._firsts[b]))
        fresh = self.fresh
        out.extend(self._read_fresh(fresh[p - base]) for p in positions[cut[-1]:].tolist())
        return out

    def rows(self, positions: np.ndarray, host: str | None = None
             ) -> tuple[list[Any], list[str], list[str], np.ndarray, np.ndarray, list[int], list[Any]]:
        """The spans at ``positions`` (ascending) as columns, without making them: kinds, subjects, hosts,
        starts, ends, jobs and attributes packed (``unpack`` makes a dict of one; the packed tuple of spans
        with equal values of the same types is one shared object). ``host``: every one of them is that host's
        (``groups("host")``), so its column is not read."""
        kinds: list[Any] = []
        subjects: list[str] = []
        hosts: list[str] = []
        jobs: list[int] = []
        packed: list[Any] = []
        starts: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        base = self._count
        cut = self._cuts(positions)
        table, host_table = self._kinds, self._hosts
        for b, block in enumerate(self._blocks):
            if cut[b + 1] > cut[b]:
                at = positions[cut[b]:cut[b + 1]] - self._firsts[b]
                starts.append(np.frombuffer(block.starts, dtype=np.float64)[at])
                ends.append(np.frombuffer(block.ends, dtype=np.float64)[at])
                jobs += np.frombuffer(block.jobs, dtype=np.int64)[at].tolist()
                kinds += picked(table, np.frombuffer(block.kinds, dtype=np.uint8)[at].tolist())
                if host is None:
                    hosts += picked(host_table, np.frombuffer(block.hosts, dtype=np.uint32)[at].tolist())
                where = at.tolist()
                subjects += picked(block.subjects, where)
                packed += picked(block.attrs, where)
        fresh = [self.fresh[p - base] for p in positions[cut[-1]:].tolist()]
        kinds += [span[0] for span in fresh]
        subjects += [span[1] for span in fresh]
        hosts += [span[2] for span in fresh] if host is None else [host] * len(positions)
        starts.append(np.array([span[3] for span in fresh], dtype=np.float64))
        ends.append(np.array([span[4] for span in fresh], dtype=np.float64))
        jobs += [span[5] for span in fresh]
        packed += [pack(span[6]) for span in fresh]
        return kinds, subjects, hosts, np.concatenate(starts), np.concatenate(ends), jobs, packed

    def attr_values(self, key: str) -> set[Any]:
        """The values attribute ``key`` takes over every span that has it (without making the spans)."""
        found: set[Any] = set()
        for keys in self._shapes:
            if key in keys:
                break
        else:
            return {span[6][key] for span in self.fresh if key in span[6]}
        for block in self._blocks:
            for packed in block.attrs:
                if packed is not None and key in packed[0]:
                    found.add(packed[1 + packed[0].index(key)])
        found.update(span[6][key] for span in self.fresh if key in span[6])
        return found

    def kind_order(self) -> list[Any]:
        """The kinds recorded, in the order each was first recorded: the code table's order (a kind gets its
        code when the first span of it is compacted or coded, in record order, and only then), then the fresh
        spans' new kinds. No column of every span's kind made and sorted (about 24 bytes a span)."""
        order = list(self._kinds)
        known = set(order)
        for span in self.fresh:
            if span[0] not in known:
                known.add(span[0])
                order.append(span[0])
        return order

    def kind_times(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """The starts and ends of ``kind``'s spans, in record order (without making the spans), each block's
        taken straight into the two arrays (no per-block copies to concatenate: half the peak)."""
        offsets = self._block_positions(kind)
        fresh = [span for span in self.fresh if span[0] == kind]
        size = sum(map(len, offsets)) + len(fresh)
        starts, ends = np.empty(size), np.empty(size)
        low = 0
        for block, at in zip(self._blocks, offsets, strict=True):
            high = low + len(at)
            if high > low:
                np.take(np.frombuffer(block.starts, dtype=np.float64), at, out=starts[low:high])
                np.take(np.frombuffer(block.ends, dtype=np.float64), at, out=ends[low:high])
            low = high
        starts[low:] = [span[3] for span in fresh]
        ends[low:] = [span[4] for span in fresh]
        return starts, ends

    def kind_attr(self, kind: str, key: str) -> list[Any]:
        """Attribute ``key`` of each of ``kind``'s spans (None where absent), in record order, read from the
        packed attributes (a ``Derived`` value as recorded, not derived). A block whose spans of ``kind`` all
        have attributes of one shape (the usual case) is read with C-level maps, no Python step per span."""
        out: list[Any] = []
        index: dict[tuple[str, ...], int] = {}
        for block, at in zip(self._blocks, self._block_positions(kind), strict=True):
            packed_list = list(map(block.attrs.__getitem__, at.tolist()))
            shapes = set(map(_FIRST, filter(None, packed_list)))
            if len(shapes) == 1 and None not in packed_list:
                keys = shapes.pop()
                where = keys.index(key) + 1 if key in keys else 0
                out.extend(map(itemgetter(where), packed_list) if where else [None] * len(packed_list))
                continue
            for packed in packed_list:
                if packed is None:
                    out.append(None)
                    continue
                keys = packed[0]
                where = index.get(keys)
                if where is None:
                    where = index[keys] = keys.index(key) + 1 if key in keys else 0
                out.append(packed[where] if where else None)
        out.extend(span[6].get(key) for span in self.fresh if span[0] == kind)
        return out

    def derived(self, name: str, make: Callable[[], Any]) -> Any:
        """``make()``, kept while no span is added: a figure several outputs derive from every span (the
        kinds table and the activity chart both need each kind's statistics)."""
        kept = self._derived.get(name)
        if kept is None or kept[0] != len(self):
            kept = self._derived[name] = (len(self), make())
        return kept[1]

    def kind_positions(self, kind: str) -> np.ndarray:
        """The positions (in the whole store) of ``kind``'s spans, ascending."""
        parts = [at.astype(np.int64) + first
                 for first, at in zip(self._firsts, self._block_positions(kind), strict=True)]
        base = self._count
        parts.append(np.array([base + i for i, span in enumerate(self.fresh) if span[0] == kind], dtype=np.int64))
        return np.concatenate(parts).astype(np.int64)

    def kind_jobs(self, kind: str) -> np.ndarray:
        """The job of each of ``kind``'s spans, in record order."""
        parts = [np.frombuffer(block.jobs, dtype=np.int64)[at]
                 for block, at in zip(self._blocks, self._block_positions(kind), strict=True)]
        parts.append(np.array([span[5] for span in self.fresh if span[0] == kind], dtype=np.int64))
        return np.concatenate(parts)

    def jobs(self) -> np.ndarray:
        """Every span's job number, in record order."""
        parts = [np.frombuffer(block.jobs, dtype=np.int64) for block in self._blocks]
        parts.append(np.array([span[5] for span in self.fresh], dtype=np.int64))
        return np.concatenate(parts)

    def job_firsts(self) -> tuple[np.ndarray, np.ndarray]:
        """Every job number recorded (ascending) and the position of its first span, found block by block
        (no column of every span's job made)."""
        numbers: list[np.ndarray] = []
        firsts: list[np.ndarray] = []
        for first, block in zip(self._firsts, self._blocks, strict=True):
            keys, at = np.unique(np.frombuffer(block.jobs, dtype=np.int64), return_index=True)
            numbers.append(keys)
            firsts.append(at + first)
        keys, at = np.unique(np.array([span[5] for span in self.fresh], dtype=np.int64), return_index=True)
        numbers.append(keys)
        firsts.append(at + self._count)
        # blocks in record order: a job's first occurrence in the concatenation is in its earliest block
        every, where = np.unique(np.concatenate(numbers), return_index=True)
        return every, np.concatenate(firsts)[where].astype(np.int64)

    def positions_of_jobs(self, jobs: np.ndarray) -> np.ndarray:
        """The positions (ascending) of every span of ``jobs``."""
        parts = [np.flatnonzero(np.isin(np.frombuffer(block.jobs, dtype=np.int64), jobs)) + first
                 for first, block in zip(self._firsts, self._blocks, strict=True)]
        fresh = np.array([span[5] for span in self.fresh], dtype=np.int64)
        parts.append(np.flatnonzero(np.isin(fresh, jobs)) + self._count)
        return np.concatenate(parts).astype(np.int64)

    def jobs_at(self, positions: np.ndarray) -> np.ndarray:
        """The job of the spans at ``positions`` (ascending)."""
        parts: list[np.ndarray] = []
        cut = self._cuts(positions)
        for b, block in enumerate(self._blocks):
            if cut[b + 1] > cut[b]:
                parts.append(np.frombuffer(block.jobs, dtype=np.int64)[positions[cut[b]:cut[b + 1]] - self._firsts[b]])
        parts.append(np.array([self.fresh[p - self._count][5] for p in positions[cut[-1]:].tolist()], dtype=np.int64))
        return np.concatenate(parts)

    def kind_column(self, kind: str, column: str) -> list[Any]:
        """The ``host`` or ``job`` of each of ``kind``'s spans, in record order (without making the spans)."""
        out: list[Any] = []
        position = 2 if column == "host" else 5
        for block, at in zip(self._blocks, self._block_positions(kind), strict=True):
            if column == "host":
                hosts = self._hosts
                out.extend(hosts[code] for code in np.frombuffer(block.hosts, dtype=np.uint32)[at].tolist())
            else:
                out.extend(np.frombuffer(block.jobs, dtype=np.int64)[at].tolist())
        out.extend(span[position] for span in self.fresh if span[0] == kind)
        return out

    def kind_host_codes(self, kind: str) -> tuple[np.ndarray, list[str]]:
        """The host of each of ``kind``'s spans as codes (record order) and the table they index: the hosts
        without a string per span (a chart splits intervals by host with NumPy)."""
        parts = [np.frombuffer(block.hosts, dtype=np.uint32)[at].astype(np.int64)
                 for block, at in zip(self._blocks, self._block_positions(kind), strict=True)]
        fresh = tuple(span[2] for span in self.fresh if span[0] == kind)
        parts.append(np.array(self._codes(fresh, self._host_code, self._hosts), dtype=np.int64))
        return np.concatenate(parts), self._hosts

    def times(self) -> tuple[np.ndarray, np.ndarray]:
        """Every span's start and end, as two arrays in record order (for writers that round them at once)."""
        starts = [np.frombuffer(block.starts, dtype=np.float64) for block in self._blocks]
        ends = [np.frombuffer(block.ends, dtype=np.float64) for block in self._blocks]
        starts.append(np.array([span[3] for span in self.fresh], dtype=np.float64))
        ends.append(np.array([span[4] for span in self.fresh], dtype=np.float64))
        return np.concatenate(starts), np.concatenate(ends)


class KindView(Sequence[Any]):
    """The spans of one kind in a ``SpanStore``, made when read."""

    def __init__(self, store: SpanStore, kind: str) -> None:
        self._store = store
        self._kind = kind

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list | SpanStore | KindView):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Sequence[Any]) -> list[Any]:
        return [*self, *other]

    def __iter__(self) -> Iterator[Any]:
        store, kind = self._store, self._kind
        for block, positions in zip(store._blocks, store._block_positions(kind), strict=True):
            if len(positions):
                yield from store._iter_block(block, positions)
        yield from (store._read_fresh(span) for span in list(store.fresh) if span[0] == kind)

    def __len__(self) -> int:
        store, kind = self._store, self._kind
        return (sum(len(positions) for positions in store._block_positions(kind))
                + sum(1 for span in store.fresh if span[0] == kind))

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        spans = list(self)  # indexing a kind's spans is rare (tests, a report's first span): read them all
        return spans[index]

    def __bool__(self) -> bool:
        store, kind = self._store, self._kind
        return (any(len(positions) for positions in store._block_positions(kind))
                or any(span[0] == kind for span in store.fresh))


from dsim.job_spans import JobSpans  # noqa: E402  (re-exported: readers import it from here)

__all__ = ["BLOCK", "CHUNK", "JobSpans", "KindView", "SpanStore", "picked"]
