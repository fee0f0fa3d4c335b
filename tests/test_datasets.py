"""A model race's data: the bundled sets against scikit-learn's own loaders, the seeded
split, the standardisation recomputed by hand, CSV files, and every bad input's one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optrace._core.errors import ConfigError
from optrace.problems.datasets import (
    CROSS_ENTROPY,
    DATASETS,
    MSE,
    Dataset,
    default_loss,
    load_dataset,
    loss_fits,
)


def sklearn_raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The raw features and targets as scikit-learn itself loads them."""
    datasets = pytest.importorskip("sklearn.datasets")
    if name == "diabetes":
        return datasets.load_diabetes(return_X_y=True, scaled=False)
    return getattr(datasets, f"load_{name}")(return_X_y=True)


def raw(d: Dataset, X: np.ndarray) -> np.ndarray:
    """Standardised features back in their own units."""
    assert d.mean is not None and d.scale is not None
    return X * d.scale + d.mean


def write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    return file


@pytest.mark.parametrize(
    "name, classes",
    [("digits", 10), ("iris", 3), ("wine", 3), ("breast_cancer", 2), ("diabetes", None)],
)
def test_each_bundled_set_is_scikit_learns_split_by_the_seeds_permutation(
    name: str, classes: int | None
) -> None:
    """Sizes, classes and every row against scikit-learn's loader and a permutation drawn
    here: the test part is its first round(0.2 n) rows, the training part the rest."""
    X, y = sklearn_raw(name)
    n = len(X)
    d = load_dataset(name, seed=3, test=0.2)
    held = int(np.floor(0.2 * n + 0.5))
    order = np.random.default_rng(3).permutation(n)
    assert d.name == name and d.classes == classes
    assert d.features == X.shape[1] and d.X.shape == (n - held, X.shape[1])
    assert d.X_test is not None and d.y_test is not None and d.X_test.shape == (held, X.shape[1])
    assert d.X.dtype == np.float64 and d.X_test.dtype == np.float64
    np.testing.assert_allclose(raw(d, d.X), X[order[held:]], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(raw(d, d.X_test), X[order[:held]], rtol=1e-12, atol=1e-9)
    if classes is None:
        assert d.y.dtype == np.float64 and d.labels is None and d.outputs == 1
        np.testing.assert_array_equal(d.y, y[order[held:]])
    else:
        assert d.y.dtype == np.int64 and d.labels is not None and len(d.labels) == classes
        assert d.outputs == classes and len(np.unique(y)) == classes
        np.testing.assert_array_equal(d.y, y[order[held:]])
        np.testing.assert_array_equal(d.y_test, y[order[:held]])


def test_digits_describes_itself() -> None:
    pytest.importorskip("sklearn.datasets")
    d = load_dataset("digits", seed=0, test=0.2)  # 0.2 x 1,797 = 359.4 -> 359
    assert d.describe() == "digits: 1,438 training + 359 test examples, 64 features, 10 classes"
    assert load_dataset("diabetes", seed=0, test=0).describe() == (
        "diabetes: 442 training examples, 10 features, a real-valued target"
    )


def test_the_split_is_the_seeds_and_covers_every_row_once() -> None:
    """The same seed gives the same split, another a different one; train and test are
    disjoint and together the whole set, row for row (as multisets of rows)."""
    X, _ = sklearn_raw("iris")
    a = load_dataset("iris", seed=7, test=0.3)
    b = load_dataset("iris", seed=7, test=0.3)
    c = load_dataset("iris", seed=8, test=0.3)
    assert a.X_test is not None and b.X_test is not None and c.X_test is not None
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(raw(a, a.X_test), raw(c, c.X_test))
    assert len(a.X_test) == 45 and len(a.X) == 105

    def rows(M: np.ndarray) -> list[tuple[float, ...]]:
        return sorted(tuple(r) for r in np.round(M, 6))

    train, test = rows(raw(a, a.X)), rows(raw(a, a.X_test))
    assert rows(np.concatenate([raw(a, a.X), raw(a, a.X_test)])) == rows(X)
    # iris repeats a few rows: disjoint means each row is used as often as it occurs.
    counts = {r: rows(X).count(r) for r in set(rows(X))}
    assert all(train.count(r) + test.count(r) == k for r, k in counts.items())


def test_features_are_standardised_on_the_training_part_only() -> None:
    """Training mean 0, s.d. 1 for every feature that varies, constant ones 0; the test
    part uses the training statistics, recomputed here from the raw rows."""
    X, _ = sklearn_raw("digits")
    d = load_dataset("digits", seed=1, test=0.25)
    assert d.X_test is not None
    n, held = len(X), int(np.floor(0.25 * len(X) + 0.5))
    order = np.random.default_rng(1).permutation(n)
    train, test = X[order[held:]], X[order[:held]]
    varies = train.max(axis=0) > train.min(axis=0)
    assert 0 < varies.sum() < 64  # digits has blank pixels on its training part
    np.testing.assert_allclose(d.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d.X[:, varies].std(axis=0), 1, rtol=1e-12)
    assert np.all(d.X[:, ~varies] == 0)
    mean, sd = train.mean(axis=0), train.std(axis=0)
    by_hand = (test - mean) / np.where(varies, sd, 1.0)
    np.testing.assert_allclose(d.X_test, by_hand, rtol=1e-12, atol=1e-12)


def test_a_feature_constant_on_the_training_part_is_only_centred(tmp_path: Path) -> None:
    """Its training column is 0; a test example that differs keeps its raw offset."""
    odd = int(np.random.default_rng(0).permutation(10)[0])  # the one test example
    rows = "".join(f"{i},{9.5 if i == odd else 0.1},{i % 2}\n" for i in range(10))
    write(tmp_path, "x,c,y\n" + rows)
    d = load_dataset({"csv": "d.csv", "target": "y"}, seed=0, test=0.1, folder=tmp_path)
    assert d.X_test is not None and np.all(d.X[:, 1] == 0)
    assert d.X_test[0, 1] == pytest.approx(9.4)


def test_moons_are_make_moons_with_the_seed() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.make_moons(n_samples=500, noise=0.2, random_state=4)
    d = load_dataset("moons", seed=4, test=0)
    assert d.X_test is None and d.y_test is None and d.classes == 2 and len(d.X) == 500
    order = np.random.default_rng(4).permutation(500)
    np.testing.assert_allclose(raw(d, d.X), X[order], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(d.y, y[order])
    other = load_dataset("moons", seed=5, test=0)
    assert not np.allclose(np.sort(raw(d, d.X), axis=0), np.sort(raw(other, other.X), axis=0))


def test_a_csv_of_integer_labels_is_a_classification_remapped_in_order(tmp_path: Path) -> None:
    """Labels 3, 5, 7 (written 7, "5.0", 3) become 0, 1, 2; the column may be anywhere."""
    write(tmp_path, 'a,label,b\n1,7,10\n2,"5.0",20\n\n3,3,30\n4,7,40\n')
    d = load_dataset({"csv": "d.csv", "target": "label"}, seed=0, test=0, folder=tmp_path)
    order = np.random.default_rng(0).permutation(4)
    assert d.name == "d.csv" and d.classes == 3 and d.labels == ("3", "5", "7")
    assert d.y.dtype == np.int64
    np.testing.assert_array_equal(d.y, np.array([2, 1, 0, 2])[order])
    np.testing.assert_allclose(raw(d, d.X), np.array([[1, 10], [2, 20], [3, 30], [4, 40]])[order])
    assert default_loss(d) == CROSS_ENTROPY
    loss_fits(CROSS_ENTROPY, d)


def test_a_csv_of_named_labels_is_a_classification_in_alphabetical_order(tmp_path: Path) -> None:
    write(tmp_path, "x,kind\n0.5,versicolor\n1.5,setosa\n2.5,virginica\n3.5,setosa\n")
    d = load_dataset({"csv": str(tmp_path / "d.csv"), "target": "kind"}, seed=2, test=0.5)
    assert d.labels == ("setosa", "versicolor", "virginica") and d.classes == 3
    assert d.y_test is not None and d.X_test is not None
    names = np.array(["versicolor", "setosa", "virginica", "setosa"])
    got = np.concatenate([d.y, d.y_test])
    order = np.random.default_rng(2).permutation(4)
    assert [d.labels[k] for k in got] == list(names[np.concatenate([order[2:], order[:2]])])


def test_a_csv_of_fractions_or_many_integers_is_a_regression(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n1,0.5\n2,1\n3,2\n", "frac.csv")
    d = load_dataset({"csv": "frac.csv", "target": "y"}, seed=0, test=0, folder=tmp_path)
    assert d.classes is None and d.labels is None and d.y.dtype == np.float64
    assert sorted(d.y) == [0.5, 1.0, 2.0] and default_loss(d) == MSE
    loss_fits(MSE, d)
    # 101 distinct whole numbers: a quantity, not 101 classes.
    write(tmp_path, "x,y\n" + "".join(f"{i},{3 * i}\n" for i in range(101)), "many.csv")
    many = load_dataset({"csv": "many.csv", "target": "y"}, seed=0, test=0, folder=tmp_path)
    assert many.classes is None
    write(tmp_path, "x,y\n" + "".join(f"{i},{i % 100}\n" for i in range(200)), "hundred.csv")
    hundred = load_dataset({"csv": "hundred.csv", "target": "y"}, seed=0, test=0, folder=tmp_path)
    assert hundred.classes == 100


def test_task_overrides_the_guess(tmp_path: Path) -> None:
    write(tmp_path, "x,count\n1,0\n2,1\n3,4\n4,1\n")
    spec: dict[str, Any] = {"csv": "d.csv", "target": "count"}
    assert load_dataset(spec, seed=0, test=0, folder=tmp_path).classes == 3
    values = load_dataset({**spec, "task": "regression"}, seed=0, test=0, folder=tmp_path)
    assert values.classes is None and sorted(values.y) == [0.0, 1.0, 1.0, 4.0]
    write(tmp_path, "x,y\n1,0.5\n2,1.5\n3,0.5\n", "f.csv")
    classes = load_dataset(
        {"csv": "f.csv", "target": "y", "task": "classification"}, seed=0, test=0, folder=tmp_path
    )
    assert classes.labels == ("0.5", "1.5")


def test_a_csv_and_the_module_need_no_scikit_learn(tmp_path: Path) -> None:
    """In an interpreter where scikit-learn cannot be imported, a CSV loads, the module
    imports nothing of scikit-learn, and a bundled set says how to install it."""
    write(tmp_path, "a,b,y\n1,2,0\n3,4,1\n5,6,0\n")
    script = f"""
import json, sys
sys.modules["sklearn"] = None  # import sklearn now fails as if it were not installed
from optrace.problems.datasets import load_dataset
from optrace._core.errors import UsageError
d = load_dataset({{"csv": {str(tmp_path / "d.csv")!r}, "target": "y"}}, seed=0, test=0)
try:
    load_dataset("iris", seed=0, test=0)
except UsageError as e:
    message = str(e)
print(json.dumps([d.describe(), message]))
"""
    env_path = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(out.stdout) == [
        "d.csv: 3 training examples, 2 features, 2 classes",
        "the iris data set needs scikit-learn: pip install 'optrace[models]'",
    ]
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, optrace.problems.datasets; print('sklearn' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert imported.stdout.strip() == "False"


CSV = "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n"

#: (file text or None for no file, data, test, the message's start).
BAD: list[tuple[str | None, Any, Any, str]] = [
    (
        None,
        "digit",
        0.2,
        "model.data: unknown data set 'digit' (did you mean 'digits'?); known: "
        "digits, iris, wine, breast_cancer, diabetes, moons, or {csv: FILE, target: COLUMN}",
    ),
    (None, 3, 0.2, "model.data: expected a data set's name (digits, iris"),
    (
        CSV,
        {"target": "label"},
        0.2,
        "model.data: a CSV data set needs csv: FILE (and target: COLUMN)",
    ),
    (
        CSV,
        {"csv": "d.csv", "target": "label", "tagret": 1},
        0.2,
        "model.data.tagret: unknown key (did you mean 'target'?); a CSV data set takes csv: FILE, "
        "target: COLUMN and optionally task: classification | regression",
    ),
    (
        CSV,
        {"csv": "d.csv", "target": "label", "task": "classes"},
        0.2,
        "model.data.task: expected classification or regression, got 'classes'",
    ),
    (None, {"csv": "gone.csv", "target": "label"}, 0.2, "model.data.csv: no such file: "),
    ("\xff\xfe", {"csv": "d.csv", "target": "label"}, 0.2, "model.data.csv: cannot read "),
    (
        CSV,
        {"csv": "d.csv", "target": "lable"},
        0.2,
        "model.data.target: no column 'lable' in d.csv (did you mean 'label'?); "
        "its columns: a, b, label",
    ),
    (
        CSV,
        {"csv": "d.csv"},
        0.2,
        "model.data.target: missing: name the column to predict, one of a, b, label",
    ),
    (
        "a,b,label\n1,2,0\n3,x,1\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: line 3 of d.csv, column 'b': 'x' is not a number",
    ),
    (
        "a,b,label\n1,,0\n3,4,1\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: line 2 of d.csv, column 'b' is empty; every cell must be a number",
    ),
    (
        "a,b,label\n1,nan,0\n3,4,1\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: line 2 of d.csv, column 'b': 'nan' is not a finite number",
    ),
    (
        "a,b,label\n1,2,0\n3,4,NA\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: line 3 of d.csv, column 'label': 'NA' is not a number",
    ),
    (
        "a,b,label\n1,2,0\n3,4\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: line 3 of d.csv has 2 cells; the header has 3 columns",
    ),
    (
        "",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: d.csv is empty; expected a header row, then one example a row",
    ),
    (
        "a,b,label\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: d.csv has a header but no examples",
    ),
    (
        ",a,label\n0,1,0\n1,2,1\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: column 1 of d.csv has no name in the header",
    ),
    (
        "a,a,label\n0,1,0\n1,2,1\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: d.csv has two columns named 'a'",
    ),
    (
        "label\n0\n1\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data.csv: d.csv has no feature column besides 'label'",
    ),
    (
        "a,label\n1,2\n3,2\n",
        {"csv": "d.csv", "target": "label"},
        0,
        "model.data: d.csv's target has one class only (2); a model needs two or more",
    ),
    (
        CSV,
        {"csv": "d.csv", "target": "label"},
        1.0,
        "model.test: expected a held-out fraction from 0 up to (not including) 1, got 1.0",
    ),
    (CSV, {"csv": "d.csv", "target": "label"}, -0.1, "model.test: expected a held-out fraction"),
    (CSV, {"csv": "d.csv", "target": "label"}, True, "model.test: expected a held-out fraction"),
    (
        CSV,
        {"csv": "d.csv", "target": "label"},
        0.1,
        "model.test: 0.1 of d.csv's 4 examples holds out none; use 0 for no test part",
    ),
    (
        CSV,
        {"csv": "d.csv", "target": "label"},
        0.9,
        "model.test: 0.9 of d.csv's 4 examples leaves no training example",
    ),
]


@pytest.mark.parametrize(
    "text, data, test, message", BAD, ids=[m.split(":")[1][:40] for *_, m in BAD]
)
def test_bad_data_gives_one_line_at_its_key(
    tmp_path: Path, text: str | None, data: Any, test: Any, message: str
) -> None:
    if text is not None:
        (tmp_path / "d.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_dataset(data, seed=0, test=test, folder=tmp_path)
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(message), line


def test_a_wide_csvs_columns_are_listed_in_part(tmp_path: Path) -> None:
    header = ",".join(f"p{i}" for i in range(30))
    write(tmp_path, header + "\n" + ",".join("0" * 30) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_dataset({"csv": "d.csv", "target": "label"}, seed=0, test=0, folder=tmp_path)
    assert str(caught.value) == (
        "model.data.target: no column 'label' in d.csv; its columns: "
        "p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, ... (30 in all)"
    )


def test_a_loss_must_fit_the_target(tmp_path: Path) -> None:
    from optrace.problems.networks import LOSSES

    assert {CROSS_ENTROPY, MSE} == set(LOSSES)
    pytest.importorskip("sklearn.datasets")
    diabetes = load_dataset("diabetes", seed=0, test=0.2)
    with pytest.raises(ConfigError) as caught:
        loss_fits("cross_entropy", diabetes)
    assert str(caught.value) == (
        "model.loss: cross_entropy needs class labels; diabetes's target is real-valued: use 'mse'"
    )
    iris = load_dataset("iris", seed=0, test=0.2)
    with pytest.raises(ConfigError) as caught:
        loss_fits("mse", iris, "loss")
    assert str(caught.value).startswith(
        "loss: mse needs real-valued targets; iris's target is 3 classes: use 'cross_entropy'"
    )
    with pytest.raises(ConfigError) as caught:
        loss_fits("mes", iris)
    assert (
        str(caught.value)
        == "model.loss: unknown loss 'mes' (did you mean 'mse'?); known: cross_entropy, mse"
    )
    assert default_loss(iris) == CROSS_ENTROPY and default_loss(diabetes) == MSE


def test_every_name_in_datasets_loads() -> None:
    pytest.importorskip("sklearn.datasets")
    for name in DATASETS:
        d = load_dataset(name, seed=0, test=0.2)
        assert d.name == name and np.isfinite(d.X).all() and len(d.X) == len(d.y)
