"""The data a model race trains on: a data set bundled with scikit-learn, moons, or the
user's own CSV file, split with the race's seed and standardised on its training part.

scikit-learn is the ``models`` extra and is imported only by the loaders that need it;
a CSV file needs nothing beyond numpy.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optrace._core.errors import ConfigError, UsageError
from optrace._core.keys import child, did_you_mean, show

#: The data sets bundled with scikit-learn that a model race may name, and moons.
DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes", "moons")

#: ``make_moons`` for ``data: moons``: 500 points, Gaussian noise of s.d. 0.2, the race's seed.
MOONS_SAMPLES = 500
MOONS_NOISE = 0.2

#: An integer-valued CSV target with at most this many distinct values is a class label.
MAX_CLASSES = 100

#: The keys of ``data: {csv: FILE, target: COLUMN}``; ``task`` overrides the guess.
CSV_KEYS = ("csv", "target", "task")

#: ``data: {task: ...}``.
TASKS = ("classification", "regression")

#: The loss a classification takes, and a regression's (names of networks.LOSSES).
CROSS_ENTROPY = "cross_entropy"
MSE = "mse"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A model race's data, split and standardised.

    Attributes:
        name: ``digits``, ..., or the CSV file's name (``data.csv``).
        X: The training part, (n, features) float64, standardised: each feature less its
            training mean, over its training standard deviation (a feature constant on
            the training part is only centred, so it is 0 there).
        y: (n,) int64 class indices 0..classes-1, or float64 values for a regression.
        X_test: The held-out part, (m, features), standardised with the TRAINING part's
            mean and standard deviation; None when the split holds nothing out.
        y_test: Its targets, as ``y``; None with ``X_test``.
        classes: The number of classes; None for a regression.
        labels: What each class index stands for (``labels[k]`` is class k): the
            bundled set's class names, or a CSV target's values as written; None for
            a regression.
        mean: The training part's mean of each raw feature.
        scale: What each raw feature was divided by: its training standard deviation,
            or 1 where that is 0. ``X * scale + mean`` gives back the raw features.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: int | None
    labels: tuple[str, ...] | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    @property
    def features(self) -> int:
        """The number of input features (columns of ``X``)."""
        return int(self.X.shape[1])

    @property
    def outputs(self) -> int:
        """How many outputs a network needs: one per class, or one value."""
        return self.classes if self.classes is not None else 1

    def describe(self) -> str:
        """One line: the name, the split's sizes, the features and the target.

        Examples:
            >>> load_dataset("iris", seed=0, test=0.2).describe()
            'iris: 120 training + 30 test examples, 4 features, 3 classes'
        """
        sizes = f"{len(self.X):,} training"
        if self.X_test is not None:
            sizes += f" + {len(self.X_test):,} test"
        features = f"{self.features:,} feature" + ("" if self.features == 1 else "s")
        target = f"{self.classes} classes" if self.classes is not None else "a real-valued target"
        return f"{self.name}: {sizes} examples, {features}, {target}"


def load_dataset(
    data: str | Mapping[str, Any],
    *,
    seed: int,
    test: float,
    folder: Path | None = None,
    path: str = "model.data",
) -> Dataset:
    """The data a model race trains on, split and standardised.

    ``data`` is one of :data:`DATASETS` (``digits``, ``iris``, ``wine`` and
    ``breast_cancer`` are classifications, ``diabetes`` a regression with its raw,
    unscaled features; ``moons`` is ``sklearn.datasets.make_moons(n_samples=500,
    noise=0.2, random_state=seed)``), or ``{csv: FILE, target: COLUMN}`` with FILE
    relative to ``folder`` (the config's folder; else the current folder).

    A CSV file is comma-separated with a header row naming its columns; ``target`` is
    the column to predict and every other column is a feature. Every feature cell must
    be a finite number: an empty cell, ``NA`` or ``nan`` is refused, naming its line
    (the file's line number, the header being line 1) and column. The target is:

    - class labels when every value is an integer (``0``, ``3``, ``1.0``, ``"2"``) and
      there are at most 100 distinct values, or when the values are names
      (``setosa``, ``yes``); the distinct values, sorted (as numbers, else as text),
      become the classes 0..k-1 and ``Dataset.labels`` says which is which;
    - real values otherwise (a fraction, or more than 100 distinct integers).

    ``task: classification`` or ``task: regression`` in the mapping overrides the
    guess, e.g. for a count that should be a regression.

    The split is one permutation, ``numpy.random.default_rng(seed).permutation(n)``:
    its first ``round(test * n)`` examples (halves rounded up) are the test part, the
    rest, in the permutation's order, the training part. Features are standardised
    with the training part's statistics only, so the test part stays unseen.

    Args:
        data: A name from :data:`DATASETS`, or a mapping ``{csv, target[, task]}``.
        seed: The race's seed: the split, and the moons' noise.
        test: The held-out fraction, from 0 (nothing held out) up to, not including, 1.
        folder: Where a relative CSV path starts; None for the current folder.
        path: The key path of ``data`` in error messages; the test fraction is reported
            as ``test`` beside it (``model.test``).

    Returns:
        The :class:`Dataset`.

    Raises:
        ConfigError: An unknown name, a bad mapping, a CSV that cannot be used, a target
            with one class, or a test fraction that leaves a part empty.
        UsageError: A bundled data set, and scikit-learn is not installed.

    Examples:
        >>> wine = load_dataset("wine", seed=0, test=0.25)
        >>> wine.describe()  # 0.25 x 178 = 44.5 test examples, rounded up
        'wine: 133 training + 45 test examples, 13 features, 3 classes'
        >>> load_dataset("digit", seed=0, test=0.2)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        optrace._core.errors.ConfigError: model.data: unknown data set 'digit' (did you ...
    """
    test_path = child(path.rpartition(".")[0], "test")
    _check_fraction(test, test_path)
    if isinstance(data, str):
        name = data
        if name not in _LOADERS:
            hint = did_you_mean(name, DATASETS)
            raise ConfigError(
                path,
                f"unknown data set '{name}'{hint}; known: {', '.join(DATASETS)}, "
                "or {csv: FILE, target: COLUMN}",
            )
        X, y, labels = _LOADERS[name](seed)
    elif isinstance(data, Mapping):
        name, X, y, labels = _load_csv(data, folder, path)
    else:
        raise ConfigError(
            path,
            f"expected a data set's name ({', '.join(DATASETS)}) or {{csv: FILE, target: "
            f"COLUMN}}, got {show(data)}",
        )
    if labels is not None and len(labels) < 2:
        raise ConfigError(
            path, f"{name}'s target has one class only ({labels[0]}); a model needs two or more"
        )
    return _split(name, X, y, labels, seed=seed, test=test, test_path=test_path)


def default_loss(dataset: Dataset) -> str:
    """The loss a model race takes unless told: cross_entropy for classes, mse for values.

    Examples:
        >>> default_loss(load_dataset("iris", seed=0, test=0))
        'cross_entropy'
    """
    return CROSS_ENTROPY if dataset.classes is not None else MSE


def loss_fits(loss: str, dataset: Dataset, path: str = "model.loss") -> None:
    """Refuse a loss that does not fit the data's target.

    cross_entropy needs class labels. mse needs real values: on class indices it would
    treat class 2 as nearer class 1 than class 0, so it is refused too (a CSV whose
    integer target is a quantity says ``task: regression``).

    Args:
        loss: A name from ``optrace.problems.networks.LOSSES``.
        dataset: The data it would be trained on.
        path: The key path of the loss in error messages.

    Raises:
        ConfigError: An unknown loss, or one that does not fit.

    Examples:
        >>> try:
        ...     loss_fits("cross_entropy", load_dataset("diabetes", seed=0, test=0))
        ... except ConfigError as e:
        ...     print(e)
        model.loss: cross_entropy needs class labels; diabetes's target is real-valued: use 'mse'
    """
    from optrace.problems.networks import LOSSES  # torch; only once a race is being checked

    if loss not in LOSSES:
        hint = did_you_mean(loss, list(LOSSES))
        raise ConfigError(path, f"unknown loss '{loss}'{hint}; known: {', '.join(LOSSES)}")
    if loss == CROSS_ENTROPY and dataset.classes is None:
        raise ConfigError(
            path,
            f"{CROSS_ENTROPY} needs class labels; {dataset.name}'s target is real-valued: "
            f"use '{MSE}'",
        )
    if loss == MSE and dataset.classes is not None:
        raise ConfigError(
            path,
            f"{MSE} needs real-valued targets; {dataset.name}'s target is "
            f"{dataset.classes} classes: use '{CROSS_ENTROPY}' (or, for a CSV whose target "
            "is a quantity, task: regression in model.data)",
        )


# -- the bundled data sets --------------------------------------------------------------

#: Raw features, targets, and class names (None: a regression).
_Loaded = tuple[np.ndarray, np.ndarray, "tuple[str, ...] | None"]


def _sklearn_datasets(name: str) -> Any:
    """``sklearn.datasets``, or the one line that says how to install it."""
    try:
        import sklearn.datasets  # type: ignore[import-untyped]  # the models extra, loaded late
    except ModuleNotFoundError:
        raise UsageError(
            f"the {name} data set needs scikit-learn: pip install 'optrace[models]'"
        ) from None
    return sklearn.datasets


def _bundled(name: str) -> Callable[[int], _Loaded]:
    """The loader of scikit-learn's ``load_<name>`` (the seed plays no part)."""

    def load(seed: int) -> _Loaded:
        bunch = getattr(_sklearn_datasets(name), f"load_{name}")()
        labels = tuple(str(t) for t in bunch.target_names)
        return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target), labels

    return load


def _diabetes(seed: int) -> _Loaded:
    bunch = _sklearn_datasets("diabetes").load_diabetes(scaled=False)
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target), None


def _moons(seed: int) -> _Loaded:
    X, y = _sklearn_datasets("moons").make_moons(
        n_samples=MOONS_SAMPLES, noise=MOONS_NOISE, random_state=seed
    )
    return np.asarray(X, dtype=np.float64), np.asarray(y), ("0", "1")


_LOADERS: dict[str, Callable[[int], _Loaded]] = {
    "digits": _bundled("digits"),
    "iris": _bundled("iris"),
    "wine": _bundled("wine"),
    "breast_cancer": _bundled("breast_cancer"),
    "diabetes": _diabetes,
    "moons": _moons,
}
assert tuple(_LOADERS) == DATASETS


# -- a CSV file -------------------------------------------------------------------------


def _load_csv(
    data: Mapping[str, Any], folder: Path | None, path: str
) -> tuple[str, np.ndarray, np.ndarray, tuple[str, ...] | None]:
    """The name, raw features, targets (class indices or values) and class names."""
    for key in data:
        if key not in CSV_KEYS:
            hint = did_you_mean(str(key), CSV_KEYS)
            raise ConfigError(
                child(path, key),
                f"unknown key{hint}; a CSV data set takes csv: FILE, target: COLUMN "
                f"and optionally task: {' | '.join(TASKS)}",
            )
    file = data.get("csv")
    if file is None:
        raise ConfigError(path, "a CSV data set needs csv: FILE (and target: COLUMN)")
    csv_path = child(path, "csv")
    if not isinstance(file, (str, Path)) or not str(file):
        raise ConfigError(csv_path, f"expected a file name, got {show(file)}")
    task = data.get("task")
    if task is not None and task not in TASKS:
        raise ConfigError(child(path, "task"), f"expected {' or '.join(TASKS)}, got {show(task)}")
    where = Path(file).expanduser()
    if not where.is_absolute():
        where = (folder if folder is not None else Path.cwd()) / where
    name = where.name
    header, rows = _read_rows(where, name, csv_path)
    target = data.get("target")
    target_path = child(path, "target")
    if target is None:
        raise ConfigError(
            target_path, f"missing: name the column to predict, one of {_columns(header)}"
        )
    if not isinstance(target, str) or target not in header:
        hint = did_you_mean(str(target), header)
        raise ConfigError(
            target_path,
            f"no column {show(target)} in {name}{hint}; its columns: {_columns(header)}",
        )
    if len(header) < 2:
        raise ConfigError(csv_path, f"{name} has no feature column besides '{target}'")
    column = header.index(target)
    feature_names = [h for i, h in enumerate(header) if i != column]
    features = [cells[:column] + cells[column + 1 :] for _, cells in rows]
    try:
        # The fast path; the loop below only finds a bad cell's place, to name it.
        X = np.array([list(map(float, cells)) for cells in features], dtype=np.float64)
        clean = bool(np.isfinite(X).all())
    except ValueError:
        clean = False
    if not clean:
        for (line, _), cells in zip(rows, features, strict=True):
            for c, cell in enumerate(cells):
                _number(cell, f"line {line} of {name}, column '{feature_names[c]}'", csv_path)
    raw_targets = [(line, cells[column]) for line, cells in rows]
    y, labels = _targets(raw_targets, name, target, task, csv_path)
    return name, X, y, labels


def _read_rows(
    where: Path, name: str, csv_path: str
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's column names and each non-blank row with its line number."""
    if not where.exists():
        raise ConfigError(csv_path, f"no such file: {where}")
    try:
        with where.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            rows: list[tuple[int, list[str]]] = []
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line
                if header is None:
                    header = [cell.strip() for cell in cells]
                    continue
                if len(cells) != len(header):
                    raise ConfigError(
                        csv_path,
                        f"line {reader.line_num} of {name} has {len(cells)} cells; "
                        f"the header has {len(header)} columns",
                    )
                rows.append((reader.line_num, cells))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(csv_path, f"cannot read {where}: {e}") from None
    if header is None:
        raise ConfigError(
            csv_path, f"{name} is empty; expected a header row, then one example a row"
        )
    for i, column in enumerate(header):
        if not column:
            raise ConfigError(
                csv_path,
                f"column {i + 1} of {name} has no name in the header (an index column? "
                "save the file without it)",
            )
        if header.index(column) != i:
            raise ConfigError(csv_path, f"{name} has two columns named '{column}'")
    if not rows:
        raise ConfigError(csv_path, f"{name} has a header but no examples")
    return header, rows


def _columns(header: list[str]) -> str:
    """The header's names for a message, the first 10 of a wide file."""
    shown = ", ".join(header[:10])
    return shown if len(header) <= 10 else f"{shown}, ... ({len(header)} in all)"


def _number(cell: str, where: str, csv_path: str) -> float:
    """A cell's finite number, or the line that says which cell is not one."""
    text = cell.strip()
    if not text:
        raise ConfigError(csv_path, f"{where} is empty; every cell must be a number")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(csv_path, f"{where}: {show(text)} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(csv_path, f"{where}: {show(text)} is not a finite number")
    return value


def _targets(
    cells: list[tuple[int, str]], name: str, target: str, task: str | None, csv_path: str
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """The target column as class indices with their labels, or as values (see load_dataset)."""

    def where(line: int) -> str:
        return f"line {line} of {name}, column '{target}'"

    texts = [(line, cell.strip()) for line, cell in cells]
    for line, text in texts:
        if not text:
            raise ConfigError(csv_path, f"{where(line)} is empty; every cell must be a number")
    numbers: list[float] = []
    words: list[tuple[int, str]] = []
    for line, text in texts:
        try:
            numbers.append(float(text))
        except ValueError:
            words.append((line, text))
    if words and (numbers or task == "regression"):
        # Names mixed with numbers is a typo or a missing-value marker, not a label.
        line, text = words[0]
        raise ConfigError(csv_path, f"{where(line)}: {show(text)} is not a number")
    if words:
        names = sorted({text for _, text in texts})
        index = {label: k for k, label in enumerate(names)}
        return np.array([index[text] for _, text in texts], dtype=np.int64), tuple(names)
    for (line, text), value in zip(texts, numbers, strict=True):
        if not math.isfinite(value):
            raise ConfigError(csv_path, f"{where(line)}: {show(text)} is not a finite number")
    values = np.array(numbers, dtype=np.float64)
    distinct = np.unique(values)
    whole = bool(np.all(distinct == np.round(distinct)))
    if task == "regression" or (task is None and not (whole and len(distinct) <= MAX_CLASSES)):
        return values, None
    y = np.searchsorted(distinct, values).astype(np.int64)
    labels = tuple(str(int(v)) if v == round(v) else repr(float(v)) for v in distinct)
    return y, labels


# -- the split --------------------------------------------------------------------------


def _check_fraction(test: Any, test_path: str) -> None:
    if isinstance(test, bool) or not isinstance(test, (int, float)) or not 0 <= test < 1:
        raise ConfigError(
            test_path,
            f"expected a held-out fraction from 0 up to (not including) 1, got {show(test)}",
        )


def split_indices(
    n: int, test: float, seed: int, name: str, path: str = "model.test"
) -> tuple[np.ndarray, np.ndarray]:
    """The training and held-out examples' indices of ``n``: the first ``round(test * n)``
    of a permutation drawn from ``seed`` are held out (halves round up).

    Raises:
        ConfigError: At ``path``, when a fraction above 0 holds out none, or one
            leaves no training example.

    Examples:
        >>> [len(part) for part in split_indices(10, 0.25, 0, "data")]
        [7, 3]
    """
    held = math.floor(test * n + 0.5)
    if test > 0 and held == 0:
        raise ConfigError(
            path, f"{test:g} of {name}'s {n:,} examples holds out none; use 0 for no test part"
        )
    if held >= n:
        raise ConfigError(path, f"{test:g} of {name}'s {n:,} examples leaves no training example")
    order = np.random.default_rng(seed).permutation(n)
    return order[held:], order[:held]


def _split(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    labels: tuple[str, ...] | None,
    *,
    seed: int,
    test: float,
    test_path: str,
) -> Dataset:
    """The seeded split (see load_dataset) with the features standardised on its training part."""
    train, held_out = split_indices(len(X), test, seed, name, test_path)
    raw = X[train]
    mean = raw.mean(axis=0)
    constant = np.ptp(raw, axis=0) == 0
    # A constant feature's mean is its value exactly, so that its training column is 0.
    mean[constant] = raw[0, constant]
    scale = raw.std(axis=0)
    scale[constant] = 1.0
    y = y.astype(np.float64 if labels is None else np.int64)
    return Dataset(
        name=name,
        X=(raw - mean) / scale,
        y=y[train],
        X_test=(X[held_out] - mean) / scale if len(held_out) else None,
        y_test=y[held_out] if len(held_out) else None,
        classes=len(labels) if labels is not None else None,
        labels=labels,
        mean=mean,
        scale=scale,
    )
