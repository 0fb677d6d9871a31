"""The one check every number from a person or a file passes: finite, in range, named.

Every value typed into the window, given on the command line or read from a scenario or profile
file goes through :func:`number` before it becomes part of a frozen record. A value outside the
allowed range is refused with :class:`~core.errors.InvalidInputError` whose ``field`` names the input
and whose message states the range, in the one wording of :func:`core.fmt.allowed_range`.

What it refuses, and why each needs saying:

* ``True``/``False`` (a JSON boolean is not a number, even though Python counts it as one);
* NaN and infinities (no exchange rule has an answer for them);
* integers too large for a float (``10**400`` from a JSON file): ``float()`` would raise
  ``OverflowError`` deep inside numpy otherwise;
* text that is not a number; text is accepted only where a person types (``text=True``), with
  thousands separators (``"68,000"``).
"""
from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from core import fmt
from core.errors import InvalidInputError

#: Bounds on what a position or an account may hold. Far beyond any real market (BTC at a thousand
#: trillion, a quadrillion units), they keep every product and sum finite and every number readable
#: in the window; a file or a flag past them is refused with the field named.
MAX_PRICE: Final = 1e15
MAX_QTY: Final = 1e15
MAX_AMOUNT: Final = 1e18


def _show(value: Any) -> str:
    """A short rendering of a refused value: never a 400-digit integer or a 100 KB string."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**16:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def number(field: str, value: Any, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False, integer: bool = False,
           text: bool = False, thousands: bool = False) -> float:
    """``value`` as a finite float within the range, else :class:`InvalidInputError` naming ``field``.

    Parameters
    ----------
    field : the input's name in the caller's terms (``"leverage"``, ``"account.wallet"``).
    value : the raw input: an int, a float, a numpy number, or (with ``text=True``) a string.
    lo, hi : bounds; ``lo_open`` / ``hi_open`` exclude the bound itself.
    integer : refuse a value with a fractional part (a count, a seed).
    text : accept a string such as ``"68000"`` (a command-line flag, a form field).
    thousands : with ``text``, allow thousands separators, ``"68,000"`` (what a person types into
        the window; the command line refuses them, where "68,000" could mean 68).

    Returns
    -------
    float

    Examples
    --------
    >>> number("qty", 5, lo=0, lo_open=True)
    5.0
    >>> number("entry", "68,000", lo=0, lo_open=True, text=True, thousands=True)
    68000.0
    >>> number("qty", 0, lo=0, lo_open=True)
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: qty: must be > 0, got 0
    >>> number("entry", float("nan"), lo=0, lo_open=True)
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: entry: must be a finite number > 0, got nan
    >>> number("account.wallet", 10**400, lo=0)
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: account.wallet: must be a finite number >= 0, got an integer of 401 digits
    """
    allowed = fmt.allowed_range(lo, hi, lo_open=lo_open, hi_open=hi_open, unbounded="(any finite number)")
    if isinstance(value, bool | np.bool_):
        raise InvalidInputError(field, f"expected a number {allowed}, got {value!r}")
    if isinstance(value, str):
        if not text:
            raise InvalidInputError(field, f"expected a number {allowed}, got {_show(value)}")
        cleaned = value.strip()
        if thousands:
            cleaned = cleaned.replace(",", "").replace("_", "")
        if not cleaned:
            raise InvalidInputError(field, f"is empty; enter a number {allowed}")
        try:
            x = float(cleaned)
        except ValueError:
            raise InvalidInputError(field, f"expected a number {allowed}, got {_show(value.strip())}") from None
    elif isinstance(value, int | float | np.integer | np.floating):
        try:
            x = float(value)
        except OverflowError:
            raise InvalidInputError(field, f"must be a finite number {allowed}, got {_show(value)}") from None
    else:
        raise InvalidInputError(field, f"expected a number {allowed}, got {_show(value)}")
    if not math.isfinite(x):
        raise InvalidInputError(field, f"must be a finite number {allowed}, got {x!r}")
    if ((lo is not None and (x < lo or (lo_open and x == lo)))
            or (hi is not None and (x > hi or (hi_open and x == hi)))):
        raise InvalidInputError(field, f"must be {allowed}, got {x:g}")
    if integer and x != math.floor(x):
        raise InvalidInputError(field, f"expected a whole number {allowed}, got {x:g}")
    return x
