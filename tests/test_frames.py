"""Long races: a chosen number of evenly spaced frames; the traces keep every epoch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from optrace._core.frames import frame_epochs
from optrace.spec.model import AnimationConfig


def test_frame_epochs_are_even_and_keep_both_ends() -> None:
    assert frame_epochs(100_000, 5).tolist() == [0, 25_000, 50_000, 75_000, 100_000]
    assert frame_epochs(10, 50).tolist() == list(range(11))
    chosen = frame_epochs(999, 300)
    assert len(chosen) == 300 and chosen[0] == 0 and chosen[-1] == 999
    gaps = chosen[1:] - chosen[:-1]
    assert gaps.max() - gaps.min() <= 1


def test_duration_sets_the_frame_count() -> None:
    assert AnimationConfig(interval=50, duration=10).frame_count(100_000) == 200
    assert AnimationConfig(frames=40).frame_count(100_000) == 40
    assert AnimationConfig(frames=40).frame_count(9) == 10
    assert AnimationConfig().frame_count(9) == 10


def test_frames_option_thins_the_animation_but_not_the_traces(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    small_config["epochs"] = 400
    small_config["animation"]["frames"] = 50
    config = write_config(small_config)
    gif, csv = tmp_path / "a.gif", tmp_path / "t.csv"
    assert invoke("run", config, "--gif", gif, "--traces", csv).exit_code == 0
    with Image.open(gif) as im:
        assert im.n_frames == 50
    assert len(csv.read_text().splitlines()) == 1 + 2 * 401
    assert invoke("run", config, "--gif", gif, "--frames", "12").exit_code == 0
    with Image.open(gif) as im:
        assert im.n_frames == 12


def test_file_export_never_imports_pyplot(
    tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    config = write_config(small_config)
    code = (
        "import sys\n"
        f"sys.argv = ['optrace', 'run', {str(config)!r}, '--gif', {str(tmp_path / 'a.gif')!r}]\n"
        "from optrace.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('matplotlib.pyplot' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "False True"
