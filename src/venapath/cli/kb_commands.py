"""`venapath kb list|show|validate|docs`: browse and check the knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from venapath.cli.inputs import fail_input
from venapath.kb.docs import render_markdown
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase, Rule

app = typer.Typer(help="Browse and check the knowledge base.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True, soft_wrap=True)

KbDir = Annotated[
    Path | None, typer.Option("--kb", help="Knowledge base directory (default: bundled).")
]


def _load(kb_dir: Path | None) -> KnowledgeBase:
    return load_knowledge_base(kb_dir)


@app.command("list")
def list_rules(
    kb_dir: KbDir = None,
    pathway: Annotated[str | None, typer.Option(help="Only this pathway.")] = None,
) -> None:
    """List the rules, one line each."""
    kb = _load(kb_dir)
    known = {p.id for p in kb.pathways} | {"safety"}
    if pathway is not None and pathway not in known:
        fail_input(f"--pathway: unknown pathway {pathway!r}; known: {', '.join(sorted(known))}")
    table = Table(title=f"Knowledge base {kb.version}", title_justify="left")
    for column in ("rule", "pathway", "kind", "does", "sources"):
        table.add_column(column)
    for rule in kb.rules:
        if pathway is None or rule.pathway == pathway:
            table.add_row(
                rule.id,
                rule.pathway,
                rule.kind.value,
                _does(rule),
                ", ".join(c.source.id for c in rule.citations),
            )
    console.print(table)


def _does(rule: Rule) -> str:
    if rule.recommend is not None:
        return f"{rule.recommend.action.value}: {rule.recommend.strength.value} ({rule.recommend.urgency.value})"
    if rule.contraindication is not None:
        actions = ", ".join(a.value for a in rule.contraindication.actions)
        return f"caps {actions} at {rule.contraindication.ceiling.value}"
    assert rule.alert is not None
    return f"alert ({rule.alert.severity.value})"


@app.command()
def show(
    identifier: Annotated[str, typer.Argument(help="A rule id or a source id.")],
    kb_dir: KbDir = None,
) -> None:
    """Show one rule (condition, rationale, citations) or one source."""
    kb = _load(kb_dir)
    rule = next((r for r in kb.rules if r.id == identifier), None)
    if rule is not None:
        console.print(f"[bold]{rule.id}[/]  {rule.title}")
        console.print(f"pathway: {rule.pathway}   kind: {rule.kind.value}   {_does(rule)}")
        console.print(f"reads: {', '.join(sorted(rule.facts))}")
        console.print(f"condition: {rule.condition}")
        console.print(f"rationale: {rule.rationale}")
        for citation in rule.citations:
            console.print(
                f"  - {citation.source.id}: {citation.source.title} ({citation.source.year or 'n.d.'}); "
                f"{citation.evidence}" + (f" [{citation.locator}]" if citation.locator else "")
            )
            if citation.quote:
                checked = f" (checked {citation.checked})" if citation.checked else ""
                console.print(f'      "{citation.quote}"{checked}', highlight=False, markup=False)
        return
    source = kb.sources.get(identifier)
    if source is not None:
        for key, value in source.model_dump(exclude_none=True).items():
            console.print(f"[bold]{key}:[/] {value}")
        citing = [r.id for r in kb.rules if any(c.source.id == source.id for c in r.citations)]
        console.print(f"[bold]cited by:[/] {', '.join(citing) or 'no rule'}")
        return
    import difflib

    near = difflib.get_close_matches(identifier, [r.id for r in kb.rules] + list(kb.sources), n=3)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    fail_input(f"no rule or source {identifier!r}{hint}")


@app.command()
def validate(
    directory: Annotated[Path | None, typer.Argument(help="Knowledge base directory.")] = None,
) -> None:
    """Check a knowledge base; exit 2 and list every problem if it would be refused."""
    kb = _load(directory)
    console.print(
        f"knowledge base {kb.version}: {len(kb.rules)} rules, {len(kb.sources)} sources, "
        f"{len(kb.pathways)} pathways, {len(kb.time_windows)} time windows - valid"
    )


@app.command()
def docs(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    kb_dir: KbDir = None,
) -> None:
    """Generate docs/knowledge-base.md: every rule with its source."""
    text = render_markdown(_load(kb_dir))
    if output is None:
        console.out(text, highlight=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
