"""The docs travel with the code: every relative link in the README, worldsim/docs/, the notebooks and the
experiments' results.md resolves to a file in the repository (and to a heading, where it names one); the package
and its help texts point to worldsim/docs/design.md and worldsim/docs/eval.md, which are package data (an installed
worldsim has them), never to documents outside the repository. Reads files only: fast.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "worldsim" / "docs"  # package data (pyproject.toml), so `pip install .` ships them
MARKDOWN = sorted([ROOT / "README.md", *DOCS.glob("*.md"), *(ROOT / "experiments").glob("*/results.md")])
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PACKAGE_TEXT = sorted(p for p in (ROOT / "worldsim").rglob("*")
                      if p.is_file() and p.suffix in {".py", ".md", ".txt", ".html", ".js", ".css"})
OUTSIDE = ("shared folder", "team's shared", "../shared")  # documents a user of the repository does not have
OLD_NAMES = re.compile(r"\b(DESIGN|EVAL)\.md\b")  # the team-internal documents worldsim/docs/*.md replace
# Files outside this change that still name DESIGN.md / EVAL.md; fix each and take it off this list.

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code: what renders as text and links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text lowercased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        s = slug(title)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def links(markdown: str) -> list[str]:
    text = prose(markdown)
    return LINK.findall(text) + REFERENCE.findall(text)


def broken(source: Path, target: str) -> str | None:
    """Why a link from `source` to `target` does not resolve inside the repository, or None when it does."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:: not checked here
        return None
    path, _, anchor = target.partition("#")
    dest = source if not path else (source.parent / path).resolve()
    try:
        dest.relative_to(ROOT)
    except ValueError:
        return f"{target!r} points outside the repository"
    if not dest.exists():
        return f"{target!r}: {rel(dest) if dest.is_relative_to(ROOT) else dest} does not exist"
    if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
        return f"{target!r}: {rel(dest)} has no heading with the anchor #{anchor}"
    return None


def notebook_markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                       for c in cells if c["cell_type"] == "markdown")


def test_the_documents_exist():
    for name in ("design.md", "eval.md"):
        assert (DOCS / name).is_file(), f"worldsim/docs/{name} is missing"


def test_the_documents_are_package_data():
    """The docs are found through the installed package (importlib.resources, as the help texts find them), and
    pyproject.toml's package-data ships every one of them in a wheel (`pip install .`, not only editable)."""
    for name in ("design.md", "eval.md"):
        assert (files("worldsim") / "docs" / name).is_file(), name
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["worldsim"]
    docs = [p.relative_to(ROOT / "worldsim").as_posix() for p in DOCS.glob("*.md")]
    assert docs and all(any(fnmatch.fnmatch(d, g) for g in globs) for d in docs), (docs, globs)
    assert not (ROOT / "docs" / "eval.md").exists() and not (ROOT / "docs" / "design.md").exists()  # one copy


@pytest.mark.parametrize("path", MARKDOWN, ids=rel)
def test_markdown_links_resolve(path):
    bad = [why for target in links(path.read_text(encoding="utf-8")) if (why := broken(path, target))]
    assert not bad, f"{rel(path)}: broken links:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_notebook_links_resolve(path):
    bad = [why for target in links(notebook_markdown(path)) if (why := broken(path, target))]
    assert not bad, f"{rel(path)}: broken links in markdown cells:\n  " + "\n  ".join(bad)


def test_repository_paths_in_readme_and_docs_exist():
    """`worldsim/...`, `experiments/...` etc. in backticks name files or folders that exist (from the root)."""
    path_like = re.compile(r"`((?:worldsim|experiments|notebooks|tests|docs)/[A-Za-z0-9_./-]*)`")
    bad = []
    for path in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for name in path_like.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
            p = ROOT / name
            if re.search(r"-v\d+$", name):  # a Gymnasium id (worldsim/WorldSim-v0), not a path
                continue
            if not (p.exists() or list(p.parent.glob(p.name + ".*"))):  # notebooks are named without a suffix
                bad.append(f"{rel(path)}: `{name}`")
    assert not bad, "paths that do not exist:\n  " + "\n  ".join(bad)


