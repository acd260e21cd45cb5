"""docker diff with file paths: a run's declared writable-layer files (domain/layer_files.py), the write span's
accounting (components/storage.py) and GET /containers/{id}/changes's list, worked out from moby's rules.

overlay2's native diff (moby/go-archive changes.go, OverlayChanges): each file of the upperdir is Added (1)
when no lower layer has it, else Modified (0); a directory whose metadata equals the lower one's is skipped
(a copied-up file's directories keep theirs); an added file's parent is always listed as Modified, except
``/``. Naive diff (ChangesDirs): every directory above any change is listed as Modified, ``/`` excepted.
"""

from __future__ import annotations

import textwrap

import pytest

from dsim.api import load_scenario_text
from dsim.domain.layer_files import ADDED, MODIFIED, LayerFile, changes, diff_lines, layer_changes
from dsim.errors import ScenarioError
from dsim.run import build_world
from dsim.serve.changes import label_files
from tests.components.test_storage import scenario
from tests.helpers import run_text

MB = 1e6

#: the docker container diff reference's nginx example, less /dev (a mount, not the layer), plus one file
#: of the image nginx modified
NGINX = (LayerFile("/run/nginx.pid", 4, ADDED), LayerFile("/var/log/nginx/access.log", 100, ADDED),
         LayerFile("/var/log/nginx/error.log", 50, ADDED), LayerFile("/etc/nginx/nginx.conf", 2000, MODIFIED))


def test_native_diff_lists_an_added_files_parent_but_not_a_copied_up_files() -> None:
    """Added /run/nginx.pid brings C /run; the two logs bring C /var/log/nginx once (not /var/log, not /var:
    as in the reference's example); the copied-up nginx.conf comes alone (its directories keep their
    metadata on copy-up). Sorted by path."""
    assert diff_lines(NGINX) == [
        "C /etc/nginx/nginx.conf",
        "C /run", "A /run/nginx.pid",
        "C /var/log/nginx", "A /var/log/nginx/access.log", "A /var/log/nginx/error.log",
    ]


def test_naive_diff_lists_every_directory_above_a_change() -> None:
    """ChangesDirs: /etc and /etc/nginx above the modified file too, and /var, /var/log above the logs."""
    assert diff_lines(NGINX, naive=True) == [
        "C /etc", "C /etc/nginx", "C /etc/nginx/nginx.conf",
        "C /run", "A /run/nginx.pid",
        "C /var", "C /var/log", "C /var/log/nginx", "A /var/log/nginx/access.log", "A /var/log/nginx/error.log",
    ]


def test_a_file_in_the_root_lists_no_parent() -> None:
    assert changes((LayerFile("/app.log", 1, ADDED),)) == [("/app.log", ADDED)]


def test_bytes_without_paths_keep_their_stand_in_entry() -> None:
    """writes as files, copy_up as a plain 5 MB: the files with their parent, and C /dsim-copied-up."""
    files = (LayerFile("/data/out.csv", 3 * MB, ADDED),)
    assert layer_changes((3 * MB, 5 * MB), files) == [("/data", MODIFIED), ("/data/out.csv", ADDED),
                                                      ("/dsim-copied-up", MODIFIED)]
    assert layer_changes((0.0, 0.0), ()) == []


def test_a_serve_label_declares_files_as_path_equals_size() -> None:
    assert label_files("1GB") == "1GB"
    assert label_files("/var/log/a.log=1MB,/tmp/b=2KB") == [{"path": "/var/log/a.log", "size": "1MB"},
                                                          {"path": "/tmp/b", "size": "2KB"}]


RUN = """
w:
  arrival: {burst: 1}
  steps:
    - run:
        image: "nginx:1.25"
        name: web
        duration: 1s
        copy_up: [{path: /etc/nginx/nginx.conf, size: 20MB}]
        writes: [{path: /var/log/nginx/access.log, size: 30MB}, {path: /var/cache/nginx/x, size: 50MB}]
    - rm: {}
"""


def test_declared_files_take_their_bytes_and_the_write_span_accounts_them() -> None:
    """20 MB copied up then 80 MB written at 100 MB/s: the copy_up span 0.2 s, the write 1.0 s; 2 files added,
    1 changed; docker diff (native): the conf alone, each log's directory once, then the files."""
    result = run_text(scenario(RUN))
    [copy] = result.spans_of("copy_up")
    assert copy.duration == pytest.approx(0.2)
    [write] = result.spans_of("write")
    assert write.duration == pytest.approx(1.0)
    assert (write.attrs["added"], write.attrs["changed"]) == (80 * MB, 20 * MB)
    assert (write.attrs["files_added"], write.attrs["files_changed"]) == (2, 1)
    assert write.attrs["changes"] == ["C /etc/nginx/nginx.conf", "C /var/cache/nginx", "A /var/cache/nginx/x",
                                      "C /var/log/nginx", "A /var/log/nginx/access.log"]


def test_changes_list_the_layer_until_rm() -> None:
    """At 0.5 s the writes (1.0 s) are under way: nothing listed yet; at 1.5 s the five entries; the run ends
    at 2.0 s and rm removes the layer: nothing again."""
    world = build_world(load_scenario_text(scenario(RUN)))
    storage = world.daemons["h"].runtime.storage
    world.env.run(until=0.5)
    container = world.daemons["h"].runtime.container("web")
    assert container is not None
    assert storage.changes(container.id) == []
    world.env.run(until=1.5)
    assert [path for path, _ in storage.changes(container.id)] == [
        "/etc/nginx/nginx.conf", "/var/cache/nginx", "/var/cache/nginx/x", "/var/log/nginx",
        "/var/log/nginx/access.log"]
    world.env.run(until=3.0)
    assert storage.changes(container.id) == []


def test_a_bytes_only_run_keeps_its_write_span_as_it_was() -> None:
    result = run_text(scenario("""
    w:
      arrival: {burst: 1}
      steps: [{run: {image: "nginx:1.25", writes: 10MB}}]
    """))
    [write] = result.spans_of("write")
    assert set(write.attrs) == {"target", "bytes", "added", "changed"}


@pytest.mark.parametrize(("files", "problem"), [
    ("[{path: var/log/a, size: 1MB}]", "'var/log/a' is not an absolute path"),
    ("[{path: /var/log/, size: 1MB}]", "'/var/log/' names a directory"),
    ("[{path: /var/../a, size: 1MB}]", "not a normalised path"),
    ("[{path: /a, size: 1MB}, {path: /a, size: 2MB}]", "'/a' is declared twice"),
    ("[{path: /a, size: 1MB}, {path: /a/b, size: 2MB}]", "'/a/b' is inside '/a', which is declared as a file"),
])
def test_bad_paths_are_one_line_errors_at_the_run_step(files: str, problem: str) -> None:
    text = scenario(f"""
    w:
      arrival: {{burst: 1}}
      steps: [{{run: {{image: "nginx:1.25", writes: {files}}}}}]
    """)
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(textwrap.dedent(text))
    assert problem in caught.value.message
    assert (caught.value.field or "").startswith("workloads.w.steps[0].run")
