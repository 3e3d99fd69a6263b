"""Peer (c) of the engine-overhead benchmark: LangChain's batch API.

    python langchain_abatch.py BASE_URL REQUESTS CONCURRENCY

ChatOpenAI.abatch(..., config={"max_concurrency": CONCURRENCY}) over the same chat requests as
the Skein pipeline's for_each items. Prints one JSON line: the seconds from the first request
to the last reply (imports and model creation excluded) and the import time.
"""
import json
import sys
import time

t0 = time.perf_counter()
import asyncio  # noqa: E402

import langchain_openai  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

imported = time.perf_counter() - t0


async def main(base_url, requests, concurrency):
    model = ChatOpenAI(base_url=base_url, api_key="bench", model="test-model", temperature=0.2, max_tokens=16,
                       max_retries=0)
    inputs = [[("user", f"Summarize item {i} in one word.")] for i in range(requests)]
    start = time.perf_counter()
    outputs = await model.abatch(inputs, config={"max_concurrency": concurrency})
    seconds = time.perf_counter() - start
    assert len(outputs) == requests and all(o.content for o in outputs)
    try:
        from importlib.metadata import version
        v = version("langchain-openai")
    except Exception:
        v = "unknown"
    print(json.dumps({"peer": "langchain", "version": v, "requests": requests, "seconds": seconds,
                      "import_seconds": imported}))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
