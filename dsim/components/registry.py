"""Registries: request latency, token auth, pull limits, failures, connection limits, pull-through caches,
peer-to-peer blob distribution.

Every request pays the path's round trip plus the registry's own ``latency`` and may fail: during an
``outage`` a new connection is refused, otherwise it is answered ``503 Service Unavailable`` with
probability ``error_rate``. Blobs stream through the network model from the node that serves them.

A registry with ``upstream`` is a pull-through cache (distribution's proxy mode): a hit streams from the
cache; a miss streams from the upstream into the cache and on to the client at once, then keeps the blob
(least recently used blobs evicted beyond ``storage``). As in distribution, a second miss on a blob being
fetched is not merged: it streams from the upstream again and is not cached (``merge_misses`` what-if).
Tags are resolved with a HEAD at the upstream; a manifest the cache holds is not fetched again, so only
the cache's first manifest GET per image counts toward the upstream's pull limit, against the cache's
own address.

With ``p2p``, the registry is also a tracker (Kraken / Dragonfly style): a host fetches a blob in
``p2p_sources`` stripes, each from a different peer that holds or is fetching the blob and has an upload
slot free, the rest from the registry (the origin); a peer's uploads share its NIC through the network,
and a peer relays a stripe no faster than it receives it.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import simpy

from dsim.components.connections import ConnectionPool
from dsim.components.network import Network
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.registries import RegistrySpec
from dsim.records import Recorder, SpanKind

#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_REQUEST = SpanKind.REQUEST

#: Docker Hub's answer to a manifest GET over the pull limit (docs/real-docker.md: Registries).
RATE_LIMIT_MESSAGE = (
    "toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating "
    "and upgrading: https://www.docker.com/increase-rate-limit"
)
#: What the docker CLI prints for a registry answering 503 (docker/distribution's client error).
UNAVAILABLE_MESSAGE = "received unexpected HTTP status: 503 Service Unavailable"


class RegistryError(Exception):
    """A request the registry refused or failed; the message is the one Docker prints."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Served:
    """How a blob request was served: by whom, whether a cache hit, bytes that came from peers."""

    registry: str
    cache: str | None = None  # "hit" | "miss" when a pull-through cache served it
    peer_bytes: float = 0.0
    peers: int = 0


@dataclass
class _Holder:
    """A host in a blob's swarm: one event per stripe, set when that stripe is complete on the host."""

    host: str
    stripes: list[simpy.Event]
    uploads: int = 0
    free_index: int = -1


@dataclass
class _Swarm:
    holders: dict[str, _Holder] = field(default_factory=dict)
    free: list[_Holder] = field(default_factory=list)  # holders with an upload slot free (swap-remove)


