"""The scenario file's reference, generated from its models: a JSON Schema (shipped with the scenarios,
for editors' completion and checking) and a Markdown page of every field.

    python -m sim.model.reference           # (make schema) writes both
    python -m sim.model.reference --check   # exits 1 if either is not what the models make

The schema describes what a *file* may hold, so where a field's validator accepts more than its type
says (a duration as ``"15m"``, a clock time as ``"08:30"``, a strategy by its name alone, a bare duration
for a constant distribution) the schema says so too: :data:`INPUTS` declares each such before-validator's
input. A before-validator not declared there is an error, so that a new one cannot leave the schema
stricter than the loader.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from sim import units
from sim.model.scenario import Scenario

SCHEMA_FILE = "scenario.schema.json"  # in the scenarios package, beside the shipped scenarios
PAGE = Path("docs") / "scenario-reference.md"  # in the source tree
COMMAND = "python -m sim.model.reference"
_MARK = "x-convsim-type"  # a value type of ours, made a $def once generation is over
_BODY = "x-convsim-body"  # the mark's definition, when made of generated parts

_CLOCK_SPAN = r"^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$"
TYPES: dict[str, JsonSchemaValue] = {  # the value types scenario files write as text, by name
    "Duration": {
        "description": "Seconds as a number, or a duration with its unit: `90s`, `15m`, `2.5h`, `1d`.",
        "anyOf": [{"type": "number", "minimum": 0},
                  {"type": "string", "pattern": units._DURATION.pattern, "description": "e.g. 15m"}]},
    "Clock": {
        "description": "A clock time `HH:MM` (up to `48:00`: the next day), or seconds after midnight.",
        "anyOf": [{"type": "number", "minimum": 0, "maximum": 48 * 3600},
                  {"type": "string", "pattern": units._CLOCK.pattern, "description": "HH:MM"}]},
    "ClockSpan": {
        "description": "A span of the day `HH:MM-HH:MM` (past midnight as e.g. `22:00-30:00`), or "
                       "[start, end] in seconds after midnight.",
        "anyOf": [{"type": "string", "pattern": _CLOCK_SPAN, "description": "HH:MM-HH:MM"},
                  {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "minItems": 2,
                   "maxItems": 2}]},
}


def _typed(name: str, constraints: JsonSchemaValue | None = None,
           body: JsonSchemaValue | None = None) -> JsonSchemaValue:
    """A reference to a value type of ours (one of :data:`TYPES`, or ``body``), with the inner type's
    bounds beside it (a number's bounds apply to the number given; a duration's text the loader checks)."""
    kept = {key: value for key, value in (constraints or {}).items()
            if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")}
    return {_MARK: name, **kept, **({} if body is None else {_BODY: body})}


def _shares(inner: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [inner, {"type": "object", "properties": {"weights": inner}, "required": ["weights"],
                              "additionalProperties": False, "description": "weights, normalised to shares"}]}


def _exchanges(inner: JsonSchemaValue) -> JsonSchemaValue:
    counts = {"type": "object", "description": "shares by count: {1: 0.5, 3: 0.5}",
              "propertyNames": {"pattern": "^[0-9]+$"}, "additionalProperties": {"type": "number", "minimum": 0}}
    return {"anyOf": [{"type": "integer", "minimum": 1}, counts, _shares(counts)["anyOf"][1], inner]}


def _distribution(inner: JsonSchemaValue) -> JsonSchemaValue:
    return _typed("Distribution", body={
        "description": "A distribution by name (`{dist: lognormal, mean: 9m, sd: 6m}`), or a bare duration "
                       "for a constant (`30s`).",
        "anyOf": [{_MARK: "Duration"}, inner]})


def _strategy(model: JsonSchemaValue) -> JsonSchemaValue:
    """A strategy's name alone, or its name with constructor parameters (under ``params`` or beside it)."""
    open_model = {**model, "additionalProperties": True}
    return {"anyOf": [{"type": "string", "description": "a strategy's name"}, open_model]}


def _shift(model: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [{"type": "string", "pattern": _CLOCK_SPAN, "description": "HH:MM-HH:MM"}, model]}


Form = Callable[[JsonSchemaValue], JsonSchemaValue] | None  # the inner type's schema → what a file may give
INPUTS: dict[str, Form] = {  # each before-validator (module.qualname) → its input form; None: the type's own
    "sim.units.duration": lambda inner: _typed("Duration", inner),
    "sim.units.clock": lambda inner: _typed("Clock", inner),
    "sim.units.clock_span": lambda inner: _typed("ClockSpan"),
    "sim.model.distributions._constant": _distribution,
    "sim.model.scenario._shares": _shares,
    "sim.model.scenario._exchanges": _exchanges,
    "sim.model.scenario.Counts._summed": _shares,
    "sim.model.scenario.AgentSpec._count_from_headcount": None,  # fills count in: the same fields
    "sim.model.scenario._Step._old_names": None,  # old field names, loaded with a warning: not offered
}
MODEL_INPUTS: dict[str, Callable[[JsonSchemaValue], JsonSchemaValue]] = {  # models a file may give otherwise
    "sim.model.scenario.StrategySpec._from_name": _strategy,
    "sim.model.scenario.Shift._from_text": _shift,
}


