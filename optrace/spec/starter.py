"""The starter config ``optrace init`` writes: commented, and it races as written."""

from __future__ import annotations

from pathlib import Path

from optrace._core.atomic import Output, opened
from optrace._core.errors import UsageError

STARTER = """\
# An optrace race. Run it:  optrace run {name} --gif race.gif
# Check it without running: optrace validate {name}
title: my first race
# A built-in function (optrace list-functions), or your own:
#   function: {{expr: "x**4 - 3*x**2 + x", domain: [-2.5, 2.5]}}
# In 2-D, e.g. function: rosenbrock with start: [-1.2, 1.0]
function: quartic
start: 2.0            # a number, or random; or a swarm: starts: {{grid: 20}}
epochs: 60
racers:               # any torch.optim optimizer (optrace list-optimizers)
  - optimizer: SGD    # every other key is a constructor keyword
    lr: 0.01
    momentum: 0.9
  - optimizer: Adam
    lr: 0.1
  - optimizer: RMSprop
    lr: 0.01
    label: RMSprop (slow)   # optional; so is style, e.g. style: gs or "#E69F00s"
animation:
  interval: 100       # ms per frame
  size: [640, 480]
  # trail: 10         # a fading trail of each racer's last 10 epochs
  # scale: 2          # twice the pixels, same layout (high-density screens)
  # font_scale: 1.5   # every text 1.5 times larger (projectors, papers)
  # theme: dark       # light (default) or dark, for slides
"""


def write_starter(path: Path) -> None:
    """Write the starter config to ``path``, which must not exist yet.

    Raises:
        UsageError: ``path`` exists.
        OutputError: ``path`` cannot be written.
    """
    if path.exists():
        raise UsageError(f"'{path}' exists; give another path, or remove it first")
    with opened([Output("config", path)]) as files:
        for file in files.values():
            file.path.write_text(STARTER.format(name=path), encoding="utf-8")
