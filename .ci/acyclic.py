#!/usr/bin/env python3
"""Fails when a crate's modules import each other in a circle.

Each argument names a crate as PACKAGE[:FEATURES][@BINARY] (its library, or the binary named).
For each, `cargo modules dependencies` draws the crate's
modules and the "uses" edges between them (an item used from another module counts as an edge
between their modules). A module's edges to its own descendants are not counted: a parent owns
its children and re-exports what they define, so its `pub use` of a child is structure, not a
dependency; a child may use what its ancestors define. Every strongly connected component of
more than one module left is a circle: it is printed, with the edges that close it, and the
exit status is 1.

cargo-modules' own `--acyclic` checks the graph of items before it is reduced to modules, where
any type with a method that returns it is a "cycle"; so the modules' graph is checked here.
Circles between crates cannot happen: Cargo refuses them.
"""

import re
import subprocess
import sys
from collections import defaultdict

EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')


def edges(package, features, target):
    command = [
        "cargo", "modules", "dependencies", "-p", package, *target,
        "--no-externs", "--no-sysroot", "--no-fns", "--no-traits", "--no-types",
        "--no-owns", "--layout", "dot",
    ] + features
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    graph = defaultdict(set)
    for line in out.splitlines():
        m = EDGE.match(line)
        if not m:
            continue
        source, target = m.group(1), m.group(2)
        if target != source and not target.startswith(source + "::"):
            graph[source].add(target)
    return graph


def circles(graph):
    """Tarjan's strongly connected components of more than one node."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    nodes = set(graph) | {n for ns in graph.values() for n in ns}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    failed = False
    for spec in sys.argv[1:]:
        spec, _, binary = spec.partition("@")
        package, _, features = spec.partition(":")
        flags = ["--features", features] if features else []
        target = ["--bin", binary] if binary else ["--lib"]
        graph = edges(package, flags, target)
        if binary:
            package = f"{package} (binary {binary})"
        found = circles(graph)
        modules = len(set(graph) | {n for ns in graph.values() for n in ns})
        if not found:
            print(f"{package}: {modules} modules, no import circle")
            continue
        failed = True
        for component in found:
            inside = set(component)
            print(f"{package}: an import circle through {len(component)} modules:")
            for a in component:
                for b in sorted(graph.get(a, ())):
                    if b in inside:
                        print(f"  {a} -> {b}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
