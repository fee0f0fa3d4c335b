"""What a process entry point raises on SIGTERM (the command line, a tuning worker).

Only entry points install signal handlers; the library never does.
"""

from __future__ import annotations


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so that temporary files are removed and a
    running trial is told FAIL before the process ends."""
