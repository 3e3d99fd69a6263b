#!/usr/bin/env python3
"""Renders templates with Jinja2, for Skein's template differential test.

Usage: jinja_render.py CASES.json

CASES.json holds a list of {"template": str, "context": object}. The script prints one
JSON document to stdout: {"jinja2": version, "results": [...]}, one result per case,
either {"output": str} or {"error": "ExceptionType: message"}.

Jinja2 runs as Skein's templates assume: default settings (no trim_blocks or
lstrip_blocks, keep_trailing_newline=False, no autoescape) and StrictUndefined.
Exits with status 3 when Jinja2 is not installed, so the Swift test fails loudly.
"""

import json
import sys

try:
    import jinja2
except ImportError:
    print("jinja2 is not installed; run: python3 -m pip install 'Jinja2==3.1.6'", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8") as file:
        cases = json.load(file)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    results = []
    for case in cases:
        try:
            output = environment.from_string(case["template"]).render(case["context"])
            results.append({"output": output})
        except Exception as error:  # every failure is reported, not raised
            results.append({"error": f"{type(error).__name__}: {error}"})
    json.dump({"jinja2": jinja2.__version__, "results": results}, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
