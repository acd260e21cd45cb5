"""commands.py and shell_words.py: the environment a container's process gets and a shell's parameter expansion,
by the rules of moby (container.CreateDaemonEnvironment, the merge of the image's config) and of POSIX sh
(https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html, 2.5-2.6), applied by hand."""

from __future__ import annotations

import pytest

from dsim.serve.bodies import ExecCreate
from dsim.serve.commands import DEFAULT_PATH, STDERR, STDOUT, Context, interpret
from dsim.serve.execs import exec_context
from dsim.serve.image_config import ImageConfig, with_image_defaults
from dsim.serve.shell_session import ShellSession
from dsim.serve.shell_words import split_lists

CONTAINER = Context(hostname="web1", env=("NAME=World", "PATH=/opt/bin:/bin", "EMPTY=", "TWO=a  b"), workdir="/app")


def printed(script: str, context: Context = CONTAINER) -> str:
    program = interpret(["sh", "-c", script], context)
    return b"".join(w.data for w in program.output if w.stream == STDOUT).decode()


def test_the_environment_in_dockers_order() -> None:
    """PATH and HOSTNAME first, Config.Env replacing (PATH keeps its place) or appended, HOME last (runc)."""
    assert interpret(["env"], CONTAINER).output[0].data.decode().splitlines() == [
        "PATH=/opt/bin:/bin", "HOSTNAME=web1", "NAME=World", "EMPTY=", "TWO=a  b", "HOME=/root"]
    assert Context(hostname="h", tty=True, user="1000").environ() == {
        "PATH": DEFAULT_PATH, "HOSTNAME": "h", "TERM": "xterm", "HOME": "/"}
    assert "NAME" not in Context(env=("NAME=x", "NAME")).environ()  # a name without = removes it


@pytest.mark.parametrize(("script", "expected"), [
    ("echo Hello $NAME", "Hello World\n"),
    ("echo \"Hello ${NAME}!\"", "Hello World!\n"),
    ("echo 'Hello $NAME'", "Hello $NAME\n"),            # single quotes expand nothing
    ("echo \\$NAME", "$NAME\n"),                        # nor does a backslash-escaped $
    ("echo $TWO", "a b\n"),                             # unquoted: split into fields, echo joins them
    ("echo \"$TWO\"", "a  b\n"),                        # quoted: one word, its blanks kept
    ("echo x${UNSET}y $UNSET z", "xy z\n"),             # an unset parameter is empty; an empty word goes
    ("echo ${UNSET:-dflt} ${EMPTY:-e} ${UNSET-u} [${EMPTY-set}]", "dflt e u []\n"),  # - alone: only if unset
    ("false; echo $?; true; echo $?", "1\n0\n"),
    ("echo $$ $HOME $PWD", "1 /root /app\n"),
    ("A=1; echo $A; A=2 B=3; echo $A$B", "1\n23\n"),
    ("A=1 printenv A; echo ${A:-unset}", "1\nunset\n"),  # a prefix assignment: that command's only
    ("export X=7; sh -c 'echo in $X'", "in 7\n"),       # exported: a child shell sees it
    ("Y=8; sh -c 'echo in $Y'", "in\n"),                # not exported: it does not
    ("NAME=Docker; echo $NAME; unset NAME; echo ${NAME:-gone}", "Docker\ngone\n"),
    ("echo \"$NAME\" | cat", "World\n"),
    ("echo Hello $(echo $NAME) from $(hostname)", "Hello World from web1\n"),  # command substitution
    ("N=7; echo $((N * 2 + 1)) $(( $N / 2 )) $((-7 / 2)) $((-7 % 3)) $((UNSET + 1))", "15 3 -3 -1 1\n"),  # C's / and %
    ("echo \"[$(printf 'a\\n\\n')]\" $(echo 'x; y' | cat)", "[a] x; y\n"),  # trailing newlines go; ; inside
])
def test_parameter_expansion(script: str, expected: str) -> None:
    assert printed(script) == expected


def test_a_quoted_operator_is_text_and_a_comment_ends_at_the_line() -> None:
    assert split_lists("echo 'a;b' \"c|d\" && x # not; this\ny || z") == [
        (";", ["echo 'a;b' \"c|d\" "]), ("&&", [" x "]), (";", ["y "]), ("||", [" z"])]
    assert printed("echo 'a;b'; echo \"c && d\"") == "a;b\nc && d\n"


def test_an_interactive_shell_keeps_its_variables_from_line_to_line() -> None:
    session = ShellSession(["sh"], CONTAINER, tty=False)
    session.feed(b"GREETING=hi\n")
    said = session.feed(b"echo $GREETING $NAME\n")
    assert b"".join(w.data for w in said) == b"hi World\n"


def test_identity_by_user() -> None:
    root, numeric = Context(), Context(user="1000:50")
    assert printed("whoami; id -u; id -g; id", root) == "root\n0\n0\nuid=0(root) gid=0(root) groups=0(root)\n"
    assert printed("id -u; id -g", numeric) == "1000\n50\n"
    # busybox's id for a uid /etc/passwd does not list: numbers only, group 0 by name (it printed nothing)
    assert printed("id", numeric) == "uid=1000 gid=50 groups=50\n"
    assert printed("id", Context(user="1000")) == "uid=1000 gid=0(root) groups=0(root)\n"
    whoami = interpret(["whoami"], numeric)
    assert whoami.exit_code == 1 and whoami.output[0].stream == STDERR  # busybox: "unknown uid 1000"
    assert Context(user="1000").environ()["HOME"] == "/"


