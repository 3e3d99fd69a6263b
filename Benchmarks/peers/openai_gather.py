"""Peer (b) of the engine-overhead benchmark: what people write by hand with the official SDK.

    python openai_gather.py BASE_URL REQUESTS CONCURRENCY

AsyncOpenAI + asyncio.gather under a semaphore of CONCURRENCY, the same chat requests as the
Skein pipeline's for_each items. Prints one JSON line: the seconds from the first request to
the last reply (imports and client creation excluded) and the import time.
"""
import json
import sys
import time

t0 = time.perf_counter()
import asyncio  # noqa: E402

import openai  # noqa: E402
from openai import AsyncOpenAI  # noqa: E402

imported = time.perf_counter() - t0


async def main(base_url, requests, concurrency):
    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item):
        async with semaphore:
            reply = await client.chat.completions.create(
                model="test-model",
                messages=[{"role": "user", "content": f"Summarize item {item} in one word."}],
                temperature=0.2,
                max_tokens=16,
            )
            return reply.choices[0].message.content

    start = time.perf_counter()
    outputs = await asyncio.gather(*(one(i) for i in range(requests)))
    seconds = time.perf_counter() - start
    await client.close()
    assert len(outputs) == requests and all(outputs)
    print(json.dumps({"peer": "openai", "version": openai.__version__, "requests": requests,
                      "seconds": seconds, "import_seconds": imported}))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
