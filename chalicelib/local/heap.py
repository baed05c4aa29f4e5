"""The local stack's heap at volume.

moto keeps every table's items as Python objects: a base of 100,000 contacts is some 13
million objects, and each of the garbage collector's full collections walked them all, pauses
of up to 6 s at random moments (a CSV import measured at 1,400 rows/s one run, 440 the next).
Every few seconds a keeper collects what survived since its last turn, then freezes it
(`gc.freeze`): later collections skip it (at 100,000 contacts the longest pause fell to
0.8 s). What dies afterwards is still freed by reference counting; a reference cycle is left
only if it forms through frozen objects after their freeze. Stopping unfreezes. `make run` and
the volume bench keep their heap so (`boot(keep_heap=True)`); the tests, which boot a small
stack per test, do not: a keeper's first turn walks the whole process.

While it runs, the young generation is collected after 50,000 allocations instead of 700:
every request allocates thousands of short-lived objects (botocore's, moto's), and the default
spent a sixth of a CSV import's CPU in collections that freed next to nothing (0.70 -> 0.58 ms
a line).
"""
from __future__ import annotations

import gc
import threading


class HeapKeeper(threading.Thread):
    PERIOD_SECONDS = 5.0
    THRESHOLDS = (50_000, 20, 100)

    def __init__(self) -> None:
        super().__init__(name="heap-keeper", daemon=True)
        self._stopping = threading.Event()
        self._thresholds = gc.get_threshold()

    def run(self) -> None:
        gc.set_threshold(*self.THRESHOLDS)
        while not self._stopping.wait(self.PERIOD_SECONDS):
            gc.collect()  # only what is not frozen: what survived since the last turn
            gc.freeze()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
        gc.unfreeze()
        gc.set_threshold(*self._thresholds)
