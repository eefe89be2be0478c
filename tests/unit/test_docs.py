"""The documentation: a short README, a site whose pages exist by reader, and reference pages
that are generated and current.

- the committed pages under docs/reference/ are what `python -m kubesat.docgen` writes
  from the sources now (`make reference` rewrites them);
- each reference page is checked against its source by another route than the generator:
  every property path of every CRD and every CEL rule (read from the YAML here), every
  `kubesat_*` name in metrics.py (read from its syntax tree) and every family a scrape
  shows, every subcommand and option string of the parsers (read from their syntax trees);
- README.md is under 200 lines and opens with the two commands; its links into docs/ and
  its images exist;
- mkdocs.yml lists every page by reader and nothing else, and `mkdocs build --strict`
  passes (no broken link or anchor, no page left out). Without mkdocs the build test
  skips on a laptop and fails under CI=true.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesat import docgen
from tests.support.prerequisites import missing

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
README = ROOT / "README.md"
PACKAGE = ROOT / "operator" / "kubesat"
PARSER_SOURCES = [
    PACKAGE / "cli.py",
    PACKAGE / "sim" / "commands.py",
    PACKAGE / "k8s" / "commands.py",
]

# The pages the site must have, by reader (the list).
PAGES_BY_READER = {
    "Getting started": [
        "getting-started/two-commands.md",
        "getting-started/first-simulation.md",
        "getting-started/first-cluster.md",
    ],
    "Concepts": [
        "concepts/physics.md",
        "concepts/forecast.md",
        "concepts/heat.md",
        "concepts/ground-links.md",
        "concepts/laser-links.md",
        "concepts/gangs.md",
        "concepts/engine.md",
        "concepts/policies.md",
        "concepts/job-controller.md",
    ],
    "Operator guide": [
        "operator/install.md",
        "kind.md",
        "operator/kubectl.md",
        "operator/metrics.md",
        "operator/dashboards.md",
        "operator/guarantees.md",
    ],
    "Sizing guide": [
        "sizing/simulate.md",
        "sizing/sweeps.md",
        "sizing/mega-constellations.md",
        "sizing/examples.md",
    ],
    "Reference": [
        "reference/index.md",
        "reference/constellation.md",
        "reference/satellite.md",
        "reference/groundstation.md",
        "reference/metrics.md",
        "reference/cli.md",
    ],
    "Development": [
        "development/tests.md",
        "development/benchmarks.md",
        "development/layout.md",
        "development/docs.md",
    ],
}


def reference_page(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


# -- generated pages are current --------------------------------------------------------
def test_reference_pages_are_current():
    stale = []
    for name, text in docgen.render_all(ROOT).items():
        path = REFERENCE / name
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if committed != text:
            diff = difflib.unified_diff(
                committed.splitlines(), text.splitlines(), f"{name} (committed)", name, lineterm=""
            )
            stale.append("\n".join(list(diff)[:30]))
    assert not stale, "docs/reference is stale: run `make reference`\n" + "\n".join(stale)


def test_every_generated_page_is_in_the_reference_directory():
    generated = set(docgen.render_all(ROOT))
    on_disk = {p.name for p in REFERENCE.glob("*.md")} - {"index.md"}
    assert on_disk == generated


# -- CRDs: every field and every rule ---------------------------------------------------
def crd_fields(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every property path of an OpenAPI schema, `[]` marking array items."""
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        yield from crd_fields(schema["items"], f"{prefix}[]")
        return
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        yield from crd_fields(sub, path)


def crd_rules(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield from schema.get("x-kubernetes-validations", [])
        for key in ("properties",):
            for sub in schema.get(key, {}).values():
                yield from crd_rules(sub)
        if isinstance(schema.get("items"), dict):
            yield from crd_rules(schema["items"])


def crds() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, yaml.safe_load(path.read_text())) for path in sorted((ROOT / "crds").glob("*.yaml"))
    ]


@pytest.mark.parametrize("path, crd", crds(), ids=lambda v: getattr(v, "name", ""))
def test_crd_reference_lists_every_field_and_rule(path, crd):
    page = reference_page(f"{crd['spec']['names']['kind'].lower()}.md")
    for version in crd["spec"]["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        fields = list(crd_fields(schema))
        assert len(fields) > 5
        absent = [field for field in fields if f"| `{field}` |" not in page]
        assert not absent, f"{path.name}: fields missing from the reference: {absent}"
        for rule in crd_rules(schema):
            assert rule["rule"] in page, f"{path.name}: CEL rule missing: {rule['rule']}"
        for column in version.get("additionalPrinterColumns", []):
            assert f"`{column['jsonPath']}`" in page
    assert "`spec.hardware.batteryWh`" in page or crd["spec"]["names"]["kind"] != "Constellation"


# -- metrics: every family --------------------------------------------------------------
def metric_names_in_source() -> set[str]:
    """Every string literal of metrics.py that is a whole kubesat_* metric name."""
    tree = ast.parse((PACKAGE / "metrics.py").read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"kubesat_[a-z0-9_]+", node.value)
    }


def test_metrics_reference_lists_every_name_in_the_source():
    page = reference_page("metrics.md")
    names = metric_names_in_source()
    assert len(names) >= 30
    absent = [n for n in sorted(names) if f"`{n}`" not in page and f"`{n}_total`" not in page]
    assert not absent, f"metrics.py names missing from docs/reference/metrics.md: {absent}"


