#!/usr/bin/env python3
"""Extracts the C++ examples of rcache's Markdown docs into a CMake project
that builds them against an installed rcache (tests/docs/check.sh runs it).

Every ```cpp block is one of:
  - a whole program (it has `int main(`): compiled as it is, and run;
  - a fragment, preceded by `<!-- doc-test: context NAME -->`: compiled
    inside tests/docs/contexts/NAME.cpp, which gives it the names it uses
    (its #include lines go to the top of the file);
  - preceded by `<!-- doc-test: not compiled: REASON -->`: left out, and the
    reason printed.
A block that is none of these fails the test, so no example goes unchecked.

Usage: doc_examples.py OUT_DIR REDIS_URL FILE.md...
Writes OUT_DIR/CMakeLists.txt and one .cpp per program / per document's
fragments, and OUT_DIR/programs.txt (the executables to run). In programs,
the docs' address "redis://localhost:6379" becomes REDIS_URL (the test's
own server).
"""
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
DIRECTIVE = re.compile(r"<!--\s*doc-test:\s*(.*?)\s*-->")


def blocks(path):
    """(line number, directive or None, code) for each ```cpp block."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            start, directive = i + 1, None
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            if j >= 0:
                m = DIRECTIVE.search(lines[j])
                if m:
                    directive = m.group(1)
            i += 1
            code = []
            while i < len(lines) and lines[i].strip() != "```":
                code.append(lines[i])
                i += 1
            out.append((start, directive, "\n".join(code) + "\n"))
        i += 1
    return out


def context(name):
    text = (HERE / "contexts" / f"{name}.cpp").read_text()
    prelude, _, wrapper = text.partition("// ---- block ----\n")
    if "@BLOCK@" not in wrapper:
        raise SystemExit(f"contexts/{name}.cpp: no '// ---- block ----' line and @BLOCK@")
    return prelude, wrapper


def main():
    out = pathlib.Path(sys.argv[1])
    url = sys.argv[2]
    out.mkdir(parents=True, exist_ok=True)
    programs, sources, errors = [], [], []
    for md in map(pathlib.Path, sys.argv[3:]):
        includes, preludes, bodies = [], [], []
        stem = re.sub(r"\W", "_", md.stem.lower())
        for n, (line, directive, code) in enumerate(blocks(md)):
            where = f"{md.name}:{line}"
            if directive and directive.startswith("not compiled:"):
                print(f"doc-test: {where}: {directive}")
                continue
            if directive is None and re.search(r"\bint\s+main\s*\(", code):
                name = f"{stem}_{line}"
                code = code.replace('"redis://localhost:6379"', f'"{url}"')
                (out / f"{name}.cpp").write_text(f"#line {line + 1} \"{md}\"\n{code}")
                programs.append(name)
                sources.append((name, [f"{name}.cpp"]))
                continue
            m = re.fullmatch(r"context\s+([\w-]+)", directive or "")
            if not m:
                errors.append(f"{where}: a cpp block needs int main(), "
                              "<!-- doc-test: context NAME --> or "
                              "<!-- doc-test: not compiled: REASON -->")
                continue
            prelude, wrapper = context(m.group(1))
            if prelude not in preludes:
                preludes.append(prelude)
            kept = []
            for text in code.splitlines():
                (includes if text.startswith("#include") else kept).append(text)
            body = f"#line {line + 1} \"{md}\"\n" + "\n".join(kept) + "\n"
            bodies.append(f"namespace block_{n} {{\n{wrapper.replace('@BLOCK@', body)}\n}}\n")
        if bodies:
            name = f"{stem}_fragments"
            text = "\n".join(dict.fromkeys(includes)) + "\n" + "".join(preludes)
            # In an unnamed namespace: internal linkage for every block's names.
            text += "namespace {\n" + "".join(bodies) + "}  // namespace\nint main() {}\n"
            (out / f"{name}.cpp").write_text(text)
            sources.append((name, [f"{name}.cpp"]))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    cmake = ["cmake_minimum_required(VERSION 3.25)",
             "project(rcache_doc_examples LANGUAGES CXX)",
             "set(CMAKE_CXX_STANDARD 20)",
             "find_package(rcache CONFIG REQUIRED)"]
    for name, files in sources:
        cmake.append(f"add_executable({name} {' '.join(files)})")
        cmake.append(f"target_link_libraries({name} PRIVATE rcache::rcache)")
    (out / "CMakeLists.txt").write_text("\n".join(cmake) + "\n")
    (out / "programs.txt").write_text("".join(p + "\n" for p in programs))
    print(f"doc-test: {len(programs)} programs, "
          f"{sum(1 for n, _ in sources if n.endswith('_fragments'))} fragment files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
