"""`venapath score NAME item=value ...`: compute one risk score from its items.

The text of each pair is read here; the score is computed through the same door as the REST
endpoint (`services/scoring.py`), which refuses out-of-range items (exit 2, naming the item).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from venapath.cli.inputs import fail_input
from venapath.domain.facts import FactType, FactValue, catalogue
from venapath.scores import registry
from venapath.services.scoring import compute_score

console = Console()
errors = Console(stderr=True, soft_wrap=True)
_TRUE = {"yes", "true", "1", "y"}
_FALSE = {"no", "false", "0", "n"}


def score(
    name: Annotated[
        str | None, typer.Argument(help="Score id, e.g. wells_dvt; omit to list them.")
    ] = None,
    items: Annotated[
        list[str] | None, typer.Argument(help="fact=value pairs, e.g. active_cancer=yes")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Compute a risk score. Unknown items are carried as a range, never assumed absent."""
    if name is None:
        for definition in registry.SCORES.values():
            facts = sorted({fact for item in definition.items for fact in item.facts})
            console.print(
                f"[bold]{definition.id}[/]: {definition.title}\n    items: {', '.join(facts)}"
            )
        return
    try:
        definition = registry.get(name.replace("-", "_"))
    except KeyError:
        fail_input(f"unknown score {name!r}; known: {', '.join(registry.SCORES)}")
    readable = {fact for item in definition.items for fact in item.facts}
    values = _parse_items(items or [], readable)
    result = compute_score(definition.id, values)
    if output_format == "json":
        sys.stdout.write(json.dumps(json.loads(result.model_dump_json()), indent=2) + "\n")
        return
    if output_format != "text":
        fail_input(f"--format: {output_format!r} is not one of text, json")
    value = (
        str(result.points)
        if result.points is not None
        else f"{result.min_points}..{result.max_points}"
    )
    console.print(
        f"[bold]{result.title}[/]: {value} -> {result.band or 'one of ' + ', '.join(result.possible_bands)}"
    )
    if result.interpretation:
        console.print(result.interpretation)
    for item in result.items:
        shown = "unknown" if item.points is None else str(item.points)
        console.print(f"  {item.label}: {shown}")
    if result.missing:
        console.print(f"missing: {', '.join(result.missing)}")
    console.print(
        f"source: {result.citation.title} ({result.citation.year}); {result.citation.evidence}"
    )


def _parse_items(pairs: list[str], readable: set[str]) -> dict[str, FactValue]:
    definitions = catalogue()
    facts: dict[str, FactValue] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            fail_input(f"{pair!r}: expected fact=value")
        if key not in readable:
            fail_input(
                f"{key!r} is not an item of this score; items: {', '.join(sorted(readable))}"
            )
        definition = definitions[key]
        facts[key] = _parse_value(key, raw, definition.type, definition.choices)
    return facts


def _parse_value(key: str, raw: str, kind: FactType, choices: tuple[str, ...]) -> FactValue:
    text = raw.strip().lower()
    if kind is FactType.BOOLEAN:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        fail_input(f"{key}: {raw!r} is not yes/no")
    if kind is FactType.NUMBER:
        try:
            return float(text)
        except ValueError:
            fail_input(f"{key}: {raw!r} is not a number")
    if text not in choices:
        fail_input(f"{key}: {raw!r} is not one of {', '.join(choices)}")
    return text
