#!/usr/bin/env python3
"""A tool for pipelines/tools.yaml: the weather for a city, from examples/weather.json.

Skein runs it when the model calls `get_weather`: the model's arguments arrive as JSON on
stdin, and what this prints is the result the model reads. No network: the "forecast" is a
file in the repository, so the example runs anywhere.
"""

import json
import sys
from pathlib import Path

arguments = json.load(sys.stdin)
city = str(arguments.get("city", "")).strip()
table = json.loads((Path(__file__).resolve().parent.parent.parent / "examples" / "weather.json").read_text())
entry = next((value for name, value in table.items() if name.lower() == city.lower()), None)
if entry is None:
    # A message on stderr and a non-zero exit: Skein gives the model the error to read.
    print(f"no forecast for {city!r}; known cities: {', '.join(sorted(table))}", file=sys.stderr)
    sys.exit(2)
print(json.dumps({"city": city, **entry}))
