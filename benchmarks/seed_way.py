"""The seed notebook's way, as a script: torch traces, then FuncAnimation saved with
matplotlib's PillowWriter (the notebook used the imagemagick writer, not installed here).

Run as ``python benchmarks/seed_way.py OUT.gif``; the benchmark times it against
``optrace run configs/seed.yaml --gif``. ``render`` is also imported by the
benchmark to time the seed's rendering alone on optrace's traces.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: TID251 - the seed's way is pyplot's way
import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter

STYLES = [("SGD", "ro"), ("Adam", "kp"), ("Adagrad", "b<"), ("Adadelta", "k*"), ("RMSprop", "rv")]


def model(x, y=-0.5):  # type: ignore[no-untyped-def]
    a = (-(x**2) - (y + 1) ** 2).exp()
    b = (-(x**2) - y**2).exp()
    c = (-((x + 1) ** 2) - y**2).exp()
    return (3 * (x - 1) ** 2) * a - 10 * (1 / 5 * x - x**3 - y**5) * b - 1 / 3 * c


def train(x, optimizer, epochs, points):  # type: ignore[no-untyped-def]
    z0 = model(x)
    for _ in range(epochs):
        z0.backward()
        optimizer.step()
        z1 = model(x)
        optimizer.zero_grad()
        z0 = z1
        points.append((x.data.item(), z0.data.item()))


def traces(start: float, epochs: int = 100) -> list[list[tuple[float, float]]]:
    import torch

    settings = {
        "SGD": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}),
        "Adam": (torch.optim.Adam, {"lr": 0.1}),
        "Adagrad": (torch.optim.Adagrad, {"lr": 0.1}),
        "Adadelta": (torch.optim.Adadelta, {"lr": 2}),
        "RMSprop": (torch.optim.RMSprop, {"lr": 0.1, "alpha": 0.9}),
    }
    out = []
    for name, _ in STYLES:
        cls, kw = settings[name]
        x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
        points = [(start, model(x).item())]
        train(x, cls([x], **kw), epochs, points)
        out.append(points)
    return out


def render(
    data: Sequence[tuple[Sequence[tuple[float, float]], str, str]],
    path: str,
    interval: int = 500,
    title: str = "optimizer analysis",
) -> None:
    """The notebook's plot(), with every frame saved (save_count) by PillowWriter."""
    step = 0.01
    xs = np.arange(-5, 5, step)
    y = -0.5
    zs = (
        (3 * (1 - xs) ** 2) * np.exp(-(xs**2) - (y + 1) ** 2)
        - 10 * (xs / 5 - xs**3 - y**5) * np.exp(-(xs**2) - y**2)
        - 1 / 3 * np.exp(-((xs + 1) ** 2) - y**2)
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    time_text = ax.text(0.05, 0.9, "", transform=ax.transAxes)
    dot_plots, labels, trace_list = [], [], []
    for points, marker, label in data:
        dot_plots.append(ax.plot([], [], marker, markersize=10)[0])
        labels.append(label)
        trace_list.append(points)

    def init():  # type: ignore[no-untyped-def]
        ax.plot(xs, zs)
        ax.set_title(title)
        time_text.set_text("")
        return ax, time_text

    def gen_dot():  # type: ignore[no-untyped-def]
        for i in range(len(trace_list[0])):
            yield [trace[i] for trace in trace_list] + [i]

    def update_dot(newd):  # type: ignore[no-untyped-def]
        time_text.set_text(f"times={newd[-1]}")
        for idx, dot_plot in enumerate(dot_plots):
            dot_plot.set_data([newd[idx][0]], [newd[idx][1]])
        ax.legend(handles=dot_plots, labels=labels, loc="best")
        return dot_plots

    ani = FuncAnimation(
        fig,
        update_dot,
        frames=gen_dot,
        interval=interval,
        init_func=init,
        repeat=False,
        save_count=len(trace_list[0]),
    )
    ani.save(path, writer=PillowWriter(fps=1000 / interval))
    plt.close(fig)


def main() -> None:
    import torch

    start = torch.randn(1, generator=torch.Generator().manual_seed(0), dtype=torch.float64).item()
    runs = traces(start)
    render(
        [(points, style, name) for points, (name, style) in zip(runs, STYLES, strict=True)],
        sys.argv[1],
    )


if __name__ == "__main__":
    main()
