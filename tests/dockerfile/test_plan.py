"""Build plans from small hand-written Dockerfiles: stages, build steps, substitution, dependencies, ONBUILD."""

from __future__ import annotations

import json
from textwrap import dedent

import pytest

from dsim.dockerfile.expand import ExpansionError, expand_word
from dsim.dockerfile.parse import directives, dump, parse_dockerfile
from dsim.dockerfile.plan import BuildPlan, make_plan, needed_stages, platform_args
from dsim.dockerfile.render import plan_to_json, render_plan
from dsim.errors import ScenarioError


def plan_of(text: str, **kwargs: object) -> BuildPlan:
    return make_plan(dedent(text).lstrip("\n"), filename="Dockerfile", **kwargs)  # type: ignore[arg-type]


def error_of(text: str, **kwargs: object) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        plan_of(text, **kwargs)
    assert info.value.file == "Dockerfile"
    return info.value


MULTI = """
    ARG GO=1.22
    FROM golang:${GO} AS build
    WORKDIR /src
    COPY go.mod go.sum ./
    RUN go mod download
    COPY . .
    RUN go build -o /out/app .

    FROM alpine:3.20 AS unused
    RUN echo never built

    FROM build AS test
    RUN go test ./...

    FROM scratch
    COPY --from=build /out/app /app
    ENTRYPOINT ["/app"]
"""


# --- stages and build steps -----------------------------------------------------------------------------------------


def test_stages_bases_and_names() -> None:
    plan = plan_of(MULTI)
    assert [s.name for s in plan.stages] == ["build", "unused", "test", None]
    assert [s.ref for s in plan.stages] == ["build", "unused", "test", "3"]
    assert plan.stages[0].base == "golang:1.22" and not plan.stages[0].base_is_stage
    assert plan.stages[2].base == "build" and plan.stages[2].base_is_stage and plan.stages[2].base_stage == 0
    assert plan.stages[3].base == "scratch"
    assert plan.target == "3" and plan.target_index == 3


def test_layer_making_instructions_are_the_build_steps() -> None:
    plan = plan_of("""
        FROM alpine
        ENV A=1
        WORKDIR /
        WORKDIR /app
        WORKDIR sub
        WORKDIR ../..
        RUN true
        COPY a b
        ADD c d
        LABEL x=y
        USER nobody
        EXPOSE 80
        VOLUME /data
        CMD ["sh"]
    """)
    steps = plan.stages[0].steps
    assert [(s.instruction, s.creates_layer) for s in steps] == [
        ("ENV", False), ("WORKDIR", False), ("WORKDIR", True), ("WORKDIR", True), ("WORKDIR", False),
        ("RUN", True), ("COPY", True), ("ADD", True), ("LABEL", False), ("USER", False), ("EXPOSE", False),
        ("VOLUME", False), ("CMD", False),
    ]
    assert [s.workdir for s in steps if s.instruction == "WORKDIR"] == ["/", "/app", "/app/sub", "/"]
    assert [s.build_step for s in steps if s.creates_layer] == [1, 2, 3, 4, 5]
    assert all(s.build_step is None for s in steps if not s.creates_layer)
    assert plan.build_step_count() == 5


def test_build_step_count_covers_only_needed_stages() -> None:
    plan = plan_of(MULTI)
    assert plan.build_step_count() == 5 + 1  # build (WORKDIR, COPY, RUN, COPY, RUN) + final COPY
    assert plan.build_step_count(range(len(plan.stages))) == 5 + 1 + 1 + 1


# --- needed stages --------------------------------------------------------------------------------------------------


def test_needed_stages_excludes_unused_stage() -> None:
    plan = plan_of(MULTI)
    assert needed_stages(plan) == [0, 3]
    assert plan.needed == (0, 3)
    assert needed_stages(plan, "test") == [0, 2]
    assert needed_stages(plan, "unused") == [1]
    assert needed_stages(plan, 3) == [0, 3]


def test_needed_stages_in_dependency_order_through_mounts_and_copies() -> None:
    plan = plan_of("""
        FROM alpine AS a
        FROM alpine AS b
        RUN --mount=from=a,target=/a true
        FROM b AS c
        COPY --from=0 /x /x
        FROM alpine AS d
        COPY --from=c /y /y
    """)
    assert needed_stages(plan) == [0, 1, 2, 3]
    assert plan.stage("c").depends_on == ("b", "a")
    assert needed_stages(plan, "b") == [0, 1]


