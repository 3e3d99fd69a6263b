"""The DAG-makespan peer: the same layered DAG on Haystack's async pipeline runner.

    python haystack_dag.py BASE_URL DAG_JSON CONCURRENCY

DAG_JSON is {"steps": [{"name": "s0", "needs": []}, ...]} (written by scripts/lib/bench.py,
the same DAG as the Skein pipeline). Each step is a component whose run_async sends one chat
request with AsyncOpenAI, its prompt built from its upstream steps' replies like the Skein
step's template. Pipeline.run_async(concurrency_limit=CONCURRENCY) schedules them (Haystack 2.x's
AsyncPipeline became Pipeline.run_async in 3.x). Prints one JSON line: the seconds of run_async
(imports and building the pipeline excluded).
"""
import json
import sys
import time

t0 = time.perf_counter()
import asyncio  # noqa: E402

from haystack import Pipeline, component  # noqa: E402
from haystack.core.component.types import Variadic  # noqa: E402
from openai import AsyncOpenAI  # noqa: E402

imported = time.perf_counter() - t0

CLIENT = None


def client():
    global CLIENT
    if CLIENT is None:
        CLIENT = AsyncOpenAI(base_url=sys.argv[1], api_key="bench", max_retries=0)
    return CLIENT


async def ask(prompt):
    reply = await client().chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": prompt}], temperature=0.2, max_tokens=8)
    return reply.choices[0].message.content


@component
class Root:
    def __init__(self, name: str):
        self.name = name

    @component.output_types(text=str)
    def run(self, topic: str):
        raise NotImplementedError("run_async only")

    @component.output_types(text=str)
    async def run_async(self, topic: str):
        return {"text": await ask(f"[{self.name}] Write about {topic}")}


@component
class Step:
    def __init__(self, name: str):
        self.name = name

    @component.output_types(text=str)
    def run(self, upstream: Variadic[str]):
        raise NotImplementedError("run_async only")

    @component.output_types(text=str)
    async def run_async(self, upstream: Variadic[str]):
        return {"text": await ask(f"[{self.name}] Combine " + " and ".join(upstream))}


def main():
    dag = json.load(open(sys.argv[2]))
    concurrency = int(sys.argv[3])
    pipeline = Pipeline(max_runs_per_component=1)
    for step in dag["steps"]:
        pipeline.add_component(step["name"], Step(step["name"]) if step["needs"] else Root(step["name"]))
    for step in dag["steps"]:
        for need in step["needs"]:
            pipeline.connect(f"{need}.text", f"{step['name']}.upstream")
    data = {step["name"]: {"topic": "rivers"} for step in dag["steps"] if not step["needs"]}

    async def run():
        start = time.perf_counter()
        result = await pipeline.run_async(data, concurrency_limit=concurrency)
        return time.perf_counter() - start, result

    seconds, result = asyncio.run(run())
    assert result, "no outputs"
    import haystack
    print(json.dumps({"peer": "haystack", "version": haystack.__version__, "steps": len(dag["steps"]),
                      "seconds": seconds, "import_seconds": imported}))


main()