class UndeclaredInput(Exception):
    """A before-validator whose input form :data:`INPUTS` does not declare."""


class _FileSchema(GenerateJsonSchema):
    """Pydantic's validation schema, read as a scenario file's: the forms before-validators accept, no
    fields the loader sets itself (``exclude``), no titles of fields (their names say it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def field_is_present(self, field: Any) -> bool:
        return not field.get("serialization_exclude", False)

    def function_before_schema(self, schema: Any) -> JsonSchemaValue:
        function = schema["function"]["function"]
        name = f"{function.__module__}.{function.__qualname__}"
        inner = super().function_before_schema(schema)
        if name in MODEL_INPUTS:
            return inner  # the model's own schema is wrapped in model_schema()
        if name not in INPUTS:
            raise UndeclaredInput(f"the before-validator {name} accepts input its type may not show: declare its "
                                  f"input form in sim.model.reference.INPUTS (None: the type's own)")
        form = INPUTS[name]
        return inner if form is None else form(inner)

    def model_schema(self, schema: Any) -> JsonSchemaValue:
        model = super().model_schema(schema)
        for validator in _before_validators(schema):
            if validator in MODEL_INPUTS:
                head = {key: model.pop(key) for key in ("title", "description") if key in model}
                return {**head, **MODEL_INPUTS[validator](model)}
        return model


def _before_validators(schema: Any) -> Iterator[str]:
    inner = schema.get("schema", {})
    while inner.get("type") == "function-before":
        function = inner["function"]["function"]
        yield f"{function.__module__}.{function.__qualname__}"
        inner = inner.get("schema", {})


def schema() -> dict[str, Any]:
    """The scenario file's JSON Schema (draft 2020-12)."""
    types: dict[str, JsonSchemaValue] = {}
    generated = _resolve(Scenario.model_json_schema(schema_generator=_FileSchema), types)
    definitions = generated.pop("$defs", {}) | types
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "convsim scenario",
            "description": "A convsim scenario file (YAML). Generated by `" + COMMAND + "` from "
                           "sim/model/scenario.py; docs/scenario-reference.md describes every field."}
    return head | {key: value for key, value in generated.items() if key != "title"} | {
        "$defs": dict(sorted(definitions.items()))}


def _resolve(value: Any, types: dict[str, JsonSchemaValue]) -> Any:
    """Marks of our value types → references to their $defs, which go into ``types``."""
    if isinstance(value, dict):
        name = value.get(_MARK)
        if name is not None and name not in types:
            types[name] = {}  # (a body may refer to its own type)
            types[name] = _resolve(value.get(_BODY, TYPES.get(name)), types)
        resolved = {key: _resolve(item, types) for key, item in value.items() if key not in (_MARK, _BODY)}
        return resolved if name is None else {"$ref": f"#/$defs/{name}", **resolved}
    if isinstance(value, list):
        return [_resolve(item, types) for item in value]
    return value


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------ the page


def markdown(spec: dict[str, Any]) -> str:
    """The Markdown reference page of a scenario schema: the top level, then each type it refers to."""
    definitions = spec["$defs"]
    lines = [
        "# Scenario file reference",
        "",
        f"<!-- Generated by `{COMMAND}` from sim/model/scenario.py: do not edit by hand. -->",
        "",
        "Every field a scenario file (YAML) may hold, with its type, default and meaning; a field without a "
        "default is required. The same reference as JSON Schema ships with convsim as "
        f"`scenarios/{SCHEMA_FILE}`: an editor with the YAML language server completes and checks a scenario "
        f"that starts with `# yaml-language-server: $schema=<path to {SCHEMA_FILE}>`. What the schema cannot "
        "say (a team or step named that exists, shifts that do not overlap, …) the loader checks.",
        "",
    ]
    for name in _order(spec, definitions):
        lines += _section(name, spec if name == "Scenario" else definitions[name])
    return "\n".join(lines).rstrip() + "\n"


