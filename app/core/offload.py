"""CPU-bound work kept off the event loop.

Parsing a 10 MB catalog file takes over a second of pure Python: on the event loop it
would hold every other request of the process (webhook acknowledgements included) that
long. In a thread it still shares the GIL, but the interpreter switches threads every few
milliseconds, so the loop keeps answering. The pool is bounded, so a burst of imports
queues behind itself.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

CPU_THREADS = 2
_cpu_pool = ThreadPoolExecutor(CPU_THREADS, thread_name_prefix="cpu-bound")


async def run_cpu_bound(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Runs `function` in the bounded CPU pool and waits for its result (or exception)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_cpu_pool, functools.partial(function, *args, **kwargs))
