"""How a race is drawn into any output: its size, timing and scene options."""

from __future__ import annotations

from dataclasses import dataclass, field

from optrace.render.options import SceneOptions


@dataclass(frozen=True)
class Timing:
    """How an animation file plays: milliseconds per frame, and whether it loops."""

    interval: int = 200
    loop: bool = True


@dataclass(frozen=True)
class Drawing:
    """How the animation and the stills are drawn.

    Attributes:
        size: The figure's ``(width, height)`` in pixels at scale 1.
        interval: Milliseconds per animation frame.
        loop: Whether the animation starts over at its end.
        options: What the scene draws (panels, trails, view, look).

    Examples:
        >>> Drawing((320, 240), interval=50).timing
        Timing(interval=50, loop=True)
    """

    size: tuple[int, int]
    interval: int = 200
    loop: bool = True
    options: SceneOptions = field(default_factory=SceneOptions)

    @property
    def timing(self) -> Timing:
        """The animation's timing: its interval and whether it loops."""
        return Timing(self.interval, self.loop)