def test_uname_fields() -> None:
    assert printed("uname; uname -r; uname -n; uname -sm", CONTAINER) == "Linux\n6.0.0\nweb1\nLinux x86_64\n"
    assert printed("uname -a", CONTAINER) == "Linux web1 6.0.0 #1 SMP x86_64 Linux\n"


def test_the_image_config_completes_the_request() -> None:
    """moby's merge: the request's Env first, the image's variables it does not set after; the image's WorkingDir
    and User where the request has none."""
    image = ImageConfig(env=("PATH=/usr/bin", "LANG=C"), working_dir="/srv", user="app")
    merged = with_image_defaults({"Env": ["LANG=fr", "A=1"], "User": ""}, image)
    assert (merged["Env"], merged["WorkingDir"], merged["User"]) == (["LANG=fr", "A=1", "PATH=/usr/bin"], "/srv", "app")
    assert with_image_defaults({"WorkingDir": "/x", "User": "0"}, image)["WorkingDir"] == "/x"


def test_a_command_substitution_takes_its_time() -> None:
    program = interpret(["sh", "-c", "x=$(sleep 2; echo hi); echo $x"])
    assert (program.duration, [w.data for w in program.output]) == (2.0, [b"hi\n"])


def test_an_exec_sees_its_own_env_user_and_workdir_over_the_containers() -> None:
    """moby daemon/exec.go: the container's environment with the exec's Env replacing or appended; -u, -w."""
    made = exec_context(CONTAINER, ExecCreate(Cmd=["env"], Env=["NAME=Exec", "X=1"], User="1000", WorkingDir="/w"))
    assert printed("echo $NAME $X $HOSTNAME; id -u; pwd", made) == "Exec 1 web1\n1000\n/w\n"
    assert exec_context(CONTAINER, ExecCreate(Cmd=["sh"])) == CONTAINER


def test_an_arithmetic_error_ends_the_shell_with_2() -> None:
    program = interpret(["sh", "-c", "echo before; echo $((1 / 0)); echo never"])
    assert program.exit_code == 2
    assert [(w.stream, w.data) for w in program.output][0] == (STDOUT, b"before\n")
    assert program.output[-1].stream == STDERR and b"division by zero" in program.output[-1].data


def test_redirections_write_files_that_cat_reads_back() -> None:
    """``>`` truncates (when the command starts, as sh opens it) and ``>>`` appends; a relative name is under the
    working directory; ``/dev/null`` takes nothing; ``2>`` sends errors; files are shared by the process's
    shells; the program reports the files it wrote, with their contents."""
    script = ("echo one > /tmp/a; echo two >> /tmp/a; echo x > rel; echo gone > /dev/null; "
              "sh -c 'echo inner > /tmp/b'; printf 2> /tmp/err; cat /tmp/a /tmp/b; echo again > /tmp/a; cat /tmp/a")
    program = interpret(["sh", "-c", script], CONTAINER)
    assert b"".join(w.data for w in program.output) == b"one\ntwo\ninner\nagain\n"
    assert dict(program.files) == {"/tmp/a": b"again\n", "/app/rel": b"x\n", "/tmp/b": b"inner\n",
                                   "/tmp/err": b"printf: usage: printf format [arguments]\n"}
    seen = Context(files=(("/etc/motd", b"hi\n"),))
    assert printed("cat /etc/motd", seen) == "hi\n" and interpret(["cat", "/etc/motd"], seen).files == ()


def test_an_interactive_shell_keeps_its_files_and_hands_them_over_once() -> None:
    session = ShellSession(["sh"], CONTAINER, tty=False)
    session.feed(b"echo saved > /f\n")
    assert session.take_files() == (("/f", b"saved\n"),) and session.take_files() == ()
    assert b"".join(w.data for w in session.feed(b"cat /f\n")) == b"saved\n"


def test_a_redirection_holds_through_prefixes_and_wrappers() -> None:
    """``A=1 CMD > F``, ``exec CMD >&2`` and ``env A=1 CMD > F``: the redirection is the whole command's."""
    program = interpret(["sh", "-c", "A=1 printenv A > /a; env B=2 printenv B > /b; exec echo err >&2"], CONTAINER)
    assert dict(program.files) == {"/a": b"1\n", "/b": b"2\n"}
    assert [(w.stream, w.data) for w in program.output] == [(STDERR, b"err\n")]


@pytest.mark.parametrize(("script", "expected"), [
    # a backslash-newline is removed before the script is read into tokens (POSIX 2.2.1), in double quotes too
    # (2.2.3), but not in single quotes (2.2.2), nor when the backslash is itself escaped, nor in a comment
    ('echo "a\\\nb"', "ab\n"),
    ("echo a\\\nb", "ab\n"),
    ("ec\\\nho one; echo two \\\n  three", "one\ntwo three\n"),
    ("echo 'a\\\nb'", "a\\\nb\n"),
    ("echo a\\\\\necho b", "a\\\nb\n"),
    ("echo a # not continued \\\necho b", "a\nb\n"),
    ('echo "$(echo x\\\ny)" $((1 +\\\n2))', "xy 3\n"),
])
def test_a_backslash_newline_is_a_line_continuation(script: str, expected: str) -> None:
    assert printed(script) == expected
