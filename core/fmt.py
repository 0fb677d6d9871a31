"""Numbers for people: thousands separators, rounding to the tick, "--" where there is none."""
from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

NONE_TEXT = "--"
#: From this magnitude on, numbers are shown in scientific notation ("1.2346e+18"): thousands of
#: digits are no use to a person, and a tick of 0.01 on 1e30 exceeds any decimal precision.
SCIENTIFIC_FROM = 1e15


def _scientific(x: float, *, tiny: float = 0.0) -> str:
    """Scientific notation from :data:`SCIENTIFIC_FROM` up (and, with ``tiny``, for 0 < |x| < tiny)."""
    return f"{x:.5g}" if abs(x) >= SCIENTIFIC_FROM or 0 < abs(x) < tiny else ""


def _decimals(step: float) -> int:
    d = Decimal(repr(step)).normalize()
    exp = d.as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def price(x: float | None, tick: float = 0.01) -> str:
    """Round to the contract's tick: ``price(61880.0, 0.1) == "61,880.0"``; NaN/None -> "--".

    >>> price(61880.04, 0.1), price(1e30, 0.01), price(-0.0)
    ('61,880.0', '1e+30', '0.00')
    """
    if x is None or not math.isfinite(x):
        return NONE_TEXT
    if _scientific(x):
        return _scientific(x)
    q = Decimal(repr(tick))
    v = (Decimal(repr(x)) / q).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * q
    if v.is_zero():
        v = v.copy_abs()  # never "-0.0"
    return f"{v:,.{_decimals(tick)}f}"


def _unsigned_zero(text: str) -> str:
    """A value that rounds to zero has no sign: "-0.00" reads as a loss that is not there."""
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def money(x: float | None, decimals: int = 2) -> str:
    """``money(34000) == "34,000.00"``; NaN/None -> "--"; never "-0.00".

    >>> money(-0.0), money(-0.004), money(-1234.5)
    ('0.00', '0.00', '-1,234.50')
    """
    if x is None or not math.isfinite(x):
        return NONE_TEXT
    return _scientific(x) or _unsigned_zero(f"{x:,.{decimals}f}")


#: Assets worth about one US dollar: amounts in them are shown to the cent.
USD_LIKE: Final = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "USDE", "TUSD", "DAI"})


def asset_decimals(asset: str) -> int:
    """Decimals an amount in ``asset`` is shown with: 2 for a USD-like asset, 8 for a coin (BTC, ETH),
    so that 0.0036 BTC of PnL is not shown as 0.00.

    >>> asset_decimals("USDT"), asset_decimals("BTC")
    (2, 8)
    """
    return 2 if asset.strip().upper() in USD_LIKE else 8


def amount(x: float | None, asset: str) -> str:
    """An amount in ``asset`` for people: :func:`money` with :func:`asset_decimals` (the CLI and the
    window format every margin, PnL and wallet figure through this).

    >>> amount(34_000, "USDT"), amount(0.0036, "BTC"), amount(float("nan"), "BTC")
    ('34,000.00', '0.00360000', '--')
    """
    return money(x, asset_decimals(asset))


def amount_text(x: float | None, asset: str) -> str:
    """An amount in a sentence: :func:`amount` followed by the coin's name, since a bare 0.00166583
    would read as dollars; a USD-like amount stays bare, as every linear message has always read.

    >>> amount_text(211_500.0, "USDT"), amount_text(0.0016658, "BTC")
    ('211,500.00', '0.00166580 BTC')
    """
    text = amount(x, asset)
    return text if asset.strip().upper() in USD_LIKE else f"{text} {asset}"


def pct(x: float | None, decimals: int = 2) -> str:
    """A fraction as percent: ``pct(0.1) == "10.00 %"``."""
    if x is None or not math.isfinite(x):
        return NONE_TEXT if x is None or math.isnan(x) else ("∞" if x > 0 else "-∞")
    return (_scientific(x * 100) + " %") if _scientific(x * 100) else _unsigned_zero(f"{x * 100:,.{decimals}f} %")


def num(x: float | None) -> str:
    """Compact, exact-enough rendering for formulas: ``num(0.01) == "0.01"``, ``num(340000) == "340,000"``."""
    if x is None or not math.isfinite(x):
        return NONE_TEXT if x is None or math.isnan(x) else ("∞" if x > 0 else "-∞")
    if _scientific(x, tiny=1e-6):
        return _scientific(x, tiny=1e-6)  # 1e-24 BTC is not 0
    if x == int(x):
        return f"{int(x):,}"
    s = f"{x:,.6f}".rstrip("0").rstrip(".")
    return _unsigned_zero(s)


def allowed_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                  hi_open: bool = False, unbounded: str = "(any finite number)") -> str:
    """The allowed range in words for error messages: ``allowed_range(0, 1, lo_open=True) == "in (0, 1]"``."""
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return unbounded
