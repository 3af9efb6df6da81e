#!/usr/bin/env python3
"""Keeps the two newest executables of each name in a cargo deps folder (NAME-HASH, no
extension: test binaries and the `ferry` binary) and removes the rest with their `.d` files.
Each change of a crate's hash leaves another executable of 100-400 MB behind otherwise.

Usage: prune_executables.py DEPS_DIR
"""

import collections
import os
import re
import sys

KEEP = 2


def main():
    deps = sys.argv[1]
    groups = collections.defaultdict(list)
    for name in os.listdir(deps):
        path = os.path.join(deps, name)
        match = re.fullmatch(r"(.+)-[0-9a-f]{16}", name)
        if match and os.path.isfile(path) and os.access(path, os.X_OK):
            groups[match.group(1)].append((os.path.getmtime(path), path))
    freed = 0
    for paths in groups.values():
        paths.sort(reverse=True)
        for _, path in paths[KEEP:]:
            freed += os.path.getsize(path)
            os.remove(path)
            if os.path.exists(path + ".d"):
                os.remove(path + ".d")
    print(f"removed {freed / 1e9:.1f} GB of old executables")


if __name__ == "__main__":
    main()
