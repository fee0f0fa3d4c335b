"""Values as JSON holds them."""

from __future__ import annotations

import inspect
import math
import re
import sys
from typing import Any

#: The memory address a default repr carries (``<function f at 0x7f...>``).
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def function_name(value: Any) -> str | None:
    """The name a function, method or builtin goes by, or None for any other value:
    ``module.name`` where its module holds it under that name (``torch.max``),
    else its qualified name (``ADOPT.<lambda>``).

    Examples:
        >>> import math
        >>> function_name(math.sqrt), function_name(lambda x: x), function_name(2)
        ('math.sqrt', '<lambda>', None)
    """
    if not inspect.isroutine(value):
        return None
    name = getattr(value, "__name__", None)
    qualname = getattr(value, "__qualname__", None) or name or type(value).__name__
    module = getattr(value, "__module__", None)
    held = getattr(sys.modules.get(module or ""), name or "", None)
    return f"{module}.{name}" if held is value and module and name else str(qualname)


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: tuples as lists, mappings with text keys, a
    number that is not finite (infinity, NaN) as None (JSON's null), a function as
    its name (:func:`function_name`), anything else unusual as its repr, never with
    a memory address.

    Every JSON file optrace writes holds one convention: strict JSON (no
    ``Infinity`` or ``NaN``, no text standing in for a number), a value that is not
    finite or that never came (a minimum never reached) written null, and a field
    beside it saying why where null could mean more than one thing (``diverged``).

    Examples:
        >>> jsonable({"best": float("inf"), "at": (1, 2.5)})
        {'best': None, 'at': [1, 2.5]}
        >>> class ADOPT:
        ...     def __init__(self, clip=lambda step: step**0.25): ...
        >>> import inspect
        >>> jsonable({"clip": inspect.signature(ADOPT).parameters["clip"].default})
        {'clip': 'ADOPT.<lambda>'}
        >>> jsonable(object())
        '<object object>'
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    name = function_name(value)
    return name if name is not None else _ADDRESS.sub("", repr(value))
