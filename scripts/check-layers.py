#!/usr/bin/env python3
"""Checks that pricepipe's includes follow its layers and form no cycle.

  scripts/check-layers.py LAYERS_TXT [SOURCE_DIR]   check the tree (CTest: layer_check)
  scripts/check-layers.py --self-test               show that breakages are caught

LAYERS_TXT is the table src/CMakeLists.txt writes to the build tree (build/layers.txt): one
"layer: layers below it" line per layer, bottom first. That CMake file is the one place the
order is written; this script only reads it. A file in src/LAYER/ or include/pricepipe/LAYER/
may include the headers of LAYER and of every layer it reaches downwards, nothing else. It
fails, naming the file and line, on:
  - an include of a layer that is not below (an upward or sideways include),
  - an include of a pricepipe header that does not exist,
  - a source or header outside every layer (only src/main.cpp and the TSan shim sit on top),
  - a cycle in the table, or a cycle of includes between files, inside a layer or across.
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
TOP_LEVEL = {"src/main.cpp", "src/tsan_c11_threads.c"}
SOURCE_SUFFIXES = (".cpp", ".hpp", ".c", ".h")


def read_table(path):
    """The layer table as {layer: [layers directly below]}, in file order."""
    table = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            name, sep, below = line.partition(":")
            if not sep or not name.strip():
                raise SystemExit(f"{path}:{number}: not a 'layer: layers below' line: {line.rstrip()}")
            table[name.strip()] = below.split()
    return table


def reach(table):
    """Each layer with every layer it reaches downwards (itself included); errors for cycles."""
    errors, done = [], {}

    def visit(layer, path):
        if layer in done:
            return done[layer]
        if layer in path:
            cycle = path[path.index(layer):] + [layer]
            errors.append("layer cycle in the table: " + " -> ".join(cycle))
            return {layer}
        if layer not in table:
            errors.append(f"layer '{path[-1]}' names '{layer}' below it, which is not a layer")
            return {layer}
        result = {layer}
        for below in table[layer]:
            result |= visit(below, path + [layer])
        done[layer] = result
        return result

    for layer in table:
        visit(layer, [])
    return done, errors


def layer_of(rel, layers):
    """The layer a repository-relative path belongs to, or None."""
    parts = rel.split("/")
    if parts[0] == "src" and len(parts) == 3 and parts[1] in layers:
        return parts[1]
    if parts[:2] == ["include", "pricepipe"] and len(parts) == 4 and parts[2] in layers:
        return parts[2]
    return None


def project_files(root):
    for top in ("src", "include"):
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith(SOURCE_SUFFIXES):
                    yield os.path.relpath(os.path.join(folder, name), root)


def resolve(root, rel, target):
    """The repository-relative file an #include "target" in rel names, or None if not ours."""
    local = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if os.path.isfile(os.path.join(root, local)):
        return local
    if target.startswith("pricepipe/"):
        return "include/" + target
    return None


def check(root, table):
    reaches, errors = reach(table)
    graph = {}
    for rel in project_files(root):
        layer = layer_of(rel, table)
        if layer is None and rel not in TOP_LEVEL:
            errors.append(f"{rel}: not in a layer folder (src/LAYER/ or include/pricepipe/LAYER/)")
        graph[rel] = []
        with open(os.path.join(root, rel), errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                if target == "pricepipe/version.hpp":  # generated into the build tree for main.cpp
                    continue
                dep = resolve(root, rel, target)
                if dep is None:
                    continue
                if not os.path.isfile(os.path.join(root, dep)):
                    errors.append(f"{rel}:{number}: includes {target}, which does not exist")
                    continue
                graph[rel].append((dep, number))
                dep_layer = layer_of(dep, table)
                if layer is not None and dep_layer is not None and dep_layer not in reaches.get(layer, {layer}):
                    errors.append(f"{rel}:{number}: layer '{layer}' includes {target} of layer "
                                  f"'{dep_layer}', which is not below it (below it: "
                                  f"{', '.join(sorted(reaches.get(layer, {layer}) - {layer})) or 'nothing'})")
    errors += file_cycles(graph)
    return errors


def file_cycles(graph):
    """One error per include cycle between files (depth-first search, each cycle once)."""
    errors, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for dep, number in graph.get(node, []):
            if state.get(dep) == "open":
                cycle = path[path.index(dep):] + [dep]
                errors.append("include cycle: " + " -> ".join(cycle))
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return errors


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def self_test():
    """A small tree that passes, then one breakage at a time, each of which must be caught."""
    table = {"base": [], "mid": ["base"], "side": ["base"], "top": ["mid", "side"]}
    good = {
        "src/main.cpp": '#include "pricepipe/top/t.hpp"\n#include "pricepipe/version.hpp"\n',
        "include/pricepipe/base/b.hpp": "#pragma once\n",
        "include/pricepipe/mid/m.hpp": '#pragma once\n#include "pricepipe/base/b.hpp"\n',
        "include/pricepipe/side/s.hpp": '#pragma once\n#include "pricepipe/base/b.hpp"\n',
        "include/pricepipe/top/t.hpp": '#pragma once\n#include "pricepipe/mid/m.hpp"\n#include "pricepipe/side/s.hpp"\n',
        "src/mid/m.cpp": '#include "pricepipe/mid/m.hpp"\n#include "private.hpp"\n',
        "src/mid/private.hpp": "#pragma once\n#include <vector>\n",
        "src/top/t.cpp": '#include "pricepipe/top/t.hpp"\n#include "pricepipe/base/b.hpp"\n',
    }
    cases = [
        ("an upward include", {"src/mid/m.cpp": '#include "pricepipe/top/t.hpp"\n'}, None,
         "layer 'mid' includes pricepipe/top/t.hpp of layer 'top'"),
        ("a sideways include", {"include/pricepipe/mid/m.hpp": '#include "pricepipe/side/s.hpp"\n'}, None,
         "layer 'mid' includes pricepipe/side/s.hpp of layer 'side'"),
        ("a missing header", {"src/top/t.cpp": '#include "pricepipe/mid/gone.hpp"\n'}, None,
         "does not exist"),
        ("a file outside the layers", {"src/stray.cpp": "int x;\n"}, None, "src/stray.cpp: not in a layer"),
        ("an include cycle inside a layer",
         {"include/pricepipe/base/b.hpp": '#include "pricepipe/base/c.hpp"\n',
          "include/pricepipe/base/c.hpp": '#include "pricepipe/base/b.hpp"\n'}, None,
         "include cycle: include/pricepipe/base/b.hpp -> include/pricepipe/base/c.hpp -> include/pricepipe/base/b.hpp"),
        ("a cycle in the table", {}, {"base": ["top"]}, "layer cycle in the table"),
    ]
    failures = []
    with tempfile.TemporaryDirectory() as root:
        for rel, text in good.items():
            write(root, rel, text)
        clean = check(root, table)
        if clean:
            failures.append(f"the clean tree was refused: {clean}")
    for what, files, table_change, expected in cases:
        with tempfile.TemporaryDirectory() as root:
            for rel, text in {**good, **files}.items():
                write(root, rel, text)
            errors = check(root, {**table, **(table_change or {})})
            if not any(expected in e for e in errors):
                failures.append(f"{what} was not caught (expected '{expected}', got {errors})")
            else:
                print(f"self-test: {what}: caught")
    for failure in failures:
        print(f"self-test FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 64
    root = argv[2] if len(argv) == 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    table = read_table(argv[1])
    errors = check(root, table)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        return 1
    print(f"{len(table)} layers ({', '.join(table)}): every include points down, no include cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
