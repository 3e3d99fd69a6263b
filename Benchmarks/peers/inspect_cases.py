"""The `skein test` benchmark's peer: Inspect (inspect-ai) evaluating the same cases.

    python inspect_cases.py BASE_URL CASES VARIANTS CONCURRENCY

BASE_URL is an OpenAI-compatible endpoint (the bench's skein-test-server), CASES the
number of samples, VARIANTS a comma-separated list of model names (one eval each, run
together as Skein's --vary runs its variants), CONCURRENCY Inspect's max_connections.
Each sample asks what the Skein pipeline asks ("Summarize item N in one word.") and is
scored with the same string assertions (min_length 1, max_length 400, not_contains
"As an AI"). Prints one JSON line: {"seconds": ..., "passed": ..., "total": ..., "version": ...}.
"""

import json
import os
import sys
import tempfile
import time

base_url, cases, variants, concurrency = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])
os.environ["BENCH_BASE_URL"] = base_url
os.environ["BENCH_API_KEY"] = "unused"
os.environ.setdefault("INSPECT_LOG_DIR", tempfile.mkdtemp(prefix="inspect-logs-"))
os.environ.setdefault("INSPECT_DISPLAY", "none")

import inspect_ai  # noqa: E402
from inspect_ai import Task, eval as inspect_eval  # noqa: E402
from inspect_ai.dataset import Sample  # noqa: E402
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer  # noqa: E402
from inspect_ai.solver import TaskState, generate  # noqa: E402


@scorer(metrics=[accuracy()])
def string_assertions():
    async def score(state: TaskState, target: Target) -> Score:
        text = state.output.completion
        ok = 1 <= len(text) <= 400 and "As an AI" not in text
        return Score(value=CORRECT if ok else INCORRECT, answer=text)

    return score


def task():
    samples = [Sample(input=f"Summarize item {i} in one word.", target="") for i in range(cases)]
    return Task(dataset=samples, solver=[generate()], scorer=string_assertions())


started = time.perf_counter()
logs = inspect_eval(
    [task()], model=[f"openai-api/bench/{name}" for name in variants], max_connections=concurrency,
    max_tokens=16, temperature=0.2, display="none", log_samples=False, score_display=False)
seconds = time.perf_counter() - started
passed = total = 0
for log in logs:
    for score in (log.results.scores if log.results else []):
        metric = score.metrics.get("accuracy")
        if metric is not None:
            passed += round(metric.value * cases)
            total += cases
print(json.dumps({"seconds": seconds, "passed": passed, "total": total, "version": inspect_ai.__version__,
                  "statuses": [log.status for log in logs]}))
