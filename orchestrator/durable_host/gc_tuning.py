"""Garbage collection for a long-running server process: fewer and shorter pauses.

A full collection walks every object the collector tracks. After start-up that is 100k or more
objects (modules, classes, the app, its routes and schemas) which live as long as the process
and never become garbage; with 200 agent runs in flight, each full collection stopped the event
loop for about 100 ms, every few seconds, and every request in flight waited for it. Freezing
what exists once start-up is done takes those objects out of every later collection. A larger
first-generation threshold makes collections rarer: nearly every object is freed by reference
counting the moment it is dropped, and the collector only has cycles left to find.
"""

from __future__ import annotations

import functools
import gc

__all__ = ["GC_THRESHOLDS", "tune_garbage_collector"]

GC_THRESHOLDS = (50_000, 20, 10)
"""Allocations before a young collection, and young (then middle) collections before an older one."""


@functools.cache
def tune_garbage_collector() -> None:
    """Call once start-up is done; later calls in the same process do nothing."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
