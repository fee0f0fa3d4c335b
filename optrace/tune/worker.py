"""A tuning worker process: ``python -m optrace.tune.worker`` reads its job from stdin:
the tuning's plan, pickled, so that it runs trials without planning again.

Started by :func:`optrace.tune.tuner.tune_config` for ``workers > 1``. This is a
process entry point of its own, so it may handle SIGTERM: it unwinds like Ctrl-C,
and the running trial is told FAIL before the process ends.
"""

from __future__ import annotations

import json
import pickle
import signal
import sys
from types import FrameType

from optrace._core.signals import Terminated


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main() -> int:
    """Run queued trials until none is left; the exit code says how it ended."""
    signal.signal(signal.SIGTERM, _on_term)
    try:
        head = json.loads(sys.stdin.buffer.readline())
        if head["folder"] is not None:
            # A process of optrace's own: the config's folder holds the modules of
            # its own optimizers, which the pickled plan names.
            sys.path.insert(0, head["folder"])
        # Imported once the handler is set: a SIGTERM during torch's seconds-long
        # import still ends the worker with 143.
        from optrace._core.errors import OptraceError
        from optrace.tune.storage import open_storage
        from optrace.tune.tuner import work

        try:
            job = pickle.loads(sys.stdin.buffer.read())
            work(job["plan"], open_storage(job["storage"]), job["study"])
        except OptraceError as exc:
            print(f"Error: worker: {exc}", file=sys.stderr)
            return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
