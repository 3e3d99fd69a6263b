#!/usr/bin/env python3
"""Reference verdicts from Python's jsonschema for Skein's JSON Schema differential test.

Usage: jsonschema_check.py CASES.json

CASES.json holds a JSON array of {"schema": ..., "instance": ...} objects. The first line
printed is "formats: NAME,NAME,..." (the formats this environment's FORMAT_CHECKER asserts;
`uri` needs the rfc3987 package and `date-time` the rfc3339-validator package), then one
line per case, in order:

    valid | invalid | schema-error | error: MESSAGE

Schemas are checked against the draft 2020-12 meta-schema first (as `check_schema` and
`jsonschema.validate` do, format "regex" included), and formats are asserted with Draft202012Validator.FORMAT_CHECKER, since Skein asserts
them. Exits with status 2 if jsonschema is not installed, so the test fails rather than skips.
"""

import json
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError as error:  # pragma: no cover - exercised only on a broken setup
    print(f"jsonschema_check.py: cannot import jsonschema ({error}); pip install jsonschema", file=sys.stderr)
    sys.exit(2)


def verdict(schema, instance, format_checker, meta_validator, validators):
    # Cases share schemas; checking and building each once keeps the run short.
    key = json.dumps(schema)
    if key not in validators:
        # What Draft202012Validator.check_schema does, with one meta-schema validator for all.
        if meta_validator.is_valid(schema):
            validators[key] = Draft202012Validator(schema, format_checker=format_checker)
        else:
            validators[key] = None
    validator = validators[key]
    if validator is None:
        return "schema-error"
    try:
        return "valid" if validator.is_valid(instance) else "invalid"
    except RecursionError:
        return "error: infinite recursion"
    except Exception as error:  # unresolvable $ref and the like
        return f"error: {type(error).__name__}: {error}".replace("\n", " ")


def main():
    if len(sys.argv) != 2:
        print("usage: jsonschema_check.py CASES.json", file=sys.stderr)
        return 64
    with open(sys.argv[1], encoding="utf-8") as file:
        cases = json.load(file)
    format_checker = Draft202012Validator.FORMAT_CHECKER
    lines = ["formats: " + ",".join(sorted(format_checker.checkers))]
    meta_validator = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=format_checker)
    validators = {}
    for case in cases:
        lines.append(verdict(case["schema"], case["instance"], format_checker, meta_validator, validators))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
