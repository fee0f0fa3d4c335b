"""Run in a subprocess under Xvfb: play a race in the Qt window, grab the screen
at one frame, and report what was drawn as JSON on stdout."""

import json
import sys
from pathlib import Path

from optrace.engine.loop import run
from optrace.engine.plan import prepare
from optrace.export.drawing import Drawing
from optrace.export.window import show
from optrace.render.options import SceneOptions
from optrace.spec.loading import load_config

config, shot_path, grab_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
loaded = load_config(config)
result = run(prepare(loaded, config.parent))
options = SceneOptions.of(loaded.animation, result.dims)
drawn: list[int] = []
seen: dict[str, object] = {}


def on_frame(frame: int) -> None:
    drawn.append(frame)
    if frame == grab_at and "backend" not in seen:
        import matplotlib
        import matplotlib.pyplot as plt  # noqa: TID251 - the window's own figure
        from PySide6.QtGui import QGuiApplication

        canvas = plt.gcf().canvas
        # What the X server shows: the frame before this one, already blitted.
        QGuiApplication.primaryScreen().grabWindow(canvas.winId()).save(shot_path)
        seen.update(
            backend=matplotlib.get_backend(),
            visible=canvas.isVisible(),
            title=canvas.window().windowTitle(),
        )


drawing = Drawing((320, 240), interval=30, options=options)
show(result, drawing, close_when_done=True, on_frame=on_frame)
print(json.dumps({"drawn": drawn, **seen}))
