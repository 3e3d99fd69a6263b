#!/usr/bin/env python3
"""Checks pipeline files against schema/pipeline.schema.json, for PipelineSchemaTests.

Usage: check_pipeline_schema.py [--schema SCHEMA.json] FILE.yaml...

Prints one JSON object:

    {"schema_errors": [MESSAGE, ...],
     "files": [{"path": FILE, "verdict": "valid" | "invalid" | "unloadable", "messages": [MESSAGE, ...]}, ...]}

`schema_errors` holds what Draft202012Validator.check_schema finds wrong with the schema
itself (empty when it is a valid draft 2020-12 schema). A file is "unloadable" when PyYAML
cannot read it (syntax errors, runaway nesting); "invalid" messages are `path: message`.

YAML is read the way Skein reads it, not with PyYAML's YAML 1.1 defaults: plain scalars
resolve with the YAML 1.2 core schema (`yes`, `no`, `on` stay strings; `017` is 17; no
timestamps, no sexagesimal numbers), and mapping keys are the text as written (`1:` is
the key "1"). Formats are annotations only, as in Skein's loader. Exits with status 2 when
jsonschema or PyYAML is missing, so the test fails rather than skips.
"""

import json
import math
import re
import sys
from pathlib import Path

try:
    import yaml
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError, best_match
except ImportError as error:  # pragma: no cover - exercised only on a broken setup
    print(f"check_pipeline_schema.py: {error}; pip install jsonschema pyyaml", file=sys.stderr)
    sys.exit(2)


class CoreSchemaLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema resolution, like Skein's YAMLReader.resolvePlain."""


CoreSchemaLoader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", list("~nN") + [""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
]
for _tag, _pattern, _first in _RESOLVERS:
    CoreSchemaLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0x"):
        return int(text[2:], 16)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 10)


def _construct_float(loader, node):
    text = loader.construct_scalar(node)
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


def _construct_mapping(loader, node):
    # Keys are the scalar's text, as Skein reads them; anything else is refused as Skein does.
    loader.flatten_mapping(node)
    result = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(None, None, "mapping keys must be plain strings", key_node.start_mark)
        result[key_node.value] = loader.construct_object(value_node, deep=True)
    return result


CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
CoreSchemaLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
CoreSchemaLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def explain(error):
    """The error's message; for anyOf/oneOf, also the closest alternative's reason."""
    if not error.context:
        return error.message
    # An alternative refused only for its type says less than one that got further.
    further = [e for e in error.context if not (e.validator == "type" and e.absolute_path == error.absolute_path)]
    closest = best_match(further or error.context)
    return f"{error.message} ({closest.json_path}: {closest.message})"


def check(validator, path):
    try:
        with open(path, encoding="utf-8") as file:
            document = yaml.load(file, Loader=CoreSchemaLoader)
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError, ValueError) as error:
        message = str(error).replace("\n", " ") if not isinstance(error, RecursionError) else "nested too deeply"
        return {"path": path, "verdict": "unloadable", "messages": [message]}
    errors = sorted(validator.iter_errors(document), key=lambda error: list(map(str, error.absolute_path)))
    messages = [f"{error.json_path}: {explain(error)}" for error in errors]
    return {"path": path, "verdict": "invalid" if errors else "valid", "messages": messages}


def main(arguments):
    schema_path = Path(__file__).resolve().parents[2] / "schema" / "pipeline.schema.json"
    if arguments[:1] == ["--schema"] and len(arguments) >= 2:
        schema_path, arguments = Path(arguments[1]), arguments[2:]
    with open(schema_path, encoding="utf-8") as file:
        schema = json.load(file)
    try:
        Draft202012Validator.check_schema(schema)
        schema_errors = []
    except SchemaError as error:
        schema_errors = [f"{error.json_path}: {error.message}"]
    validator = Draft202012Validator(schema)
    files = [check(validator, path) for path in arguments]
    json.dump({"schema_errors": schema_errors, "files": files}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
