"""`ferry plugin new`: every kind in every language it offers makes a project that builds with
the command its README gives and passes `ferry plugin test` once it has a description of its
own (`--description`); without one the kit refuses the template's. Refusals name what is
wrong."""

import json
import os
import re
import sys
import subprocess
from pathlib import Path

import pytest

from conftest import BUILDS, ROOT, c_tools, ferry_bin

KINDS = ("validator", "transform", "model", "deployer", "alert-sink")
OFFERED = [(lang, k) for lang in ("rust", "python", "extism-rust") for k in KINDS] + [
    (lang, k) for lang in ("js", "c") for k in ("validator", "transform", "model")
]


def readme_commands(project):
    """The two commands of the project's README: build, then test."""
    text = (project / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)\n```", text, re.S)
    assert block, text
    lines = block.group(1).splitlines()
    assert len(lines) == 2 and lines[1].startswith("ferry plugin test "), lines
    return lines


def run(argv, cwd, env, shell=False):
    out = subprocess.run(argv, cwd=cwd, env=env, shell=shell, capture_output=True, text=True)
    assert out.returncode == 0, f"{argv} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.mark.parametrize("lang,kind", OFFERED)
def test_every_offered_kind_and_language_builds_and_conforms(lang, kind, tmp_path, cache_dir):
    name = f"my-{lang}-{kind}"
    project = tmp_path / name
    env = dict(os.environ, FERRY_CACHE_DIR=cache_dir)
    made = run([ferry_bin(), "plugin", "new", name, "--kind", kind, "--lang", lang, "--dir", project,
                "--description", f"A {kind} in {lang}, made for Ferry's tests"], tmp_path, env)
    assert f"Created {name}" in made
    build, test = readme_commands(project)
    assert build in made and test in made, made

    if lang in ("rust", "extism-rust"):
        # One target folder for every Rust project of the run: the SDK compiles once.
        target = BUILDS / f"new-{lang}-target"
        env["CARGO_TARGET_DIR"] = str(target)
        env.pop("RUSTUP_TOOLCHAIN", None)
        test = test.replace("target/", f"{target}/", 1)
    if lang == "js" and os.environ.get("FERRY_JS_MODULES"):
        # CI's ComponentizeJS is already installed; the build script finds it there.
        build = build.replace("npm install && ", "")
    if lang == "python":
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    if lang == "c":
        # `make` as the README says, with CI's wit-bindgen and jco on the PATH.
        dirs = {str(Path(tool).parent) for tool in c_tools().values()}
        env["PATH"] = f"{':'.join(sorted(dirs))}:{env['PATH']}"
    run(build, project, env, shell=True)
    argv = test.split()
    report = run([ferry_bin(), *argv[1:], "--json"], project, env)
    points = {p["check"]: p["outcome"] for p in json.loads(report)["points"]}
    assert "failed" not in points.values(), report
    skipped = [c for c, o in points.items() if o == "skipped"]
    # Every point applies to these plugins but one: a sink that writes to a folder reaches no
    # host that could refuse it.
    assert skipped == (["failed-delivery"] if (lang, kind) == ("python", "alert-sink") else []), report


def test_refusals_name_what_is_wrong(tmp_path):
    def fails(*args):
        out = subprocess.run([ferry_bin(), "plugin", "new", *args], cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode != 0, out.stdout
        return out.stderr

    refused = fails("p", "--kind", "deployer", "--lang", "js")
    assert "--kind deployer is not offered in --lang js" in refused
    assert "validator, transform and model" in refused
    assert "unknown language \"go\" (not offered: see docs/src/authoring/languages.md)" in fails(
        "p", "--kind", "transform", "--lang", "go")
    refused = fails("p", "--kind", "alert-sink", "--lang", "c")
    assert "--kind alert-sink is not offered in --lang c" in refused
    assert "unknown kind" in fails("p", "--kind", "scorer", "--lang", "rust")
    assert "only lowercase ASCII letters" in fails("My_Plugin", "--kind", "transform", "--lang", "rust")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    err = fails("taken", "--kind", "transform", "--lang", "rust")
    assert "already exists and is not empty" in err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert "without `\"`" in fails("q", "--kind", "transform", "--lang", "rust", "--description", 'Says "hi"')


def test_a_rust_project_names_the_sdk_relative_to_itself_and_says_to_describe_it(tmp_path):
    for lang in ("rust", "extism-rust"):
        out = subprocess.run([ferry_bin(), "plugin", "new", f"p-{lang}", "--kind", "transform", "--lang", lang],
                             cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "the conformance kit refuses it until then" in out.stdout, out.stdout
        cargo = (tmp_path / f"p-{lang}" / "Cargo.toml").read_text()
        sdk = next(line for line in cargo.splitlines() if line.startswith(("ferry-sdk", "ferry-extism-pdk")))
        assert 'path = "../' in sdk and 'path = "/' not in sdk, sdk
        assert "(made by ferry plugin new)" in cargo


def test_the_kit_refuses_the_templates_description(tmp_path, cache_dir):
    project = tmp_path / "plain"
    env = dict(os.environ, FERRY_CACHE_DIR=cache_dir)
    run([ferry_bin(), "plugin", "new", "plain", "--kind", "validator", "--lang", "rust", "--dir", project],
        tmp_path, env)
    build, test = readme_commands(project)
    target = BUILDS / "new-rust-target"
    env["CARGO_TARGET_DIR"] = str(target)
    env.pop("RUSTUP_TOOLCHAIN", None)
    run(build, project, env, shell=True)
    argv = test.replace("target/", f"{target}/", 1).split()
    out = subprocess.run([ferry_bin(), *argv[1:], "--json"], cwd=project, env=env, capture_output=True, text=True)
    assert out.returncode != 0, out.stdout
    points = {p["check"]: p for p in json.loads(out.stdout)["points"]}
    assert points["manifest"]["outcome"] == "failed", points["manifest"]
    assert "still the one `ferry plugin new` wrote" in json.dumps(points["manifest"]), points["manifest"]
