"""Client-side requests-per-minute and tokens-per-minute limits (two token buckets)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, requests_per_minute: int, tokens_per_minute: int, clock=time.monotonic, sleep=time.sleep):
        self.capacity = (float(requests_per_minute), float(tokens_per_minute))
        self.level = list(self.capacity)
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> float:
        """Block until one request of `tokens` tokens fits both budgets; return seconds waited."""
        need = (1.0, min(float(tokens), self.capacity[1]))
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                elapsed, self._last = now - self._last, now
                for i in (0, 1):
                    self.level[i] = min(self.capacity[i], self.level[i] + elapsed * self.capacity[i] / 60.0)
                if all(self.level[i] >= need[i] for i in (0, 1)):
                    for i in (0, 1):
                        self.level[i] -= need[i]
                    return waited
                wait = max((need[i] - self.level[i]) * 60.0 / self.capacity[i] for i in (0, 1))
            self._sleep(wait)
            waited += wait