def test_metrics_reference_lists_every_family_a_scrape_shows():
    from prometheus_client import CollectorRegistry, generate_latest

    from kubesat.metrics import FleetCollector, OperatorMetrics

    registry = CollectorRegistry()
    registry.register(FleetCollector(version="test"))
    OperatorMetrics(registry)
    text = generate_latest(registry).decode()
    families = re.findall(r"^# TYPE (kubesat_\w+) (\w+)$", text, re.MULTILINE)
    # prometheus_client adds a `_created` gauge beside labelled histograms: not a family
    families = [(name, kind) for name, kind in families if not name.endswith("_created")]
    assert len(families) >= 30
    page = reference_page("metrics.md")
    absent = [
        (name, kind) for name, kind in families if not re.search(rf"\| `{name}` \| {kind} \|", page)
    ]
    assert not absent, f"families missing (or of another type) in the reference: {absent}"


# -- CLI: every subcommand and option ---------------------------------------------------
def parser_strings() -> tuple[set[str], set[str], set[str]]:
    """Subcommand names, option strings and positional names the parser sources declare."""
    commands: set[str] = set()
    options: set[str] = set()
    positionals: set[str] = set()
    for source in PARSER_SOURCES:
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if node.func.attr == "add_parser" and args:
                commands.add(args[0])
            elif node.func.attr == "add_argument" and args:
                if str(args[0]).startswith("-"):
                    options.update(args)
                else:
                    positionals.add(args[0])
    return commands, options, positionals


def test_cli_reference_lists_every_subcommand_and_option():
    commands, options, positionals = parser_strings()
    assert {"forecast", "simulate", "sweep", "operator"} <= commands
    assert len(options) >= 30
    page = reference_page("cli.md")
    for command in commands:
        assert f"## `kubesat {command}`" in page, command
    absent = [
        o for o in sorted(options) if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", page)
    ]
    assert not absent, f"options missing from docs/reference/cli.md: {absent}"
    for name in positionals:
        assert f"| `{name}` |" in page, name


def test_cli_reference_sections_follow_the_parser():
    from kubesat.cli import build_parser
    from kubesat.docgen.cli import subcommands

    page = reference_page("cli.md")
    for name, parser in subcommands(build_parser()).items():
        section = page.split(f"## `kubesat {name}`", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in section, f"kubesat {name}: {option}"


# -- README -----------------------------------------------------------------------------
def test_readme_is_short_and_opens_with_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines; move detail into docs/"
    assert lines[0] == "# kubesat"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[0] == "## Two commands"
    before = lines[1 : lines.index("## Two commands")]
    # only the description and the picture come before the two commands
    assert not any(line.startswith(("#", "```", "|")) for line in before)
    assert sum(line.startswith("![") for line in before) == 1
    section = "\n".join(lines[lines.index("## Two commands") : lines.index(headings[1])])
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the two commands come as one bash block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make simulate", "make test"]


def markdown_targets(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_readme_links_and_images_point_into_the_site():
    text = README.read_text(encoding="utf-8")
    targets = [t for t in markdown_targets(text) if not t.startswith(("http://", "https://"))]
    assert len(targets) >= 20
    nav = set(nav_pages())
    for target in targets:
        path = target.split("#")[0]
        assert path.startswith("docs/"), f"README link {target}: link into docs/"
        assert (ROOT / path).is_file(), f"README link {target}: no such file"
        if path.endswith(".md"):
            assert path.removeprefix("docs/") in nav, f"README link {target}: not in the nav"


def test_every_image_is_shown_on_a_page():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    readme = README.read_text(encoding="utf-8")
    images = sorted((DOCS / "images").glob("*.png"))
    assert len(images) >= 4
    for image in images:
        assert f"images/{image.name})" in pages, f"{image.name} is shown on no page"
    shown = [t for t in markdown_targets(readme) if t.startswith("docs/images/")]
    assert "docs/images/timeline.png" in shown
    for target in shown:
        assert (ROOT / target).is_file(), target


# -- the site ---------------------------------------------------------------------------
def mkdocs_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def walk_nav(entries: Any) -> Iterator[tuple[str | None, str]]:
    """(section title, page) for every page of the nav."""
    for entry in entries:
        if isinstance(entry, str):
            yield None, entry
            continue
        for title, value in entry.items():
            if isinstance(value, str):
                yield None, value
            else:
                for _, page in walk_nav(value):
                    yield title, page


def nav_pages() -> list[str]:
    return [page for _, page in walk_nav(mkdocs_config()["nav"])]


def test_nav_lists_every_page_by_reader():
    config = mkdocs_config()
    assert config["theme"]["name"] == "material"
    assert config["docs_dir"] == "docs"
    sections: dict[str | None, list[str]] = {}
    for section, page in walk_nav(config["nav"]):
        sections.setdefault(section, []).append(page)
    for reader, pages in PAGES_BY_READER.items():
        assert reader in sections, f"no nav section {reader!r}"
        assert set(pages) <= set(sections[reader]), (reader, set(pages) - set(sections[reader]))
        for page in pages:
            assert (DOCS / page).is_file(), page
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    listed = nav_pages()
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert set(listed) == on_disk, (sorted(on_disk - set(listed)), sorted(set(listed) - on_disk))


def test_site_builds_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        missing("mkdocs and mkdocs-material are not installed (pip install -e '.[docs]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    result = subprocess.run(
        build, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for page in nav_pages():
        built = site / (page.removesuffix(".md").removesuffix("index") + "/index.html")
        built = site / "index.html" if page == "index.md" else built
        assert built.is_file(), page
    for image in (DOCS / "images").glob("*.png"):
        assert (site / "images" / image.name).is_file()
