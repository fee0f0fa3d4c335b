"""Bad input: one line naming the key and the fix, exit 2, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BASE = "function: peaks-slice\nepochs: 10\n"

BAD = {
    "empty file": ("", "the config is empty; it needs at least 'function', 'epochs' and 'racers'"),
    "not a mapping": ("- SGD\n- Adam\n", "the top level must be a mapping of keys"),
    "YAML syntax error": (
        BASE + "racers: [{optimizer: SGD\nanimation: {}\n",
        "line 4, column 10: YAML syntax error",
    ),
    "unknown top-level key": (
        BASE + "epoch: 5\nracers: [{optimizer: SGD}]\n",
        "epoch: unknown key (did you mean 'epochs'?); valid keys are title, function",
    ),
    "top-level key with a bracket": (
        "racers[0]: {optimizer: SGD}\n",
        "['racers[0]']: unknown key (did you mean 'racers'?); valid keys are title, function",
    ),
    "nested key with a bracket": (
        BASE + "racers: [{optimizer: SGD}]\nanimation: {'size[0]': 64}\n",
        "animation['size[0]']: unknown key (did you mean 'size'?); valid keys are interval, size",
    ),
    "unknown optimizer": (
        BASE + "racers: [{optimizer: SGD}, {optimizer: Adamm}]\n",
        "racers[1].optimizer: unknown optimizer 'Adamm' (did you mean 'Adam'?)",
    ),
    "unknown hyperparameter": (
        BASE + "racers: [{optimizer: SGD, momentun: 0.9}]\n",
        "racers[0].momentun: SGD has no hyperparameter 'momentun' (did you mean 'momentum'?)",
    ),
    "wrong type": (
        BASE + "racers: [{optimizer: SGD}, {optimizer: Adam}, {optimizer: SGD, lr: fast}]\n",
        "racers[2].lr: expected a number, got 'fast'",
    ),
    "quoted number": (
        BASE + "racers: [{optimizer: SGD, lr: '0.1'}]\n",
        "racers[0].lr: expected a number, got '0.1' (write numbers without quotes)",
    ),
    "out of range": (
        BASE + "racers: [{optimizer: SGD, lr: -1}]\n",
        "racers[0].lr: SGD rejects lr=-1: Invalid learning rate: -1",
    ),
    "value the step rejects": (
        BASE + "racers: [{optimizer: LBFGS, line_search_fn: wolfe}]\n",
        "racers[0].line_search_fn: LBFGS rejects line_search_fn='wolfe'",
    ),
    "epochs 0": (
        "function: peaks-slice\nepochs: 0\nracers: [{optimizer: SGD}]\n",
        "epochs: must be at least 1, got 0",
    ),
    "no racers": (BASE + "racers: []\n", "racers: needs at least one racer"),
    "duplicate labels": (
        BASE + "racers: [{optimizer: SGD, label: a}, {optimizer: Adam, label: a}]\n",
        "racers[1].label: 'a' is already the label of racers[0]",
    ),
    "dotted path to a non-optimizer": (
        BASE + "racers: [{optimizer: math.pi}]\n",
        "racers[0].optimizer: 'math.pi' is not a torch.optim.Optimizer subclass",
    ),
    "dotted path to a missing module": (
        BASE + "racers: [{optimizer: nosuchmodule.Opt}]\n",
        "racers[0].optimizer: cannot import 'nosuchmodule': no module named 'nosuchmodule'",
    ),
    "python object tag": (
        "function: peaks-slice\nepochs: !!python/object/apply:os.system [touch pwned]\n"
        "racers: [{optimizer: SGD}]\n",
        "line 2, column 9: the tag '!!python/object/apply:os.system' is not allowed",
    ),
    "optimizer that cannot step a dense parameter": (
        BASE + "racers: [{optimizer: SparseAdam}]\n",
        "racers[0].optimizer: SparseAdam cannot race here: SparseAdam does not support dense",
    ),
    "optimizer that cannot step a scalar": (
        BASE + "racers: [{optimizer: Muon, lr: 0.1}]\n",
        "racers[0].optimizer: Muon cannot race here: Muon only supports 2D parameters",
    ),
    "duplicate key": (
        BASE + "epochs: 20\nracers: [{optimizer: SGD}]\n",
        "line 3, column 1: YAML syntax error: duplicate key 'epochs'",
    ),
    "start outside the domain": (
        BASE + "start: 9\nracers: [{optimizer: SGD}]\n",
        "start: 9.0 lies outside the domain [-5.0, 5.0]",
    ),
    "bad style": (
        BASE + "racers: [{optimizer: SGD, style: qq}]\n",
        "racers[0].style: 'qq' is not a valid format string",
    ),
    "unknown function": (
        "function: peak-slice\nepochs: 3\nracers: [{optimizer: SGD}]\n",
        "function.name: unknown function 'peak-slice' (did you mean 'peaks-slice'?)",
    ),
    "tuple of the wrong length": (
        BASE + "racers: [{optimizer: Adam, betas: [0.9, 0.9, 0.9]}]\n",
        "racers[0].betas: expected 2 values like [0.9, 0.999], got 3",
    ),
    "absurd race": (
        "function: peaks-slice\nepochs: 1000000000\nstarts: {random: 10000}\n"
        "racers: [{optimizer: Adam}]\n",
        "epochs: this race (1 racer x 10000 starts x 1000000001 epochs of traces) would need "
        "about 145.5 TiB and 63.1 days; the limits are 4.0 GiB and 2.0 hours: make it smaller, "
        "or race with --no-limits",
    ),
    "absurd frame size": (
        BASE + "racers: [{optimizer: SGD}]\nanimation: {size: [30000, 30000]}\n",
        "animation.size: the animation (11 frames of 30000x30000) would need about 13.4 GiB",
    ),
    "impossible frame size": (
        BASE + "racers: [{optimizer: SGD}]\nanimation: {size: [100000, 100000]}\n",
        "animation.size: width and height must each be between 16 and 32767 pixels",
    ),
    "absurd grid of starts": (
        BASE + "starts: {grid: 1000000000000}\nracers: [{optimizer: SGD}]\n",
        "starts: this race (1 racer x 1000000000000 starts x 11 epochs of traces)",
    ),
    "short size": (
        BASE + "racers: [{optimizer: SGD}]\nanimation: {size: [10]}\n",
        "animation.size: expected a list of two numbers [width, height]",
    ),
}


@pytest.mark.parametrize("text, message", BAD.values(), ids=list(BAD))
def test_bad_config_is_one_line_exit_2_and_no_file(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], text: str, message: str
) -> None:
    config = write_config(text)
    out = tmp_path / "out"
    out.mkdir()
    for command in (
        ["validate", config],
        ["run", config, "--gif", out / "a.gif", "--mp4", out / "a.mp4", "--traces", out / "t.csv"],
    ):
        result = invoke(*command)
        assert result.exit_code == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"Error: {config}: {message}")
        assert result.stdout == ""
    assert list(out.iterdir()) == []
    assert not (tmp_path / "pwned").exists()


def test_config_file_that_does_not_exist(invoke: Any, tmp_path: Path) -> None:
    result = invoke("run", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_traces_with_an_unknown_suffix_is_a_usage_error(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    result = invoke(
        "run",
        write_config(small_config),
        "--traces",
        tmp_path / "t.txt",
        "--gif",
        tmp_path / "a.gif",
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: --traces {tmp_path / 't.txt'}: a traces file's name ends in .csv or .json\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.yaml"]


@pytest.mark.parametrize(
    "flag, name, message",
    [
        ("--gif", "x.png", "a GIF's name ends in .gif"),
        ("--gif", "race", "a GIF's name ends in .gif"),
        ("--gif", "race.anim", "a GIF's name ends in .gif"),
        ("--mp4", "x.gif", "an MP4's name ends in .mp4"),
        ("--html", "x.png", "a player's name ends in .html or .htm"),
        ("--still", "x.gif", "a still's name ends in .png, .svg or .pdf"),
        ("--still", "x.html", "a still's name ends in .png, .svg or .pdf"),
        ("--traces", "x.gif", "a traces file's name ends in .csv or .json"),
        ("--summary", "x.csv", "a summary's name ends in .json"),
    ],
)
def test_an_output_with_another_kinds_suffix_is_one_line_and_nothing_is_written(
    invoke: Any,
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_config: dict[str, Any],
    flag: str,
    name: str,
    message: str,
) -> None:
    config = write_config(small_config)
    result = invoke("run", config, "--traces", tmp_path / "t.csv", flag, tmp_path / name)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {flag} {tmp_path / name}: {message}\n"
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.yaml"]


def test_an_output_suffix_is_read_in_any_case(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    result = invoke("run", write_config(small_config), "--gif", tmp_path / "A.GIF")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "A.GIF").read_bytes()[:6] == b"GIF89a"


def test_odd_size_for_mp4_is_a_usage_error(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    small_config["animation"]["size"] = [161, 120]
    result = invoke("run", write_config(small_config), "--mp4", tmp_path / "a.mp4")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: animation.size: MP4 (H.264) needs an even width")
    assert "use 162x120" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.yaml"]


def test_unwritable_output_is_exit_1_and_leaves_nothing(
    invoke: Any, tmp_path: Path, write_config: Callable[..., Path], small_config: dict[str, Any]
) -> None:
    config = write_config(small_config)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = invoke("run", config, "--gif", tmp_path / "ok.gif", "--mp4", blocker / "a.mp4")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot write '{blocker / 'a.mp4'}': folder '{blocker}' does not exist\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "race.yaml"]


def test_encoder_failure_mid_export_keeps_the_old_file_and_leaves_no_part(
    invoke: Any,
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optrace.export import gif as writers

    config = write_config(small_config)
    gif = tmp_path / "race.gif"
    gif.write_bytes(b"old")
    frames = []
    real_append = writers.GifSink.append

    def failing_append(self: writers.GifSink, frame: Any) -> None:
        frames.append(1)
        if len(frames) == 4:
            raise OSError(28, "No space left on device")
        real_append(self, frame)

    monkeypatch.setattr(writers.GifSink, "append", failing_append)
    result = invoke("run", config, "--gif", gif, "--traces", tmp_path / "t.csv")
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: writing the animation failed: [Errno 28] No space left on device\n"
    )
    assert gif.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.gif", "race.yaml"]


def test_yaml_alias_bomb_is_refused_before_it_expands(
    invoke: Any, write_config: Callable[..., Path]
) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    config = write_config(
        "\n".join(lines)
        + "\nfunction: peaks-slice\nepochs: 1\nracers: [{optimizer: SGD, lr: *a8}]\n"
    )
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}: YAML: the document stands for more than 200000 values (aliases "
        "that repeat aliases?); write a smaller config\n"
    )


def test_deeply_nested_yaml_is_refused(invoke: Any, write_config: Callable[..., Path]) -> None:
    config = write_config("title: " + "[" * 20000 + "]" * 20000 + "\n")
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {config}: YAML: the document is nested too deeply\n"


def test_anchors_and_aliases_that_stay_small_are_fine(
    invoke: Any, write_config: Callable[..., Path]
) -> None:
    config = write_config(
        "function: peaks-slice\nepochs: 2\nstart: 0.5\n"
        "racers:\n  - &adam {optimizer: Adam, lr: 0.1}\n  - {<<: *adam, lr: 0.2, label: again}\n"
    )
    result = invoke("validate", config)
    assert result.exit_code == 0, result.stderr
    assert "(Adam, again)" in result.stdout


def test_no_limits_lets_a_race_past_the_limits(
    invoke: Any,
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optrace.engine import cost

    monkeypatch.setattr(cost, "MEMORY_LIMIT", 100)
    config = write_config(small_config)
    refused = invoke("run", config, "--traces", tmp_path / "t.csv")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Error: {config}: epochs: this race (2 racers x 1 starts")
    assert "race with --no-limits" in refused.stderr
    assert not (tmp_path / "t.csv").exists()
    allowed = invoke("run", config, "--traces", tmp_path / "t.csv", "--no-limits")
    assert allowed.exit_code == 0
    assert (tmp_path / "t.csv").exists()
    assert invoke("validate", config, "--no-limits").exit_code == 0


def test_an_optimizer_step_that_would_not_end_is_refused(
    invoke: Any, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from optrace.engine import cost

    monkeypatch.setattr(cost, "PROBE_SECONDS", 0.5)
    config = write_config(
        BASE + "racers: [{optimizer: LBFGS, max_iter: 1000000000, tolerance_grad: 0.0, "
        "tolerance_change: 0.0}]\nstart: 0.3\n"
    )
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}: racers[0]: one step of LBFGS took over 0.5 s on a single number; "
        "check hyperparameters such as max_iter, or race with --no-limits\n"
    )


def test_slow_steps_count_in_the_cost_estimate(
    invoke: Any, write_config: Callable[..., Path]
) -> None:
    # LBFGS runs up to max_iter evaluations a step: far slower than one SGD step.
    config = write_config(
        "function: peaks-slice\nepochs: 200000\nstart: 0.3\nracers: [{optimizer: LBFGS, "
        "max_iter: 400, tolerance_grad: 0.0, tolerance_change: 0.0, history_size: 2}]\n"
    )
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert "epochs: this race (1 racer x 1 starts x 200000 epochs) would need" in result.stderr
