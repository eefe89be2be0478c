"""Reference pages of the custom resources, written from `crds/*.yaml`.

Each CRD becomes one page: its names and printer columns, then one section per object in
its OpenAPI schema (the root, `spec`, `spec.links`, `spec.groundStations[]`, ...) with a
table of that object's fields (type, required, default, limits, description) and the CEL
rules (`x-kubernetes-validations`) that hang on it, with their messages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubesat.docgen.markdown import banner, cell, code, table

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Node:
    """One field of a schema: its dotted path (`[]` for array items) and its schema."""

    path: str
    schema: Schema
    required: bool


def page_name(crd: Mapping[str, Any]) -> str:
    """`constellation.md` for the Constellation CRD."""
    return f"{crd['spec']['names']['kind'].lower()}.md"


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
        raise ValueError(f"{path}: expected a CustomResourceDefinition")
    return document


def children(node: Node) -> list[Node]:
    """The fields directly under an object (or under the items of an array of objects)."""
    schema = node.schema
    if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        return children(Node(f"{node.path}[]", schema["items"], True))
    required = set(schema.get("required", ()))
    prefix = f"{node.path}." if node.path else ""
    found = [
        Node(f"{prefix}{name}", sub, name in required)
        for name, sub in schema.get("properties", {}).items()
    ]
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        found.append(Node(f"{prefix}<key>", extra, False))
    return found


def owner_path(node: Node) -> str:
    """The path a section is titled with: arrays of objects are titled by their items."""
    items = node.schema.get("items")
    if (
        node.schema.get("type") == "array"
        and isinstance(items, Mapping)
        and items.get("properties")
    ):
        return f"{node.path}[]"
    return node.path


def walk(node: Node) -> Iterator[Node]:
    """Every field under `node`, depth first, in the order of the schema."""
    for child in children(node):
        yield child
        yield from walk(child)


def field_paths(schema: Schema) -> list[str]:
    """Every field path of an openAPIV3Schema (what the reference page must list)."""
    return [node.path for node in walk(Node("", schema, True))]


def type_text(schema: Schema) -> str:
    kind = str(schema.get("type", "any"))
    if kind == "array":
        items = schema.get("items", {})
        inner = "object" if items.get("properties") else str(items.get("type", "any"))
        kind = f"array of {inner}"
    if "format" in schema:
        kind += f" ({schema['format']})"
    return kind


def _number(value: Any) -> str:
    return str(value)


def limits_text(schema: Schema) -> str:
    """Bounds, lengths, enums, patterns and Kubernetes list and field markers."""
    parts: list[str] = []
    if "minimum" in schema:
        op = ">" if schema.get("exclusiveMinimum") else "≥"
        parts.append(f"{op} {_number(schema['minimum'])}")
    if "maximum" in schema:
        op = "<" if schema.get("exclusiveMaximum") else "≤"
        parts.append(f"{op} {_number(schema['maximum'])}")
    if "minLength" in schema:
        parts.append(f"length ≥ {schema['minLength']}")
    if "maxLength" in schema:
        parts.append(f"length ≤ {schema['maxLength']}")
    if "minItems" in schema:
        parts.append(f"≥ {schema['minItems']} items")
    if "maxItems" in schema:
        parts.append(f"≤ {schema['maxItems']} items")
    text = cell("; ".join(parts))
    extra: list[str] = []
    if "enum" in schema:
        extra.append("one of " + ", ".join(code(str(v)) for v in schema["enum"]))
    if "pattern" in schema:
        extra.append("matches " + code(str(schema["pattern"])))
    if schema.get("nullable"):
        extra.append("may be null")
    if "x-kubernetes-list-type" in schema:
        keys = schema.get("x-kubernetes-list-map-keys")
        kind = str(schema["x-kubernetes-list-type"])
        extra.append(
            f"list type {kind}" + (f", keyed by {', '.join(code(k) for k in keys)}" if keys else "")
        )
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        extra.append("keeps unknown fields")
    return "; ".join(part for part in [text, *extra] if part)


def default_text(schema: Schema) -> str:
    if "default" not in schema:
        return ""
    value = schema["default"]
    shown = "true" if value is True else "false" if value is False else str(value)
    return code(shown)


def cel_block(caption: str, expression: object) -> list[str]:
    """A caption, then a CEL expression as a fenced block."""
    return [caption, "", "```text", str(expression), "```", ""]


def rules_section(path: str, schema: Schema) -> list[str]:
    """The CEL rules of one object, each with where its error points and its message."""
    rules = schema.get("x-kubernetes-validations") or []
    lines: list[str] = []
    for number, rule in enumerate(rules, start=1):
        where = f" (error on {code(rule['fieldPath'])})" if "fieldPath" in rule else ""
        subject = code(path) if path else "the object"
        lines += cel_block(f"Rule {number} on {subject}{where}:", rule["rule"])
        if "message" in rule:
            lines += [f"Message: {cell(str(rule['message']))}", ""]
        if "messageExpression" in rule:
            lines += cel_block("Message expression:", rule["messageExpression"])
        if "reason" in rule:
            lines += [f"Reason: {code(str(rule['reason']))}", ""]
    return lines


def object_section(node: Node) -> list[str]:
    """A heading, the object's description, its fields' table and its rules."""
    title = owner_path(node)
    lines = [f"### {code(title) if title else 'Top level'}", ""]
    description = node.schema.get("description")
    if description and title:  # the root's description opens the page
        lines += [cell(str(description)), ""]
    rows = [
        [
            code(child.path),
            cell(type_text(child.schema)),
            "yes" if child.required else "",
            default_text(child.schema),
            limits_text(child.schema),
            cell(str(child.schema.get("description", ""))),
        ]
        for child in children(node)
    ]
    if rows:
        lines += table(["field", "type", "required", "default", "limits", "description"], rows)
        lines.append("")
    rules = node.schema.get("x-kubernetes-validations")
    if node.schema.get("type") == "array" and isinstance(node.schema.get("items"), Mapping):
        rules = node.schema["items"].get("x-kubernetes-validations") or rules
    if rules:
        lines += rules_section(title, {"x-kubernetes-validations": rules})
    return lines


def sections(root: Node) -> Iterator[list[str]]:
    """One section per object that has fields, the root first."""
    yield object_section(root)
    for node in walk(root):
        if children(node) or node.schema.get("x-kubernetes-validations"):
            yield object_section(node)


def render(crd: Mapping[str, Any], source: str) -> str:
    """The Markdown page of one CRD."""
    names = crd["spec"]["names"]
    spec = crd["spec"]
    lines = [banner([source]), "", f"# {names['kind']}", ""]
    for version in spec["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        facts = [
            f"API version {code(spec['group'] + '/' + version['name'])}",
            f"kind {code(names['kind'])}",
            f"resource {code(crd['metadata']['name'])}",
            "namespaced" if spec.get("scope") == "Namespaced" else "cluster-scoped",
        ]
        if names.get("shortNames"):
            facts.append("short names " + ", ".join(code(n) for n in names["shortNames"]))
        if names.get("categories"):
            facts.append("categories " + ", ".join(code(c) for c in names["categories"]))
        if "status" in version.get("subresources", {}):
            facts.append("status subresource")
        if not version.get("served", True):
            facts.append("not served")
        lines += [
            "; ".join(facts) + f". Source: {code(source)}.",
            "",
            cell(str(schema.get("description", ""))),
            "",
        ]
        columns = version.get("additionalPrinterColumns") or []
        if columns:
            lines += ["## Columns of `kubectl get`", ""]
            rows = [
                [
                    cell(str(c["name"])),
                    cell(type_text(c)),
                    code(str(c["jsonPath"])),
                    cell(str(c.get("description", ""))),
                ]
                for c in columns
            ]
            lines += table(["column", "type", "JSON path", "description"], rows)
            lines.append("")
        lines += ["## Fields", ""]
        for section in sections(Node("", schema, True)):
            lines += section
    return "\n".join(lines).rstrip() + "\n"


def render_all(crd_dir: Path, root: Path) -> dict[str, str]:
    """Page name -> Markdown for every CRD in `crd_dir` (paths shown relative to `root`)."""
    pages: dict[str, str] = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        crd = load(path)
        pages[page_name(crd)] = render(crd, path.relative_to(root).as_posix())
    return pages
