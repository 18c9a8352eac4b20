"""Check a spec against the models; name each problem by the path of its field, in plain words."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from grader.engine.schema.models import EXERCISE, KIND_MODELS
from grader.engine.types import SpecProblem


def schema_problems(spec: Any) -> list[SpecProblem]:
    """Return how spec breaks the schema, each problem with the path of its field."""
    if not isinstance(spec, dict):
        return [SpecProblem((), "expected a mapping of fields")]
    try:
        EXERCISE.validate_python(spec)
    except ValidationError as error:
        problems = [_problem(spec, detail) for detail in error.errors(include_url=False)]
        return list(dict.fromkeys(problems))
    return []


# Pydantic's wording where an author's words are plainer.
WORDING = {
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "string_type": "expected text",
    "list_type": "expected a list, one item per line starting with '- '",
    "dict_type": "expected a mapping of names to values",
    "model_type": "expected a mapping of fields",
    "model_attributes_type": "expected a mapping of fields",
    "tuple_type": "expected a list such as [low, high]",
}


def _problem(spec: dict[str, Any], detail: Any) -> SpecProblem:
    kind, loc = detail["type"], tuple(detail["loc"])
    if kind == "union_tag_not_found":
        return SpecProblem(("kind",), "missing required field 'kind'")
    if kind == "union_tag_invalid":
        return SpecProblem(
            ("kind",),
            f"kind must be one of {', '.join(KIND_MODELS)}, not {detail['input'].get('kind')!r}",
        )
    names_a_key = kind in ("missing", "extra_forbidden")
    path = _data_path(spec, loc[1:], names_a_key)  # loc[0] is the kind that chose the model
    where = _dotted(path[:-1] if names_a_key else path)
    if kind == "missing":
        text = f"missing required field '{path[-1]}'"
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(spec, path[:-1])
        text = f"unknown field '{path[-1]}'" + (
            f" (allowed here: {', '.join(allowed)})" if allowed else ""
        )
    elif kind == "too_short":
        text = f"give at least {detail['ctx']['min_length']}"
    else:
        text = WORDING.get(kind) or _lower_first(detail["msg"])
    return SpecProblem(path, f"{where}: {text}" if where else text)


def _data_path(
    spec: dict[str, Any], loc: Sequence[Any], names_a_key: bool
) -> tuple[str | int, ...]:
    """Return the places of loc that exist in the file, plus a final missing key if it names one.

    Pydantic's loc also names the member a union chose (its tag): that is no place in the file.
    """
    path: list[str | int] = []
    node: Any = spec
    for index, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif names_a_key and index == len(loc) - 1 and isinstance(node, dict):
            pass  # a missing field
        else:
            continue
        path.append(part)
    return tuple(path)


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _allowed_keys(spec: dict[str, Any], path: Sequence[str | int]) -> list[str]:
    """Return the keys the mapping at path may hold, from the model that describes it."""
    model = KIND_MODELS.get(str(spec.get("kind")))
    if model is None:
        return []
    candidates: list[type[BaseModel]] = [model]
    node: Any = spec
    for part in path:
        node = node[part]
        if isinstance(part, str):
            fields = [c.model_fields[part] for c in candidates if part in c.model_fields]
            if fields:
                candidates = [m for f in fields for m in _models_in(f.annotation)]
        # else: an item of a list or a name in a mapping of names: the same models describe it
    if not candidates or not isinstance(node, dict):
        return []
    best = max(candidates, key=lambda c: len(set(c.model_fields) & set(map(str, node))))
    return sorted(best.model_fields)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Return the models a field's type holds, through unions, lists and mappings."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType, list, dict, tuple):
        return [m for arg in args for m in _models_in(arg)]
    return []
