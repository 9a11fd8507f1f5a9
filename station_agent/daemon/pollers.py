"""A thread that calls one function at an interval (device polls, the stock check,
the spooler journal)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Poller:
    """A daemon thread calling ``fn`` every ``interval`` seconds until stopped;
    an exception from one call goes to ``on_error`` and polling goes on."""

    def __init__(self, name: str, interval: float, fn: Callable[[], None],
                 on_error: Callable[[BaseException], None]) -> None:
        self.interval, self.fn, self.on_error = interval, fn, on_error
        self.stop_event = threading.Event()
        self._kick = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.fn()
            except Exception as exc:   # keep polling whatever one poll did
                self.on_error(exc)
            self._kick.wait(self.interval)
            self._kick.clear()

    def start(self) -> None:
        """Start polling (the first poll runs at once)."""
        self.thread.start()

    def poll_now(self) -> None:
        """Run the next poll now instead of at the end of the interval."""
        self._kick.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling; waits up to ``timeout`` s for a poll in progress."""
        self.stop_event.set()
        self._kick.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
