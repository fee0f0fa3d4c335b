"""A tuning worker process: ``python -m optrace.tune.worker`` reads its job from stdin.

Started by :func:`optrace.tune.tuner.tune_config` for ``workers > 1``. This is a
process entry point of its own, so it may handle SIGTERM: it unwinds like Ctrl-C,
and the running trial is told FAIL before the process ends.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType

from optrace._core.signals import Terminated


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main() -> int:
    """Run queued trials until none is left; the exit code says how it ended."""
    signal.signal(signal.SIGTERM, _on_term)
    try:
        job = json.loads(sys.stdin.read())
        # Imported once the handler is set: a SIGTERM during torch's seconds-long
        # import still ends the worker with 143.
        from optrace._core.errors import OptraceError
        from optrace.spec.loading import parse_config
        from optrace.tune.storage import open_storage
        from optrace.tune.tuner import prepare_tuning, work

        try:
            config = parse_config(job["config"])
            folder = None if job["folder"] is None else Path(job["folder"])
            plan = prepare_tuning(config, folder, job["trials"], job["limits"])
            work(plan, open_storage(job["storage"]), job["study"])
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
