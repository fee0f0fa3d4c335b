"""Property tests: whatever the YAML, a config validates or is refused in one line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from optrace._core.errors import ConfigError
from optrace.engine.plan import load

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
optimizer_names = st.sampled_from(
    [
        "SGD",
        "Adam",
        "LBFGS",
        "Rprop",
        "Adafactor",
        "SparseAdam",
        "Muon",
        "Adamm",
        "math.pi",
        "torch.optim.AdamW",
        "",
        "nosuchmodule.Opt",
        ".Adam",
        "torch..optim",
    ]
)
hyper_names = st.sampled_from(
    [
        "lr",
        "momentum",
        "betas",
        "eps",
        "weight_decay",
        "nesterov",
        "max_iter",
        "alpha",
        "rho",
        "amsgrad",
        "etas",
        "params",
        "momentun",
        "foreach",
        "maximize",
        "centered",
    ]
)
valid_hyper = st.fixed_dictionaries(
    {}, optional={"lr": st.floats(1e-4, 1.0), "momentum": st.floats(0, 0.99)}
)
racer = st.one_of(
    st.builds(
        lambda name, hyper: {"optimizer": name, **hyper},
        st.sampled_from(["SGD", "Adam", "RMSprop", "Adagrad"]),
        valid_hyper,
    ),
    st.builds(
        lambda name, hyper, extra: {"optimizer": name, **hyper, **extra},
        optimizer_names,
        st.dictionaries(hyper_names, scalars, max_size=3),
        st.dictionaries(st.sampled_from(["label", "style"]), scalars, max_size=2),
    ),
)


valid_fields = {
    "title": st.text(max_size=20),
    "function": st.one_of(
        st.just("peaks-slice"),
        st.fixed_dictionaries({"name": st.just("peaks-slice"), "y": st.floats(-1, 1)}),
    ),
    "domain": st.just([-4.0, 4.0]),
    "start": st.floats(-1, 1),
    "seed": st.integers(0, 100),
    "epochs": st.integers(1, 3),
    "racers": st.lists(racer, min_size=1, max_size=3),
    "animation": st.fixed_dictionaries(
        {},
        optional={
            "interval": st.integers(1, 1000),
            "size": st.just([64, 48]),
            "frames": st.integers(2, 5),
        },
    ),
}
weird_fields = {
    **{key: values for key in valid_fields},
    "function": st.one_of(
        values, st.fixed_dictionaries({"name": st.just("peaks-slice"), "y": scalars})
    ),
    "domain": st.one_of(values, st.lists(st.floats(-10, 10), min_size=2, max_size=2)),
    "start": st.one_of(st.just("random"), scalars),
    "starts": st.one_of(
        values,
        st.lists(st.floats(-6, 6), max_size=5),
        st.dictionaries(st.sampled_from(["grid", "random", "x"]), scalars, max_size=1),
    ),
    "epochs": st.one_of(st.integers(-3, 0), scalars),
    "animation": st.one_of(
        values,
        st.dictionaries(
            st.sampled_from(["interval", "size", "loop", "frames", "duration", "fps"]),
            values,
            max_size=3,
        ),
    ),
    "extra": values,
}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid config with up to two fields removed or replaced by anything."""
    doc: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {k: valid_fields[k] for k in ("function", "epochs", "racers")},
            optional={
                k: v for k, v in valid_fields.items() if k not in ("function", "epochs", "racers")
            },
        )
    )
    for key in draw(st.lists(st.sampled_from(sorted(weird_fields)), max_size=2, unique=True)):
        if draw(st.booleans()) and key in doc:
            del doc[key]
        else:
            doc[key] = draw(weird_fields[key])
    return doc


_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_INDEX = r"""\[(?:-?\d+|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\]'"]+)\]"""
#: Where a one-line config error points: a key path such as racers[1].lr or
#: racers[0]['odd key'], a line and column, a character, or the YAML as a whole.
PLACE = re.compile(
    rf"(?:(?:{_NAME}|{_INDEX})(?:\.{_NAME}|{_INDEX})*|line \d+, column \d+|character \d+|YAML)"
    r": ['(\[\w-]"
)


def check_one(path: Path) -> None:
    """Validate like ``optrace validate``: success, or a ConfigError with a one-line message."""
    try:
        load(path)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith(str(path) + ": ")
        rest = message[len(str(path)) + 2 :]
        # Either the whole document ("the config is empty", ...) or a place:
        # a key path (racers[1].lr), a line and column, or a character; then
        # a message that says what is wrong.
        assert rest.startswith("the ") or PLACE.match(rest), rest


@SETTINGS
@given(documents())
# Hypothesis's find: a start outside the domain is named by its value, which may be
# negative ("start: -6.0 lies outside the domain ...").
@example({"function": "quartic", "start": -6, "epochs": 3, "racers": [{"optimizer": "SGD"}]})
def test_any_mapping_validates_or_fails_in_one_line(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    check_one(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fuzz.yaml"]


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_validates_or_fails_in_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    check_one(path)


@SETTINGS
@given(values)
@example({"[": None})  # Hypothesis's find: a key like 'racers[0]' was taken for a union branch
@example({"racers[0]": {"optimizer": "SGD"}})
def test_any_yaml_value_at_the_top_level(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc))
    check_one(path)