DOC_REF = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")  # docs/NAME.md or worldsim/docs/NAME.md, #anchor


def bad_doc_refs(text: str, where: str) -> list[str]:
    bad = []
    for name, anchor in DOC_REF.findall(text):
        dest = DOCS / name
        if not dest.is_file():
            bad.append(f"{where}: docs/{name} does not exist")
        elif anchor and anchor not in anchors(dest):
            bad.append(f"{where}: docs/{name} has no heading #{anchor}")
    return bad


def test_package_points_to_docs_that_exist():
    """docs/NAME.md (with an optional #anchor) named in the package's help texts and docstrings exists."""
    bad = [b for path in PACKAGE_TEXT for b in bad_doc_refs(path.read_text(encoding="utf-8"), rel(path))]
    assert not bad, "\n".join(bad)


def help_texts() -> dict[str, str]:
    """`worldsim [COMMAND [ACTION]] --help` as printed, for the command and every subcommand."""
    import argparse

    from worldsim.cli import build_parser

    out, todo = {}, [("worldsim", build_parser())]
    while todo:
        name, parser = todo.pop()
        out[name] = parser.format_help()
        for action in parser._actions:  # argparse keeps subparsers here; no public accessor
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {sub}", p) for sub, p in action.choices.items()]
    return out


def test_help_texts_point_to_docs_that_exist():
    """The printed help names docs that exist, and a printed path to a document (`worldsim eval --help` prints where
    the installed eval.md is) is a file."""
    texts = help_texts()
    assert {"worldsim", "worldsim eval", "worldsim train", "worldsim worlds sample"} <= set(texts)
    bad = [b for name, text in texts.items() for b in bad_doc_refs(text, f"`{name} --help`")]
    printed = [(name, p) for name, text in texts.items() for p in re.findall(r"(?<!\S)(/\S+\.md)\b", text)]
    bad += [f"`{name} --help`: {p} does not exist" for name, p in printed if not Path(p).is_file()]
    assert not bad, "\n".join(bad)
    assert str(files("worldsim") / "docs" / "eval.md") in texts["worldsim eval"].replace("\n", "")


def test_nothing_points_outside_the_repository():
    bad = [f"{rel(p)}: {phrase!r}" for p in [ROOT / "README.md", *PACKAGE_TEXT]
           for phrase in OUTSIDE if phrase in p.read_text(encoding="utf-8").lower()]
    assert not bad, "documents a user does not have:\n  " + "\n  ".join(bad)


def test_old_document_names_are_gone():
    """DESIGN.md and EVAL.md lived in the team's shared folder; the repository has docs/design.md and docs/eval.md."""
    files = [*MARKDOWN, *(ROOT / "notebooks").glob("*.py"), *NOTEBOOKS, *(ROOT / "experiments").rglob("*.py"),
             *PACKAGE_TEXT]
    bad = [f"{rel(p)}:{n}: {line.strip()}" for p in files for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if OLD_NAMES.search(line)]
    assert not bad, "use docs/design.md or docs/eval.md instead:\n  " + "\n  ".join(bad)


def test_cli_flags_named_in_the_docs_exist():
    """Every --flag the docs name is one the `worldsim` command (or the script they show it with) accepts."""
    cli = (ROOT / "worldsim" / "cli.py").read_text(encoding="utf-8")
    known = set(re.findall(r"\"(--[a-z][a-z-]*)\"", cli)) | {"--help"}
    known |= {"--no-" + f[2:] for f in known if re.search(rf"\"{f}\", action=argparse.BooleanOptionalAction", cli)}
    bad = []
    for path in sorted(DOCS.glob("*.md")):
        for flag in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", path.read_text(encoding="utf-8")))):
            if flag not in known:
                bad.append(f"{rel(path)}: {flag}")
    assert not bad, "flags the CLI does not have:\n  " + "\n  ".join(bad)