def test_target_selection_and_unknown_target() -> None:
    plan = plan_of(MULTI, target="TEST")
    assert plan.target == "test" and plan.needed == (0, 2)
    error = error_of(MULTI, target="nope")
    assert "'nope' could not be found" in error.message and "build, unused, test" in error.message


# --- COPY --from ----------------------------------------------------------------------------------------------------


def test_copy_from_stage_index_and_image() -> None:
    plan = plan_of("""
        FROM alpine AS base
        RUN touch /x
        FROM base
        COPY --from=0 /x /a
        COPY --from=base /x /b
        COPY --from=nginx:1.27 /etc/nginx /c
        COPY --chown=app:app --chmod=644 --link x /d/
    """)
    c0, c1, c2, c3 = plan.stages[1].steps
    assert (c0.from_stage, c0.from_is_stage, c0.depends_on) == ("base", True, ("base",))
    assert (c1.from_stage, c1.from_is_stage, c1.depends_on) == ("base", True, ("base",))
    assert (c2.from_stage, c2.from_is_stage, c2.depends_on) == ("nginx:1.27", False, ())
    assert c2.sources == ("/etc/nginx",) and c2.dest == "/c"
    assert (c3.chown, c3.chmod, c3.link, c3.from_stage) == ("app:app", "644", True, None)


def test_copy_from_rejects_variables_forward_and_self_references() -> None:
    assert "variable expansion is not supported for --from" in error_of("""
        FROM alpine AS a
        ARG SRC=a
        COPY --from=$SRC /x /x
    """).message
    forward = error_of("""
        FROM alpine AS a
        COPY --from=b /x /x
        FROM alpine AS b
    """, target="a")
    assert "needs to be defined before current stage" in forward.message and forward.line == 2
    assert "circular dependency" in error_of("""
        FROM alpine AS a
        COPY --from=a /x /x
    """).message
    assert error_of("FROM alpine\nCOPY --from=7 /x /x\n").message == "invalid stage index 7"


def test_stage_cycle_is_rejected_even_when_not_needed() -> None:
    error = error_of("""
        FROM alpine AS a
        RUN --mount=from=b,target=/b true
        FROM a AS b
        FROM alpine AS final
    """)
    assert "circular dependency" in error.message


# --- substitution and ARG scoping ---------------------------------------------------------------------------------


def test_args_before_from_and_platform_args() -> None:
    plan = plan_of("""
        ARG REG=docker.io
        ARG TAG
        ARG IMAGE=${REG}/library/alpine:${TAG:-3.20}
        FROM --platform=$BUILDPLATFORM ${IMAGE} AS tools
        FROM --platform=linux/arm64 alpine AS arm
    """)
    assert [(a.name, a.default, a.value) for a in plan.args_before_from] == [
        ("REG", "docker.io", "docker.io"), ("TAG", None, None),
        ("IMAGE", "${REG}/library/alpine:${TAG:-3.20}", "docker.io/library/alpine:3.20"),
    ]
    tools = plan.stage("tools")
    assert tools.base == "docker.io/library/alpine:3.20"
    assert tools.platform == "linux/amd64"
    assert tools.from_args_used == ("BUILDPLATFORM", "IMAGE")
    assert tools.text == "FROM --platform=linux/amd64 docker.io/library/alpine:3.20 AS tools"
    assert plan.stage("arm").platform == "linux/arm64"
    with_args = plan_of("""
        ARG TAG
        FROM alpine:${TAG:-latest}
    """, build_args={"TAG": "3.19"})
    assert with_args.stages[0].base == "alpine:3.19"


def test_platform_args() -> None:
    args = platform_args("linux/arm/v7")
    assert (args["TARGETOS"], args["TARGETARCH"], args["TARGETVARIANT"]) == ("linux", "arm", "v7")
    assert platform_args()["BUILDPLATFORM"] == "linux/amd64" and platform_args()["TARGETVARIANT"] == ""


def test_blank_or_invalid_base_follows_buildkit() -> None:
    blank = error_of("""
        ARG BASE
        FROM $BASE
    """)
    assert blank.message == "base name ($BASE) should not be blank" and blank.line == 2
    invalid = error_of("""
        ARG TAG
        FROM alpine:$TAG
    """)
    assert "invalid reference format" in invalid.message and invalid.line == 2
    assert plan_of("ARG BASE\nFROM $BASE\n", build_args={"BASE": "busybox"}).stages[0].base == "busybox"


