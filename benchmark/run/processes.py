"""Process lifetime for the local executor: pool workers die with the process that started them
(kill -9 and SIGTERM included), SIGTERM stops a run like Ctrl-C, and a plugin call that hangs is
stopped after a per-item limit and becomes the items' error.

- Workers: `prctl(PR_SET_PDEATHSIG, SIGKILL)` (Linux) makes the kernel kill a worker when its
  parent dies; a watchdog thread that polls the parent pid covers other systems and the window
  before prctl. Workers ignore SIGINT: Ctrl-C reaches the whole process group, and only the
  parent decides (it kills its workers and records the invocation as interrupted).
- Timeouts: in the parent process a SIGALRM timer (`alarm`); pool workers are killed by the
  parent when a job overruns (`LocalExecutor` in executor.py), because a call stuck in native code
  never returns to Python to see an exception.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_ITEM_TIMEOUT = 1800.0    # seconds per item: generous (a 10-minute item on a slow CPU system)
PR_SET_PDEATHSIG = 1             # linux/prctl.h
WATCHDOG_SECONDS = 1.0


class ItemTimeout(BaseException):
    """A job ran past its limit. A BaseException, so that a plugin's `except Exception` (or the
    runner's own per-item isolation) does not swallow it and carry on without a limit."""


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process exit when `parent_pid` is no longer its parent."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass                 # no prctl: the watchdog alone
    if os.getppid() != parent_pid:       # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_SECONDS)
            if os.getppid() != parent_pid:   # re-parented (to init or a subreaper): orphaned
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def alarm(seconds: float | None) -> Iterator[None]:
    """Raise ItemTimeout in this (main) thread after `seconds`; no limit when None, or where
    signals cannot be used (not the main thread, no SIGALRM)."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise ItemTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


INTERRUPT_GRACE = 20.0     # seconds the interrupted run may take to stop its workers and record it


def _force_exit(reason: str) -> None:
    """The last resort when stopping hangs: say so, dump every thread's stack (for a bug report),
    and leave without the interpreter's clean-up (which may be what hangs). Finished work is in
    the store already; the next run marks this invocation interrupted."""
    import faulthandler
    import os
    import sys
    try:
        sys.stderr.write(f"\ninterrupted: {reason}; exiting now. Finished work is kept; re-run the "
                         "same command to continue (the threads' stacks follow, for a bug report).\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(all_threads=True)
    finally:
        os._exit(130)


@contextmanager
def sigterm_as_interrupt(grace: float = INTERRUPT_GRACE) -> Iterator[None]:
    """SIGTERM (e.g. `kill`, a batch scheduler's time limit) and SIGINT (Ctrl-C) raise
    KeyboardInterrupt in the main thread, so the run stops: workers killed, the invocation marked
    interrupted. Stopping is bounded: a daemon timer force-exits (130) if the process is still
    alive `grace` seconds after the first signal, and a second signal exits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state: dict = {"timer": None}

    def interrupt(signum, frame):
        name = signal.Signals(signum).name
        if state["timer"] is not None:            # the second Ctrl-C / kill: do not wait any longer
            _force_exit(f"second {name}")
        timer = threading.Timer(grace, _force_exit, args=(f"stopping took over {grace:g} s",))
        timer.daemon = True
        timer.start()
        state["timer"] = timer
        raise KeyboardInterrupt(f"signal {name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if state["timer"] is not None:            # stopped in time (or the run is over): disarm
            state["timer"].cancel()


def kill_all(processes, grace: float = 5.0) -> None:
    """SIGKILL each multiprocessing.Process and reap it (at most `grace` seconds in all)."""
    for p in processes:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):
            pass
    deadline = time.monotonic() + grace
    for p in processes:
        try:
            p.join(max(0.0, deadline - time.monotonic()))
        except (OSError, ValueError, AssertionError, AttributeError):
            pass