def _order(spec: dict[str, Any], definitions: dict[str, Any]) -> list[str]:
    """Scenario, then the types in the order they are first referred to (breadth first)."""
    order, queue = ["Scenario"], [spec]
    while queue:
        for name in _refs(queue.pop(0)):
            if name not in order and name in definitions:
                order.append(name)
                queue.append(definitions[name])
    return order + sorted(set(definitions) - set(order))


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item.rsplit("/", 1)[-1]
            elif key != "$defs":
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _section(name: str, definition: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    if name == "Scenario":
        lines += ["The top level of the file.", ""]
    elif definition.get("description"):
        lines += [_prose(definition["description"]), ""]
    model = definition if "properties" in definition else next(
        (form for form in definition.get("anyOf", []) if "properties" in form), None)
    others = [form for form in definition.get("anyOf", []) + definition.get("oneOf", []) if form is not model]
    if others:
        lines += ["Given as " + " or ".join(_kind(form) for form in others) + (", or a mapping:" if model else "."),
                  ""]
    if model is not None:
        lines += _fields(model)
    return lines


def _fields(model: dict[str, Any]) -> list[str]:
    required = set(model.get("required", []))
    rows = ["| Field | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for field, prop in model["properties"].items():
        default = "*required*" if field in required else (
            f"`{json.dumps(prop['default'], ensure_ascii=False)}`" if "default" in prop else "")
        rows.append(f"| `{field}` | {_kind(prop)} | {_cell(default)} | {_cell(_prose(prop.get('description', '')))} |")
    extra = model.get("additionalProperties")
    if extra is True:
        rows.append("| *any other* | any | | passed on (a strategy's parameters) |")
    return [*rows, ""]


def _kind(prop: dict[str, Any], nested: bool = False) -> str:
    """A schema fragment as a type in words: ``list of [Case](#case)``, ``number ≥ 0``; ``nested``: in
    brackets if a choice (a list's items, a mapping's values)."""
    shown = _words(prop)
    return f"({shown})" if nested and " or " in shown else shown


def _words(prop: dict[str, Any]) -> str:
    bounds = _bounds(prop)
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})" + bounds
    for key in ("anyOf", "oneOf"):
        if key in prop:
            forms = [form for form in prop[key] if form.get("type") != "null"]
            shown = " or ".join(dict.fromkeys(_kind(form) for form in forms))
            return shown + (" or null" if len(forms) < len(prop[key]) else "")
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return " or ".join(f"`{value}`" for value in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(_kind(item) for item in prop["prefixItems"]) + "]"
        at_least = f" (at least {prop['minItems']})" if prop.get("minItems") else ""
        return f"list of {_kind(prop.get('items', {}), True)}{at_least}"
    if kind == "object":
        if "properties" in prop:  # a small mapping of its own: {weights: …}
            return "{" + ", ".join(f"{key}: {_kind(value)}" for key, value in prop["properties"].items()) + "}"
        values = prop.get("additionalProperties", True)
        at_least = f" (at least {prop['minProperties']})" if prop.get("minProperties") else ""
        names = prop.get("propertyNames", {})
        keys = (_kind(names, True) if "enum" in names else "count" if "pattern" in names else "name")
        if isinstance(values, dict):
            return f"mapping of {keys} → {_kind(values, True)}{at_least}"
        return "mapping" + at_least
    if kind == "string":
        if prop.get("format") == "date-time":
            return "date-time"
        if prop.get("description"):
            return f"text ({prop['description']})"
        return "text" + (" (at least 1 character)" if prop.get("minLength") == 1 else "")
    if kind in ("number", "integer"):
        return kind + bounds
    if kind == "boolean":
        return "true or false"
    return "any"


def _bounds(prop: dict[str, Any]) -> str:
    signs = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))
    return "".join(f" {sign} {_number(prop[key])}" for key, sign in signs if key in prop)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _prose(text: str) -> str:
    """A docstring as Markdown: one paragraph, reST's ``code`` and :class:`X` as `code`."""
    text = " ".join(text.split()).replace("``", "`")
    for role in (":class:", ":func:", ":mod:"):
        text = text.replace(role, "")
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# ------------------------------------------------------------------------------------------- files


def targets(root: Path | None = None) -> dict[Path, str]:
    """Each generated file and the text it should hold: the schema in the scenarios package, the page
    under ``root`` (the source tree: the scenarios package's parent)."""
    scenarios = Path(str(resources.files("scenarios")))
    root = scenarios.parent if root is None else root
    spec = schema()
    return {scenarios / SCHEMA_FILE: json.dumps(spec, indent=2, ensure_ascii=False) + "\n",
            root / PAGE: markdown(spec)}


def stale(root: Path | None = None) -> list[Path]:
    """The generated files that are missing or differ from what the models make now."""
    return [path for path, text in targets(root).items()
            if not path.is_file() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Write the scenario schema and its reference page.")
    parser.add_argument("--check", action="store_true", help="only check that both are current (exit 1 if not)")
    args = parser.parse_args(argv)
    if args.check:
        behind = stale()
        for path in behind:
            print(f"{path}: not current; run {COMMAND}", file=sys.stderr)
        return 1 if behind else 0
    for path, text in targets().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