def test_global_arg_needs_redeclaring_inside_a_stage() -> None:
    plan = plan_of("""
        ARG VERSION=1.0
        FROM scratch
        WORKDIR /v$VERSION
        ARG VERSION
        WORKDIR /w$VERSION
        ARG OTHER=x-${VERSION}
        ENV COPY_OF=$OTHER
    """)
    steps = plan.stages[0].steps
    assert steps[0].workdir == "/v"  # not visible before the redeclaration (scratch: nothing else defines it)
    assert steps[1].pairs == (("VERSION", "1.0"),)
    assert steps[2].workdir == "/w1.0" and steps[2].args_used == ("VERSION",)
    assert steps[3].pairs == (("OTHER", "x-1.0"),) and steps[3].args_used == ("VERSION",)
    assert steps[4].pairs == (("COPY_OF", "x-1.0"),) and steps[4].args_used == ("OTHER",)


def test_build_args_override_defaults_and_env_overrides_arg() -> None:
    plan = plan_of("""
        FROM scratch
        ARG MODE=debug
        ENV LEVEL=${MODE:+on}
        WORKDIR /$MODE
        ENV MODE=fixed
        WORKDIR /$MODE
    """, build_args={"MODE": "release"})
    steps = plan.stages[0].steps
    assert steps[0].pairs == (("MODE", "release"),)
    assert steps[1].pairs == (("LEVEL", "on"),)
    assert steps[2].workdir == "/release" and steps[2].args_used == ("MODE",)
    assert steps[4].workdir == "/fixed" and steps[4].args_used == ()


def test_env_values_are_substituted_all_at_once_and_quotes_removed() -> None:
    plan = plan_of("""
        FROM scratch
        ENV A=1
        ENV A=2 B=$A C="x y" D=a\\ b
        ENV LEGACY  two words
    """)
    steps = plan.stages[0].steps
    assert steps[1].pairs == (("A", "2"), ("B", "1"), ("C", "x y"), ("D", "a b"))
    assert steps[2].pairs == (("LEGACY", "two words"),)
    assert steps[2].text == 'ENV LEGACY="two words"'


