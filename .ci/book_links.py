#!/usr/bin/env python3
"""Checks what mdbook-linkcheck2 leaves out: every `#anchor` a page of the built book links to
exists in the page it names, and every relative link in README.md names a file of the
repository (and, with `#anchor`, a heading in it).

Usage: book_links.py HTML_DIR README
"""

import html
import os
import re
import sys
from urllib.parse import unquote, urlsplit

HREF = re.compile(r'href="([^"]*)"')
ID = re.compile(r'\bid="([^"]*)"')


def ids_of(path, cache={}):
    if path not in cache:
        with open(path, encoding="utf-8") as f:
            cache[path] = {html.unescape(i) for i in ID.findall(f.read())}
    return cache[path]


def check_book(root):
    problems = []
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".html") or name == "print.html":
                continue
            page = os.path.join(folder, name)
            with open(page, encoding="utf-8") as f:
                text = f.read()
            for href in HREF.findall(text):
                href = html.unescape(href)
                parts = urlsplit(href)
                if parts.scheme or href.startswith("//") or not parts.fragment:
                    continue
                target = page if not parts.path else os.path.normpath(
                    os.path.join(folder, unquote(parts.path)))
                if not target.endswith(".html") or not os.path.exists(target):
                    continue
                if unquote(parts.fragment) not in ids_of(target):
                    problems.append(f"{os.path.relpath(page, root)}: no #{parts.fragment} in "
                                    f"{os.path.relpath(target, root)}")
    return problems


def github_anchor(heading):
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def check_readme(readme):
    problems = []
    base = os.path.dirname(os.path.abspath(readme))
    with open(readme, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        parts = urlsplit(link)
        if parts.scheme:
            continue
        target = os.path.join(base, unquote(parts.path)) if parts.path else readme
        if not os.path.exists(target):
            problems.append(f"README.md: {link}: no such file")
            continue
        if parts.fragment and target.endswith(".md"):
            with open(target, encoding="utf-8") as f:
                anchors = {github_anchor(h) for h in re.findall(r"^#+ (.*)$", f.read(), re.M)}
            if parts.fragment not in anchors:
                problems.append(f"README.md: {link}: no such heading")
    return problems


def main():
    html_dir, readme = sys.argv[1], sys.argv[2]
    problems = check_book(html_dir) + check_readme(readme)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(f"{len(problems)} broken link(s)")
    print("every anchor and README link resolves")


if __name__ == "__main__":
    main()
