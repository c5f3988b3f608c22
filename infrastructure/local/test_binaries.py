#!/usr/bin/env python3
"""Runs again the test executables `cargo test --workspace` built, for some packages only, building nothing.

    python3 infrastructure/local/test_binaries.py PACKAGE... [-- HARNESS-ARGS...]

Why not `cargo test -p PACKAGE...`: cargo unifies features over the packages selected, so selecting a few gives
several shared crates other features and rebuilds them and everything above them (3 min 57 s of CI on 2026-12-02)
only to test the same code again. Each executable runs like under cargo: in its package's directory, one after the
other, stopping at the first that fails. Prints cargo's "Running" line before each.
"""

import json
import os
import subprocess
import sys


KIND_ORDER = {"lib": 0, "bin": 1, "test": 2}


def split_args(argv):
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def package_dirs(names):
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--no-deps", "--locked", "--format-version", "1"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
    )
    dirs = {p["name"]: os.path.dirname(p["manifest_path"]) for p in metadata["packages"]}
    unknown = [name for name in names if name not in dirs]
    if unknown:
        sys.exit(f"test_binaries: no workspace package named {', '.join(unknown)}")
    return {dirs[name]: name for name in names}


def test_executables(selected):
    """(package dir, package name, source file, executable) of every test target of the selected packages, in
    cargo's order."""
    build = subprocess.run(
        ["cargo", "test", "--workspace", "--locked", "--no-run", "--message-format=json-render-diagnostics"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    found = []
    for line in build.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact" or not message.get("executable"):
            continue
        if not message["profile"]["test"]:
            continue
        package_dir = os.path.dirname(message["manifest_path"])
        if package_dir in selected:
            source = os.path.relpath(message["target"]["src_path"], package_dir)
            kind = KIND_ORDER.get(message["target"]["kind"][0], len(KIND_ORDER))
            found.append((package_dir, selected[package_dir], kind, source, message["executable"]))
    # cargo's order: package by package, the library's unit tests, then binaries', then integration tests by name.
    order = list(selected.values())
    found.sort(key=lambda test: (order.index(test[1]), test[2], test[3]))
    return [(package_dir, name, source, executable) for package_dir, name, _, source, executable in found]


def main():
    names, harness_args = split_args(sys.argv[1:])
    if not names:
        sys.exit(__doc__)
    executables = test_executables(package_dirs(names))
    if not executables:
        sys.exit("test_binaries: cargo reported no test executable for those packages")
    for package_dir, name, source, executable in executables:
        print(f"     Running {source} ({executable})", flush=True)
        env = dict(os.environ, CARGO_MANIFEST_DIR=package_dir, CARGO_PKG_NAME=name)
        status = subprocess.run([executable, *harness_args], cwd=package_dir, env=env, check=False).returncode
        if status != 0:
            sys.exit(f"test_binaries: {name} {source} failed (exit status {status})")
    print(f"test_binaries: {len(executables)} test executables of {', '.join(names)} passed")


if __name__ == "__main__":
    main()