def test_base_image_variables_stay_literal_scratch_ones_expand_to_empty() -> None:
    plan = plan_of("""
        FROM golang:1.22 AS img
        ENV PATH=$GOPATH/bin:$PATH
        ARG DECLARED
        WORKDIR /x$DECLARED
        FROM scratch
        ENV P=$PATH Q=${NOPE}
    """)
    assert plan.stages[0].steps[0].pairs == (("PATH", "$GOPATH/bin:$PATH"),)
    assert plan.stages[0].steps[2].workdir == "/x"
    assert plan.stages[1].steps[0].pairs == (("P", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                                             ("Q", ""))


def test_child_stage_inherits_env_args_and_workdir_of_its_base_stage() -> None:
    plan = plan_of("""
        FROM scratch AS base
        ARG V=7
        ENV E=e
        WORKDIR /srv
        FROM base AS child
        WORKDIR app
        COPY x /$V/$E/
        RUN true
    """)
    child = plan.stage("child").steps
    assert child[0].workdir == "/srv/app"
    assert child[1].dest == "/7/e/" and child[1].args_used == ("V",)
    assert child[2].args_used == ("V",)
    assert child[1].workdir == child[2].workdir == "/srv/app"  # the directory each step runs in


def test_every_run_after_an_arg_uses_it() -> None:
    plan = plan_of("""
        FROM alpine
        RUN echo one
        ARG A
        ARG B=2
        RUN echo two
        COPY f /f
    """)
    runs = [s for s in plan.stages[0].steps if s.instruction == "RUN"]
    assert runs[0].args_used == ()
    assert runs[1].args_used == ("A", "B")
    assert plan.stages[0].steps[-1].args_used == ()
    assert plan.stages[0].steps[1].args_defined == ("A",)


def test_escape_directive_changes_the_escape_character() -> None:
    plan = plan_of("""
        # escape=`
        FROM scratch
        ENV WIN=C:\\tools NAME=a`"b
        WORKDIR C:\\app
    """)
    assert plan.escape == "`"
    assert plan.stages[0].steps[0].pairs == (("WIN", "C:\\tools"), ("NAME", 'a"b'))
    assert plan.stages[0].steps[1].workdir == "/app" and plan.stages[0].steps[1].creates_layer


def test_expand_word_modifiers() -> None:
    env = {"V": "1.2.3", "EMPTY": "", "P": "linux/arm64"}
    assert expand_word("${V%.*}-${V#*.}-${V%%.*}-${V##*.}", env).text == "1.2-2.3-1-3"
    assert expand_word("${EMPTY:-d}${EMPTY-d}${UNSET-u}${V:+set}${UNSET:+no}", env).text == "duset"
    assert expand_word("${P/linux\\//}|${P//a/A}", env).text == "arm64|linux/Arm64"
    assert expand_word("'$V' \"$V\" \\$V", env).text == "$V 1.2.3 $V"
    assert expand_word("$UNSET/$V", env, keep_unset=lambda n: True).matched == {"V"}
    assert expand_word("$UNSET/$V", env, keep_unset=lambda n: True).text == "$UNSET/1.2.3"
    for bad in ("${}", "${V", "${UNSET:?must be set}", "${V=x}", "'open"):
        with pytest.raises(ExpansionError):
            expand_word(bad, env)


def test_bad_substitution_names_the_line() -> None:
    error = error_of("""
        FROM alpine
        WORKDIR /x
        ENV A=${B
    """)
    assert error.line == 3 and "missing '}'" in error.message


# --- RUN: heredocs and mounts ---------------------------------------------------------------------------------------


def test_heredoc_run_and_copy() -> None:
    plan = plan_of("""
        FROM alpine
        RUN <<EOF
        set -e
        echo hi
        EOF
        COPY <<CONF /etc/app.conf
        key=value
        CONF
        RUN echo after
    """)
    run, copy, after = plan.stages[0].steps
    assert run.heredoc and run.creates_layer and run.command == "set -e\necho hi\n"
    assert (run.line, run.end_line) == (2, 5)
    assert copy.heredoc and copy.sources == ("<<CONF",) and copy.dest == "/etc/app.conf"
    assert copy.heredocs == (("CONF", "key=value\n"),)
    assert not after.heredoc and after.command == "echo after" and after.line == 9


def test_run_mounts_are_parsed_and_substituted() -> None:
    plan = plan_of("""
        FROM golang AS src
        FROM golang
        WORKDIR /work
        ARG TARGETPLATFORM
        RUN --mount=type=cache,target=/root/.cache,id=gocache-$TARGETPLATFORM,sharing=locked \\
            --mount=type=bind,from=src,source=/go/src,target=/src,rw \\
            --mount=type=secret,id=token \\
            --mount=type=tmpfs,target=tmp \\
            --mount=target=/ctx \\
            --network=none go build
    """)
    run = plan.stages[1].steps[-1]
    cache, bind, secret, tmpfs, ctx = run.mounts
    assert (cache.type, cache.target, cache.id, cache.readonly) == ("cache", "/root/.cache", "gocache-linux/amd64",
                                                                     False)
    assert ("sharing", "locked") in cache.options
    assert (bind.from_stage, bind.from_is_stage, bind.source, bind.readonly) == ("src", True, "/go/src", False)
    assert (secret.type, secret.id, secret.target) == ("secret", "token", None)
    assert (tmpfs.type, tmpfs.target) == ("tmpfs", "/work/tmp")
    assert (ctx.type, ctx.readonly, ctx.from_stage) == ("bind", True, None)
    assert run.network == "none" and run.command == "go build"
    assert run.depends_on == ("src",)
    assert "id=gocache-linux/amd64" in run.text and run.args_used == ("TARGETPLATFORM",)


def test_cache_mount_id_defaults_to_target_and_bad_mounts_fail() -> None:
    run = plan_of("FROM alpine\nRUN --mount=type=cache,target=/var/cache/apk apk add x\n").stages[0].steps[0]
    assert run.mounts[0].id == "/var/cache/apk"
    assert "unsupported mount type" in error_of("FROM alpine\nRUN --mount=type=nfs,target=/x true\n").message
    assert "doesn't support variable expansion" in error_of(
        "FROM alpine AS a\nFROM alpine\nARG S=a\nRUN --mount=from=$S,target=/x true\n").message
    assert "unexpected key" in error_of("FROM alpine\nRUN --mount=type=bind,target=/x,colour=red true\n").message
    assert "invalid mount target" in error_of("FROM alpine\nRUN --mount=type=bind true\n").message


# --- ONBUILD --------------------------------------------------------------------------------------------------------


def test_onbuild_triggers_run_first_in_a_child_stage() -> None:
    plan = plan_of("""
        FROM node:20 AS base
        WORKDIR /app
        ONBUILD COPY package.json ./
        ONBUILD RUN --mount=type=cache,target=/root/.npm npm ci
        RUN echo base

        FROM base AS app
        COPY . .

        FROM base AS other
    """)
    base = plan.stage("base")
    assert base.onbuild == ("COPY package.json ./", "RUN --mount=type=cache,target=/root/.npm npm ci")
    assert [s.instruction for s in base.steps] == ["WORKDIR", "ONBUILD", "ONBUILD", "RUN"]
    assert [s.creates_layer for s in base.steps] == [True, False, False, True]
    app = plan.stage("app").steps
    assert [(s.instruction, s.onbuild_from) for s in app] == [("COPY", "base"), ("RUN", "base"), ("COPY", None)]
    assert app[0].dest == "./" and app[0].line == 3
    assert app[1].mounts[0].type == "cache" and app[1].mounts[0].target == "/root/.npm"
    assert [s.build_step for s in app] == [1, 2, 3]
    assert len(plan.stage("other").steps) == 2


def test_onbuild_triggers_are_not_inherited_twice() -> None:
    plan = plan_of("""
        FROM alpine AS a
        ONBUILD RUN echo from-a
        FROM a AS b
        FROM b AS c
    """)
    assert [s.onbuild_from for s in plan.stage("b").steps] == ["a"]
    assert plan.stage("c").steps == ()


def test_onbuild_trigger_restrictions() -> None:
    assert "isn't allowed as an ONBUILD trigger" in error_of("FROM alpine\nONBUILD FROM busybox\n").message
    assert "Chaining ONBUILD" in error_of("FROM alpine\nONBUILD ONBUILD RUN true\n").message


def test_onbuild_sub_instruction_keeps_its_flags() -> None:
    [_, onbuild] = parse_dockerfile("FROM a\nONBUILD RUN --mount=type=cache,target=/x echo hi\n")
    assert onbuild.sub is not None and onbuild.sub.flags == ("--mount=type=cache,target=/x",)
    assert dump([onbuild]) == '(onbuild (run ["--mount=type=cache,target=/x"] "echo hi"))\n'


# --- errors with file and line --------------------------------------------------------------------------------------


def test_planner_errors_name_the_line() -> None:
    unknown = error_of("FROM alpine\nRUN true\nFOO bar\n")
    assert (unknown.line, unknown.message) == (3, "unknown instruction: FOO")
    before = error_of("RUN true\nFROM alpine\n")
    assert before.line == 1 and "no build stage" in before.message
    flag = error_of("FROM alpine\nCOPY --user=me a b\n")
    assert flag.line == 2 and "unknown flag: user" in flag.message
    name = error_of("FROM alpine AS 1st\n")
    assert name.line == 1 and "invalid name for build stage" in name.message
    assert error_of("FROM alpine\nCOPY onlyone\n").line == 2


def test_parse_error_points_at_the_start_of_a_multiline_instruction() -> None:
    text = "FROM alpine\nRUN a \\\n  b\nENV A=1 \\\n\n  # comment\n  B\nRUN ok\n"
    with pytest.raises(ScenarioError) as info:
        parse_dockerfile(text, filename="x/Dockerfile")
    assert (info.value.file, info.value.line) == ("x/Dockerfile", 4)
    assert "can't find = in \"B\"" in info.value.message


def test_json_nul_is_recovered() -> None:
    [cmd] = parse_dockerfile('CMD ["a\\u0000b", "c"]\n')
    assert cmd.value == ("a\x00b", "c")
    assert dump([cmd]) == '(cmd "a\\x00b" "c")\n'


def test_directives() -> None:
    d = directives("# syntax=docker/dockerfile:1\n# escape=`\n\nFROM x\n")
    assert (d.syntax, d.escape) == ("docker/dockerfile:1", "`")
    assert directives("# comment\n# escape=`\nFROM x\n").escape == "\\"


# --- rendering ------------------------------------------------------------------------------------------------------


def test_render_plan_text() -> None:
    text = render_plan(plan_of(MULTI))
    assert "BuildKit builds 2 of 4 stages, in this order: build, 3" in text
    assert "Build steps (layer-making: RUN, COPY, ADD, WORKDIR other than /): 6 in the stages built, 8" in text
    assert "Stage 1 unused: FROM image alpine:3.20" in text and "not needed for the target" in text
    assert "COPY --from=build /out/app /app" in text


def test_plan_to_json_is_serialisable_with_stable_keys() -> None:
    data = plan_to_json(plan_of(MULTI))
    assert json.loads(json.dumps(data)) == data
    assert list(data)[:6] == ["file", "syntax", "escape", "platform", "target", "target_index"]
    assert data["needed_stages"] == [0, 3] and data["build_steps"] == 6
    final_copy = data["stages"][3]["steps"][0]
    assert (final_copy["instruction"], final_copy["from"], final_copy["depends_on"]) == ("COPY", "build", ["build"])
    assert list(final_copy)[:4] == ["index", "line", "end_line", "instruction"]
    assert plan_to_json(plan_of(MULTI)) == data