class RegistryServer:
    def __init__(self, env: simpy.Environment, name: str, spec: RegistrySpec, network: Network, recorder: Recorder,
                 rng: random.Random | None = None, *, upstream: RegistryServer | None = None,
                 addresses: Mapping[str, str] | None = None) -> None:
        """``upstream``: the registry this one caches (``spec.upstream``, built first); ``addresses``: host ->
        the address the registry sees (``hosts.<group>.address``)."""
        self.env = env
        self.name = name
        self.spec = spec
        self.network = network
        self.recorder = recorder
        self.rng = rng if rng is not None else random.Random(0)
        #: The registry this one caches (a pull-through cache's origin, or the next cache of a chain).
        self.upstream = upstream
        #: a daemon pulling from it decrypts what it reads: https, and not a peer-to-peer registry, whose blobs a
        #: host reads from its own P2P agent over plain http (Kraken's agent, Dragonfly's dfdaemon proxy)
        self.decrypts = spec.tls and not spec.p2p
        self.connections = simpy.Resource(env, capacity=spec.max_connections) if spec.max_connections else None
        self._pulls: dict[str, deque[float]] = {}
        #: host -> the address the registry sees; pull limits count per address, as Docker Hub's do per IPv4
        #: address.
        self.addresses: Mapping[str, str] = addresses if addresses is not None else {}
        self._outages = sorted((o.at, o.at + o.length) for o in spec.outages)
        # pull-through cache state
        self.cache: OrderedDict[str, float] = OrderedDict()  # digest -> bytes, least recently used first
        self.cache_used = 0.0
        self.cached_manifests: set[str] = set()
        self._filling: dict[str, simpy.Event] = {}
        # push state: blobs per repository and manifests pushed here
        self.repositories: dict[str, set[str]] = {}  # digest -> repositories holding it
        self.manifests: dict[str, ImageInfo] = {}
        self._swarms: dict[str, _Swarm] = {}
        #: a cache's own HTTP client to its upstream, kept for the run (distribution's proxy: one client)
        self.upstream_pool = ConnectionPool()
        #: the hosts of the CDN blobs redirect to (``blob_redirect``) and of the token server (``auth: token``:
        #: its own, or the registry's with ``token_host: registry``): connections of their own
        self.cdn = f"{self.name} cdn"
        self._cdn_rtt = spec.cdn_rtt
        self.token_server = self.name if spec.token_host == "registry" else f"{self.name} auth"

    @property
    def is_cache(self) -> bool:
        return self.spec.upstream is not None

    # ------------------------------------------------------------ requests

    def _down(self) -> bool:
        now = self.env.now
        return any(start <= now < end for start, end in self._outages)

    def request(self, client: str, what: str, *, job: int, status: int = 200, pool: ConnectionPool | None = None,
                server: str | None = None, hold: bool = False, fallible: bool = True) -> Generator[Any, Any, None]:
        """One HTTP request/response: a new connection's handshake (``handshake_rtts`` round trips) unless
        ``pool`` has an idle one to ``server`` (default: this registry; its token server and CDN are hosts
        of their own), one round trip, and the registry's ``latency``. Without a pool every request opens a
        connection (Docker's legacy registry client: keep-alive disabled). The connection goes back to the
        pool afterwards, or, with ``hold``, when the caller has read the body it streams (``release``).

        Raises RegistryError when the registry is down (connection refused after the round trip) or
        answers 503 (drawn with ``error_rate`` from the registry's own random stream); ``fallible=False``
        (a CDN) never fails."""
        start = self.env.now
        if server is None or self._cdn_rtt is None or server != self.cdn:  # most requests: the registry's own
            rtt = self.network.rtt(client, self.name)
        else:
            rtt = self._cdn_rtt
        if fallible and self._outages and self._down():
            yield self.env.timeout(rtt)
            self.recorder.span(_REQUEST, what, start, self.env.now, host=client, job=job, registry=self.name,
                               status=0)
            raise RegistryError(f"dial tcp {self.name}:443: connect: connection refused", 0)
        if fallible and self.spec.error_rate > 0 and self.rng.random() < self.spec.error_rate:
            status = 503
        host = server or self.name
        reused = pool is not None and pool.take(host)
        if reused or rtt == 0.0:
            yield self.env.timeout(rtt + self.spec.latency)
        else:
            yield self.env.timeout(self.spec.handshake_rtts * rtt + rtt + self.spec.latency)
        self.recorder.span(_REQUEST, what, start, self.env.now, host=client, job=job, registry=self.name,
                           status=status)
        if pool is not None and (not hold or status == 503):
            pool.give(host)
        if status == 503:
            raise RegistryError(UNAVAILABLE_MESSAGE, 503)

    @staticmethod
    def release(pool: ConnectionPool | None, server: str) -> None:
        """A held connection's body is read: it goes idle in the pool (if any)."""
        if pool is not None:
            pool.give(server)

    def open_blob(self, client: str, what: str, *, job: int,
                  pool: ConnectionPool | None) -> Generator[Any, Any, str]:
        """The GET of a blob up to its first byte; returns the server whose connection now streams it (held:
        ``release`` it after the bytes). With ``blob_redirect`` the registry answers 307 and the blob comes
        from its CDN, over a connection of the CDN's own."""
        if not self.spec.blob_redirect:
            yield from self.request(client, what, job=job, pool=pool, hold=True)
            return self.name
        yield from self.request(client, what, job=job, status=307, pool=pool)
        yield from self.request(client, f"{what} (CDN)", job=job, pool=pool, server=self.cdn, hold=True,
                                fallible=False)
        return self.cdn

    def _over_limit(self, client: str) -> bool:
        """Sliding window of manifest GETs per client address."""
        limit = self.spec.rate_limit
        if limit is None:
            return False
        window = self._pulls.setdefault(self.addresses.get(client, client), deque())
        while window and window[0] <= self.env.now - limit.per:
            window.popleft()
        if len(window) >= limit.pulls:
            return True
        window.append(self.env.now)
        return False

    def get_manifest(self, client: str, image: ImageInfo, *, job: int,
                     pool: ConnectionPool | None = None) -> Generator[Any, Any, None]:
        """Manifest GET (counts toward the pull limit once; 429 over it): for a multi-platform tag the index,
        then the platform's manifest; then the config blob (through the CDN when blobs redirect)."""
        manifest = f"/v2/{image.repository}/manifests/{image.tag}"
        if self._over_limit(client):
            yield from self.request(client, f"GET {manifest}", job=job, status=429, pool=pool)
            raise RegistryError(RATE_LIMIT_MESSAGE, 429)
        yield from self.request(client, f"GET {manifest}", job=job, pool=pool)
        if self.spec.multi_platform:
            yield from self.request(client, f"GET /v2/{image.repository}/manifests/<platform>", job=job, pool=pool)
        server = yield from self.open_blob(client, f"GET /v2/{image.repository}/blobs/config", job=job, pool=pool)
        self.release(pool, server)

    def resolve(self, client: str, image: ImageInfo, *, job: int, have_manifest: bool,
                pool: ConnectionPool | None = None, fetch: ConnectionPool | None = None) -> Generator[Any, Any, None]:
        """HEAD the tag, fetch a token when ``auth: token``, GET manifest and config unless already local.

        ``pool`` is the resolver's connections, ``fetch`` the fetcher's (containerd builds an HTTP client for
        each: components/connections.py); the token server is a host of its own. An unchanged tag that is already
        local costs only the HEAD (+ token) and does not count toward the pull limit (docs/real-docker.md:
        Pull 8). A cache resolves the tag with a HEAD at its upstream and fetches the manifest from there once."""
        manifest = f"/v2/{image.repository}/manifests/{image.tag}"
        if self.spec.auth == "token":
            yield from self.request(client, f"HEAD {manifest}", job=job, status=401, pool=pool)
            yield from self.request(client, "GET token", job=job, pool=pool, server=self.token_server)
        yield from self.request(client, f"HEAD {manifest}", job=job, pool=pool)
        upstream = self.upstream
        if upstream is not None:
            try:
                yield from upstream.request(self.name, f"HEAD {manifest}", job=job, pool=self.upstream_pool)
            except RegistryError:
                if image.manifest_digest not in self.cached_manifests:
                    raise  # distribution serves a cached manifest when the upstream fails, else the error
        if have_manifest:
            return
        if upstream is not None and image.manifest_digest not in self.cached_manifests:
            yield from upstream.get_manifest(self.name, image, job=job, pool=self.upstream_pool)
            self.cached_manifests.add(image.manifest_digest)
        yield from self.get_manifest(client, image, job=job, pool=fetch if fetch is not None else pool)

    # ------------------------------------------------------------ blobs

    def fetch_blob(self, client: str, layer: LayerInfo, *, job: int, first_byte: simpy.Event | None = None,
                   pool: ConnectionPool | None = None) -> Generator[Any, Any, Served]:
        """GET the blob: wait for a connection (``max_connections``), the request's round trip, then its bytes
        through the network; a cache serves hits itself and streams misses from its upstream."""
        if self.spec.p2p:
            served: Served = yield from self._fetch_p2p(client, layer.digest, layer.size, job, pool)
            return served
        if self.connections is None:
            served = yield from self._serve(client, layer, job, first_byte, pool)
            return served
        with self.connections.request() as connection:
            yield connection
            served = yield from self._serve(client, layer, job, first_byte, pool)
        return served

    def _serve(self, client: str, layer: LayerInfo, job: int, first_byte: simpy.Event | None,
               pool: ConnectionPool | None) -> Generator[Any, Any, Served]:
        server = yield from self.open_blob(client, f"GET blob {layer.digest[7:19]}", job=job, pool=pool)
        if first_byte is not None:
            first_byte.succeed()
        try:
            if self.upstream is None:
                yield self.network.transfer(self.name, client, layer.size)
                return Served(self.name)
            if layer.digest in self.cache:
                self.cache.move_to_end(layer.digest)
                yield self.network.transfer(self.name, client, layer.size)
                return Served(self.name, cache="hit")
            filling = self._filling.get(layer.digest)
            if filling is not None and self.spec.merge_misses:
                # what-if: join the fetch under way, streaming to the client as the cache receives it
                yield self.env.all_of([filling, self.network.transfer(self.name, client, layer.size)])
                return Served(self.name, cache="miss")
            store = filling is None  # distribution caches only the first of concurrent misses
            yield from self._fill(client, layer, job, store)
            return Served(self.name, cache="miss")
        finally:
            self.release(pool, server)

    def fetch_range(self, client: str, layer: LayerInfo, nbytes: float, *, job: int, part: str = "range",
                    pool: ConnectionPool | None = None) -> Generator[Any, Any, Served]:
        """A range GET of part of a blob (lazy pulling). A cache without the blob passes the range through
        from its upstream without keeping it (a partial blob is not a cache entry). With ``p2p`` the range is
        fetched through its own swarm, as a blob is: every host reads the same ``part`` of a layer (its
        prefetch, then the rest), so peers that read it relay it (DADI's and Dragonfly's peer-to-peer lazy
        pulls; a host's whole blob does not serve another's range)."""
        if self.spec.p2p:
            served: Served = yield from self._fetch_p2p(client, f"{layer.digest} {part}", nbytes, job, pool)
            return served
        if self.connections is not None:
            with self.connections.request() as connection:
                yield connection
                yield from self._range(client, layer, nbytes, job, pool)
        else:
            yield from self._range(client, layer, nbytes, job, pool)
        return Served(self.name)

    def _range(self, client: str, layer: LayerInfo, nbytes: float, job: int,
               pool: ConnectionPool | None) -> Generator[Any, Any, None]:
        server = yield from self.open_blob(client, f"GET blob {layer.digest[7:19]} range", job=job, pool=pool)
        try:
            yield from self._stream_range(client, layer, nbytes, job)
        finally:
            self.release(pool, server)

    def _stream_range(self, client: str, layer: LayerInfo, nbytes: float, job: int) -> Generator[Any, Any, None]:
        upstream = self.upstream
        if upstream is None or layer.digest in self.cache:
            yield self.network.transfer(self.name, client, nbytes)
            return
        began = self.env.now
        pool = self.upstream_pool
        server = yield from upstream.open_blob(self.name, f"GET blob {layer.digest[7:19]} range", job=job, pool=pool)
        try:
            yield self.env.all_of([self.network.transfer(upstream.name, self.name, nbytes),
                                   self.network.transfer(self.name, client, nbytes)])
        finally:
            upstream.release(pool, server)
        self.recorder.span(SpanKind.CACHE_FILL, layer.digest, began, self.env.now, host=self.name, job=job,
                           registry=upstream.name, cache=self.name, bytes=nbytes, stored=False)

    def _fill(self, client: str, layer: LayerInfo, job: int, store: bool) -> Generator[Any, Any, None]:
        """A miss: fetch from the upstream and stream to the client at once; keep the blob if ``store``."""
        assert self.upstream is not None
        done = self.env.event()
        if store:
            self._filling[layer.digest] = done
        began = self.env.now
        first = self.env.event()
        upstream = self.env.process(self.upstream.fetch_blob(self.name, layer, job=job, first_byte=first,
                                                             pool=self.upstream_pool))
        try:
            yield first | upstream
            if not first.triggered:  # the upstream failed before its first byte
                yield upstream
            yield self.env.all_of([upstream, self.network.transfer(self.name, client, layer.size)])
        except RegistryError as err:
            if store:
                del self._filling[layer.digest]
                done.fail(err)
                done.defused = True
            raise
        self.recorder.span(SpanKind.CACHE_FILL, layer.digest, began, self.env.now, host=self.name, job=job,
                           registry=self.upstream.name, cache=self.name, bytes=layer.size, stored=store)
        if store:
            del self._filling[layer.digest]
            self._keep(layer.digest, layer.size)
            done.succeed()

    def _keep(self, digest: str, size: float) -> None:
        """Store a fetched blob, evicting least recently used ones beyond ``storage``."""
        capacity = self.spec.storage
        if capacity is not None:
            if size > capacity:
                return
            while self.cache and self.cache_used + size > capacity:
                _, evicted = self.cache.popitem(last=False)
                self.cache_used -= evicted
        self.cache[digest] = size
        self.cache_used += size

    # ------------------------------------------------------------ peer-to-peer

    def _fetch_p2p(self, client: str, content: str, size: float, job: int,
                   pool: ConnectionPool | None) -> Generator[Any, Any, Served]:
        """Announce ``content`` (a blob's digest, or a part of it) to the tracker, then fetch its ``size``
        bytes in ``p2p_sources`` stripes at once: each from a random peer with an upload slot free (never the
        same peer twice), the rest from this registry as the origin seeder.

        A peer that is itself still fetching relays what it has received, so a stripe ends no sooner than
        the same stripe on its source (fluid pipelining: pieces are infinitesimal, so a relay adds no
        store-and-forward delay)."""
        yield from self.request(client, f"GET announce {content[7:19]}", job=job, pool=pool)
        spec = self.spec
        swarm = self._swarms.setdefault(content, _Swarm())
        count = spec.p2p_sources
        stripe = size / count
        free = swarm.free
        me = swarm.holders.get(client)  # set on a retry: it keeps its place in the swarm, never its own source
        if me is not None:
            self._unfree(swarm, me)
        picks = self.rng.sample(range(len(free)), min(count, len(free))) if free else []
        sources: list[_Holder | None] = [free[i] for i in picks]
        sources += [None] * (count - len(sources))
        for holder in sources:
            if holder is not None:
                holder.uploads += 1
                if holder.uploads >= spec.p2p_uploads:
                    self._unfree(swarm, holder)
        if me is None:
            me = swarm.holders[client] = _Holder(client, [self.env.event() for _ in range(count)])
        if me.uploads < spec.p2p_uploads:
            self._refree(swarm, me)
        parts = [self.env.process(self._stripe(swarm, source, me, index, stripe, job))
                 for index, source in enumerate(sources)]
        yield self.env.all_of(parts)
        from_peers = sum(1 for source in sources if source is not None)
        return Served(self.name, peer_bytes=from_peers * stripe, peers=from_peers)

    def _stripe(self, swarm: _Swarm, source: _Holder | None, me: _Holder, index: int, nbytes: float,
                job: int) -> Generator[Any, Any, None]:
        if source is None:
            if self.connections is None:
                yield self.network.transfer(self.name, me.host, nbytes)
            else:
                with self.connections.request() as connection:
                    yield connection
                    yield self.network.transfer(self.name, me.host, nbytes)
        else:
            yield self.network.transfer(source.host, me.host, nbytes)
            source.uploads -= 1
            if source.uploads < self.spec.p2p_uploads:
                self._refree(swarm, source)
            upstream = source.stripes[index]
            if not upstream.triggered:
                yield upstream  # a relay cannot hand on more of the stripe than it has received
        if not me.stripes[index].triggered:
            me.stripes[index].succeed()

    @staticmethod
    def _unfree(swarm: _Swarm, holder: _Holder) -> None:
        i = holder.free_index
        if i < 0:
            return
        last = swarm.free.pop()
        if last is not holder:
            swarm.free[i] = last
            last.free_index = i
        holder.free_index = -1

    @staticmethod
    def _refree(swarm: _Swarm, holder: _Holder) -> None:
        if holder.free_index < 0:
            holder.free_index = len(swarm.free)
            swarm.free.append(holder)

    # ------------------------------------------------------------ push

    def has_blob(self, repository: str, digest: str) -> bool:
        return repository in self.repositories.get(digest, ())

    def holds_blob(self, digest: str) -> bool:
        return bool(self.repositories.get(digest))

    def accept_blob(self, repository: str, digest: str) -> None:
        self.repositories.setdefault(digest, set()).add(repository)

    def accept_manifest(self, image: ImageInfo) -> None:
        """A pushed image: its blobs belong to its repository; another host may now pull it by ref."""
        for layer in image.layers:
            self.accept_blob(image.repository, layer.digest)
        self.manifests[image.ref] = image
