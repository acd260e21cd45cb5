"""``dsim serve`` without ``--out`` keeps no records beyond what its progress streams still read
(dsim/serve/records.py): the window of spans, its readers, the count of failures, and the server's memory of
records staying bounded over many operations, with builds and pushes still streaming their progress."""

from __future__ import annotations

import gc
import json
import re
import urllib.request
from pathlib import Path

import pytest

from dsim.records import JobEnd, Recorder, SpanKind
from dsim.serve.records import TRIM_AT, WindowRecorder
from tests.serve.test_docker_cli import ServeProcess, docker, needs_cli


class Reader:
    def __init__(self, recorder: Recorder) -> None:
        self.span_index = recorder.follow(self)


def record(recorder: Recorder, count: int, first: int = 0) -> None:
    for i in range(first, first + count):
        recorder.span(SpanKind.API, f"s{i}", float(i), i + 1.0, host="h", job=i)


def test_a_live_reader_holds_what_it_has_not_read_and_nothing_else_is_kept() -> None:
    recorder = WindowRecorder()
    reader = Reader(recorder)
    record(recorder, TRIM_AT + 10)  # one trim: the reader had read nothing, so everything stays
    assert [span.subject for span in recorder.read(0)] == [f"s{i}" for i in range(TRIM_AT + 10)]
    reader.span_index = 100  # it read the first 100
    record(recorder, TRIM_AT, first=TRIM_AT + 10)  # the next trim drops those 100 only
    assert recorder.read(100)[0].subject == "s100"
    with pytest.raises(IndexError):
        recorder.read(99)
    del reader
    gc.collect()  # its request is over: it holds nothing
    record(recorder, TRIM_AT, first=2 * TRIM_AT + 10)
    assert len(recorder._window) < TRIM_AT
    late = Reader(recorder)
    assert late.span_index == 3 * TRIM_AT + 10 and recorder.read(late.span_index) == []
    assert recorder.spans == [] and recorder.jobs == []  # nothing for outputs


def test_a_reader_reads_the_spans_a_keeping_recorder_gives_back() -> None:
    """Derived attributes (a push layer's progress) read back as the span store gives them."""
    window, keeping = WindowRecorder(), Recorder()
    readers = Reader(window), Reader(keeping)
    for recorder in (window, keeping):
        record(recorder, 3)
        recorder.span(SpanKind.PUSH_LAYER, "sha256:" + "a" * 64, 3.0, 9.0, host="h", job=7, size=5, nbytes=5,
                      status="Pushed", progress=[(3.0, "Preparing"), (4.0, "Pushing"), (9.0, "Pushed")])
    assert window.read(readers[0].span_index) == keeping.read(readers[1].span_index)


def test_failures_are_counted_as_a_keeping_recorder_counts_them() -> None:
    ends = [JobEnd(i, "op", "h", 0.0, 1.0, status, "") for i, status in
            enumerate(["completed", "failed", "unfinished", "failed", "completed"])]
    window, keeping = WindowRecorder(), Recorder()
    for end in ends:
        window.job_end(end)
        keeping.job_end(end)
    assert window.failed_jobs() == keeping.failed_jobs() == 2
    assert window.jobs == []


def test_a_long_session_keeps_a_bounded_window_of_records() -> None:
    """Containers created, started, waited for and removed: the spans of finished operations go."""
    from dsim.serve.server import Server, serve_scenario

    server = Server(serve_scenario(None), port=0, speed=1000.0, keep_records=False)
    server.start()
    base = server.address.replace("tcp://", "http://") + "/v1.50"

    def call(path: str, body: dict[str, object] | None = None, method: str = "POST") -> bytes:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return bytes(response.read())

    try:
        call("/images/create?fromImage=alpine&tag=latest")
        recorder = server.world.recorder
        assert isinstance(recorder, WindowRecorder)
        cycles = 0
        while recorder._first == 0:  # until the window has dropped spans once
            made = json.loads(call("/containers/create", {"Image": "alpine", "Cmd": ["true"]}))["Id"]
            call(f"/containers/{made}/start")
            call(f"/containers/{made}/wait")
            call(f"/containers/{made}?force=1", method="DELETE")
            cycles += 1
            assert cycles < 2000, "the window never dropped a span"
        assert len(recorder._window) < TRIM_AT
        assert server.world.kernels[server.host].cpu._marks is None  # CPU utilisation is only for the outputs
    finally:
        server.stop()


@needs_cli
def test_builds_and_pushes_stream_their_progress_and_the_last_line_counts_failures(tmp_path: Path) -> None:
    (tmp_path / "serve").mkdir()
    server = ServeProcess(tmp_path / "serve", out=False)
    try:
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM nginx\nCOPY index.html /usr/share/nginx/html/\nRUN echo hello\n")
        (ctx / "index.html").write_text("<h1>dsim</h1>\n")
        legacy = {"DOCKER_BUILDKIT": "0"}
        first = docker(server, "build", "-t", "localhost:5000/demo:1", str(ctx), env=legacy)
        assert first.returncode == 0, first.stderr
        assert re.findall(r"^Step (\d)/3", first.stdout, re.M) == ["1", "2", "3"]
        again = docker(server, "build", "-t", "localhost:5000/demo:1", str(ctx), env=legacy)
        assert again.stdout.count(" ---> Using cache") == 2  # COPY and RUN: read from the build's spans
        pushed = docker(server, "push", "localhost:5000/demo:1")
        assert pushed.returncode == 0, pushed.stderr
        assert ": Pushed" in pushed.stdout  # the push layers' spans, read while the push ran
        assert docker(server, "pull", "dsim-no-such-image").returncode != 0
    finally:
        _, err = server.stop()
    assert re.search(r"dsim serve: \d+ operations \(1 failed\) in [\d.]+ simulated seconds", err), err
    assert not server.out.exists()
