"""Oracle for the JSON serializer test: reads cases (a JSON list of {"value", "style"}) from
the file named by argv[1] and prints, as one JSON list, what Python's json.dumps writes for
each value in each style."""
import json
import sys

STYLES = {
    "compact": dict(separators=(",", ":"), ensure_ascii=False),
    "canonical": dict(separators=(",", ":"), ensure_ascii=False, sort_keys=True),
    "pretty": dict(indent=2, ensure_ascii=False),
    # Jinja2's tojson: sorted keys, json.dumps's default separators, ASCII only.
    "tojson": dict(sort_keys=True, ensure_ascii=True),
}

with open(sys.argv[1], encoding="utf-8") as f:
    cases = json.load(f)
json.dump([json.dumps(case["value"], **STYLES[case["style"]]) for case in cases], sys.stdout, ensure_ascii=True)
