"""Reference page of the `kubesat` command, written from its argparse parsers.

`kubesat.cli.build_parser` builds the whole command (forecast in `cli.py`, simulate and
sweep in `sim/commands.py`, operator in `k8s/commands.py`); this walks every subcommand
and every option of it. The usage lines are composed here rather than taken from
argparse's formatter, whose wrapping depends on the terminal and the Python version.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import PurePath

from kubesat.cli import build_parser
from kubesat.docgen.markdown import banner, cell, code, table

SOURCES = (
    "operator/kubesat/cli.py",
    "operator/kubesat/sim/commands.py",
    "operator/kubesat/k8s/commands.py",
)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Name -> parser of each subcommand, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Name -> the one-line help `kubesat --help` shows for each subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def documented(action: argparse.Action) -> bool:
    return not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)


def takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, str):
        return action.metavar
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest if not action.option_strings else action.dest.upper()


def invocation(action: argparse.Action) -> str:
    """`--policy {none,reactive,predictive,all}`, `-n NS, --namespace NS`, `file`."""
    if not action.option_strings:
        return metavar(action)
    value = f" {metavar(action)}" if takes_value(action) else ""
    return ", ".join(f"{option}{value}" for option in action.option_strings)


def _usage_part(action: argparse.Action) -> str:
    if not action.option_strings:
        return metavar(action)
    longest = max(action.option_strings, key=len)
    value = f" {metavar(action)}" if takes_value(action) else ""
    return f"{longest}{value}"


def usage(name: str, parser: argparse.ArgumentParser) -> str:
    """One usage line: required options bare, others in brackets, exclusive groups joined."""
    grouped: dict[int, argparse._MutuallyExclusiveGroup] = {}
    for group in parser._mutually_exclusive_groups:
        for action in group._group_actions:
            grouped[id(action)] = group
    done: set[int] = set()
    optional: list[str] = []
    positional: list[str] = []
    for action in parser._actions:
        if not documented(action) or id(action) in done:
            continue
        exclusive = grouped.get(id(action))
        if exclusive is not None:
            members = [a for a in exclusive._group_actions if documented(a)]
            done.update(id(a) for a in members)
            joined = " | ".join(_usage_part(a) for a in members)
            optional.append(f"({joined})" if exclusive.required else f"[{joined}]")
        elif not action.option_strings:
            positional.append(_usage_part(action))
        elif action.required:
            optional.append(_usage_part(action))
        else:
            optional.append(f"[{_usage_part(action)}]")
    return " ".join([f"kubesat {name}", *optional, *positional])


def default_text(action: argparse.Action) -> str:
    default = action.default
    if not takes_value(action) or default is None or default == [] or default is False:
        return ""
    if isinstance(default, PurePath):
        default = default.as_posix()
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return code(str(default))


def help_text(action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        text = text % {**vars(action), "prog": "kubesat"}
    notes = []
    if action.required and action.option_strings:
        notes.append("**Required.**")
    if isinstance(action, argparse._AppendAction):
        notes.append("**Repeatable.**")
    return " ".join([*notes, cell(text)]).strip()


def option_rows(actions: Iterable[argparse.Action]) -> list[list[str]]:
    return [
        [code(invocation(action)), default_text(action), help_text(action)]
        for action in actions
        if documented(action)
    ]


def command_section(name: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    lines = [f"## `kubesat {name}`", "", cell(summary[:1].upper() + summary[1:]) + ".", ""]
    if parser.description:
        lines += [cell(parser.description), ""]
    lines += ["```text", usage(name, parser), "```", ""]
    for group in parser._action_groups:
        rows = option_rows(group._group_actions)
        if not rows:
            continue
        title = group.title or "options"
        if title == "positional arguments":
            title = "arguments"
        lines += [f"### {title[:1].upper() + title[1:]}", ""]
        lines += table(["option", "default", "what"], rows)
        lines.append("")
    return lines


def render() -> str:
    """The Markdown page of every subcommand and option of `kubesat`."""
    parser = build_parser()
    helps = summaries(parser)
    lines = [
        banner(SOURCES),
        "",
        "# Command line",
        "",
        cell(parser.description or ""),
        "Every subcommand and its options, as `kubesat SUBCOMMAND --help` gives them. "
        "Bad input ends with one line naming the option and exit status 2.",
        "",
        "```text",
        "kubesat {" + ",".join(subcommands(parser)) + "} ...",
        "```",
        "",
        *table(["subcommand", "what"], [[code(f"kubesat {n}"), cell(h)] for n, h in helps.items()]),
        "",
    ]
    for name, sub in subcommands(parser).items():
        lines += command_section(name, sub, helps.get(name, ""))
    return "\n".join(lines).rstrip() + "\n"
