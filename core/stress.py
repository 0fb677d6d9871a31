"""Stress grids: the distance to liquidation over leverage x added margin, and the chance of
touching the liquidation price over price move x volatility, each in one array call.

The GUI's stress map asks "how far may the mark move before this position is liquidated, had I
opened it at another leverage or added margin?" for thousands of cells at once. Every cell is the
same position of the same account (side, size, entry, contract, profile rules, the other
positions at their marks) with

    isolated: margin(L, A) = core.quote.required_initial_margin(L) + A
    cross:    margin(L, A) = core.quote.position_collateral(account) + A

(the profile's opening requirement at leverage ``L`` plus ``A`` added by hand; for a cross
position the collateral the results use: the wallet plus the other cross positions' uPnL minus
their maintenance margin, docs/domain.md §1), and

    LP(L, A) = core.liquidation.liquidation_price(..., wallet=margin(L, A))
    distance(L, A) = core.risk.distance_to_liquidation(side, mark, LP)

computed by broadcasting a column of leverages against a row of added margins: no Python loop
over cells. A cross position's collateral does not depend on its own leverage; under
``close_fee`` its fee to close does (it is taken at the bankruptcy price of the initial margin).

Cells whose leverage the profile refuses at this notional (above the tier's maximum, or at or
above ``1/MMR``, where IM <= MM) are NaN and ``allowed`` is False there; a cell with no
liquidation price (a long whose collateral covers the whole notional) has ``liquidation_price``
NaN and ``distance`` +inf: the price may fall to zero (the map colours it as farthest).

The second grid, :func:`touch_probability_grid`, keeps the position as it is and asks: had the
mark already moved by ``m`` (a fraction) and were the volatility ``sigma`` (annualised), what is
the chance that the mark touches the liquidation price within the horizon? The liquidation
price does not depend on the current mark (isolated: the margin is fixed; a cross position
alone: the wallet is), so it is quoted once and
:func:`core.risk.liquidation_probability` (the closed form under GBM, docs/domain.md §6) is broadcast
over a column of marks against a row of volatilities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from core.contracts import frame_price
from core.errors import InvalidInputError
from core.liquidation import liquidation_price
from core.model import Account, MarginMode, Position
from core.profiles import Profile
from core.quote import (
    entry_notional,
    leverage_limit,
    opening_requirement,
    position_collateral,
    position_leg,
    quote_account,
    required_initial_margin,
    validate_position,
)
from core.risk import distance_to_liquidation, liquidation_probability

FloatArray = npt.NDArray[np.float64]

DEFAULT_LEVERAGE_CELLS: Final = 60
DEFAULT_MARGIN_CELLS: Final = 40
DEFAULT_MOVE_CELLS: Final = 61
DEFAULT_SIGMA_CELLS: Final = 40
DEFAULT_HORIZON_YEARS: Final = 7.0 / 365.0
MAX_CELLS: Final = 1_000_000


@dataclass(frozen=True, slots=True, eq=False)
class StressGrid:
    """Distance to liquidation of one position over leverage (rows) x added margin (columns).

    Attributes
    ----------
    leverage : shape (n_lev,), the leverages of the rows.
    added_margin : shape (n_add,), quote currency added on top of the opening requirement.
    margin : shape (n_lev, n_add), the isolated margin (or cross collateral) of each cell.
    liquidation_price : shape (n_lev, n_add); NaN where refused or where there is none.
    distance : shape (n_lev, n_add), ``s * (mark - LP) / mark``; NaN where refused, +inf where there
        is no liquidation price, negative where the cell is liquidatable at the mark.
    allowed : shape (n_lev, n_add), False where the profile refuses the leverage at this notional.
    mark : the mark price the distance is measured from.
    current : (leverage, added margin) of the position itself.
    """

    position: Position
    profile_id: str
    leverage: FloatArray
    added_margin: FloatArray
    margin: FloatArray
    liquidation_price: FloatArray
    distance: FloatArray
    allowed: npt.NDArray[np.bool_]
    mark: float
    current: tuple[float, float]


def current_point(profile: Profile, position: Position) -> tuple[float, float]:
    """(leverage, added margin) of ``position``: added = its margin - the opening requirement."""
    if position.mode is MarginMode.CROSS or position.margin_usd is None:
        return position.leverage, 0.0
    return position.leverage, position.margin_usd - opening_requirement(profile, position)


def default_axes(profile: Profile, position: Position, *, n_leverage: int = DEFAULT_LEVERAGE_CELLS,
                 n_margin: int = DEFAULT_MARGIN_CELLS) -> tuple[FloatArray, FloatArray]:
    """Evenly spaced axes: leverage 1x to the profile's limit (:func:`core.quote.leverage_limit`),
    added margin 0 to twice the opening margin at the position's leverage (or twice what it already
    has added, if more).

    Evenly spaced because a heat map draws cells of equal size.
    """
    lev_hi = max(leverage_limit(profile, position.symbol, entry_notional(profile, position))[0], 1.0 + 1e-9)
    _, added = current_point(profile, position)
    hi = max(2.0 * opening_requirement(profile, position), 1.25 * added, 1.0)
    return np.linspace(1.0, lev_hi, n_leverage), np.linspace(min(0.0, 1.25 * added), hi, n_margin)


def _check_axis(name: str, values: npt.ArrayLike, *, lo: float, lo_open: bool = False) -> FloatArray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise InvalidInputError(name, "expected a non-empty list of numbers")
    if not np.all(np.isfinite(a)):
        raise InvalidInputError(name, "must be finite numbers")
    if np.any(a < lo) or (lo_open and np.any(a == lo)):
        raise InvalidInputError(name, f"must be {'>' if lo_open else '>='} {lo:g}, got {float(a.min()):g}")
    return a


def liquidation_distance_grid(profile: Profile, account: Account, index: int = 0, *,
                              leverage: npt.ArrayLike | None = None,
                              added_margin: npt.ArrayLike | None = None) -> StressGrid:
    """Liquidation price and distance of ``account.positions[index]`` over ``leverage`` x ``added_margin``.

    Parameters
    ----------
    profile : the exchange's rules; the position's symbol must be one of its contracts.
    account : the account the position is held in, with its marks (the distance is measured from
        the position's mark; a cross position's collateral counts the other positions at theirs).
    index : which position of the account.
    leverage : 1-D, >= 1 (default :func:`default_axes`).
    added_margin : 1-D, quote currency on top of the opening requirement (isolated) or of the
        collateral (cross); may be negative as long as the margin stays > 0.

    Returns
    -------
    StressGrid

    Notes
    -----
    Per cell: the margin of the module notes, then the one equation of docs/domain.md §1 solved by
    :func:`core.liquidation.liquidation_price` on the whole (n_lev, n_add) array. Each allowed cell
    equals :func:`core.quote.quote_account` of the account with that position at leverage ``L`` and
    margin ``A`` more (:func:`scalar_cell`; tests/core/test_stress.py checks cells one by one).

    Examples
    --------
    Classic BTCUSDT, 5 BTC long at 68,000 (entry basis; tier 3, MMR 1 %, MM 3,400): at 10x with
    nothing added the margin is 34,000 and LP = 68,000 - (34,000 - 3,400)/5 = 61,880; adding 5,000
    moves it 1,000 lower, 60,880; at 20x the margin is 17,000 and
    LP = 68,000 - (17,000 - 3,400)/5 = 65,280; 100x is above the tier's 50x maximum: refused (NaN).

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> from core.model import Side
    >>> classic = load_profiles([exchanges_dir()]).get("classic")
    >>> acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),))
    >>> g = liquidation_distance_grid(classic, acct, leverage=[10, 20, 100], added_margin=[0, 5_000])
    >>> g.liquidation_price.tolist()
    [[61880.0, 60880.0], [65280.0, 64280.0], [nan, nan]]
    >>> g.allowed[:, 0].tolist()
    [True, True, False]
    >>> round(float(g.distance[0, 0]), 4)   # (68,000 - 61,880) / 68,000
    0.09
    """
    position = _position(account, index)
    validate_position(profile, position)  # the contract exists and the notional fits a tier
    lev_default, add_default = default_axes(profile, position)
    lev = _check_axis("leverage", lev_default if leverage is None else leverage, lo=1.0)
    add = _check_axis("added_margin", add_default if added_margin is None else added_margin, lo=-math.inf)
    if lev.size * add.size > MAX_CELLS:
        raise InvalidInputError("grid", f"{lev.size} x {add.size} cells; allowed up to {MAX_CELLS:,}")
    m = account.mark_of(position)
    rules = profile.rules
    leg = position_leg(profile, position)  # the linear frame of an inverse contract (docs/domain.md §7)
    col = lev[:, None]
    required = np.asarray(required_initial_margin(profile, side=position.sign, qty=position.qty_base,
                                                  entry=position.entry_price, leverage=col, symbol=position.symbol))
    if position.mode is MarginMode.CROSS:
        base = position_collateral(profile, account, index)
        margin = np.broadcast_to(base + add[None, :], (lev.size, add.size)).astype(float)
        fee_margin: FloatArray | None = np.broadcast_to(required, margin.shape)
    else:
        margin = required + add[None, :]
        fee_margin = None  # an isolated position's fee is taken at the bankruptcy price of its margin
    tiers = profile.effective_tiers(position.symbol)
    k = int(tiers.index(entry_notional(profile, position)))
    allowed = np.asarray(tiers.allows_leverage(k, lev), dtype=bool)[:, None] & (margin > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if quote_account(profile, account).positions[index].shares_lp_with:
            # a cross leg whose symbol's other leg moves with it (hedge mode): the shared price of
            # core.liquidation.joint_liquidation_price, cell by cell
            lp = np.array([[scalar_cell_margin(profile, account, index, float(lev[i]), float(add[j]))
                            if allowed[i, j] else math.nan for j in range(add.size)] for i in range(lev.size)])
        else:
            x = np.asarray(liquidation_price(side=leg.s, qty=leg.q, entry=leg.ep, wallet=np.where(allowed, margin, 1.0),
                                             tiers=profile.contract(position.symbol).tiers,
                                             mm_basis=rules.mm_basis, fee_model=rules.fee_model,
                                             taker_fee=rules.taker_fee, fee_margin=fee_margin,
                                             tier_at_liquidation=rules.tier_at_liquidation), dtype=float)
            lp = np.asarray(frame_price(leg.contract.type, x), dtype=float)
        lp = np.where(allowed, lp, np.nan)
        dist = np.asarray(distance_to_liquidation(side=float(position.sign), mark=m, liquidation_price=lp),
                          dtype=float)
    dist = np.where(allowed, np.where(np.isnan(lp), np.inf, dist), np.nan)
    return StressGrid(position=position, profile_id=profile.id, leverage=lev, added_margin=add,
                      margin=np.asarray(margin), liquidation_price=lp, distance=dist, allowed=allowed,
                      mark=m, current=current_point(profile, position))


def _position(account: Account, index: int) -> Position:
    if not 0 <= index < len(account.positions):
        raise InvalidInputError("index", f"no position {index}; allowed 0-{len(account.positions) - 1}")
    return account.positions[index]


def scalar_cell(profile: Profile, account: Account, index: int, grid: StressGrid, i: int, j: int) -> float:
    """The liquidation price of cell (i, j) by :func:`core.quote.quote_account` (for checks).

    Raises InvalidInputError where the profile refuses that cell.
    """
    return scalar_cell_margin(profile, account, index, float(grid.leverage[i]), float(grid.added_margin[j]))


def scalar_cell_margin(profile: Profile, account: Account, index: int, leverage: float, added: float) -> float:
    """The liquidation price of ``account.positions[index]`` at ``leverage`` with ``added`` margin
    (isolated: on top of the opening requirement; cross: on the wallet), by :func:`core.quote.quote_account`."""
    p = account.positions[index]
    positions = list(account.positions)
    if p.mode is MarginMode.CROSS:
        positions[index] = p.with_(leverage=leverage)
        acct = account.with_(positions=tuple(positions), wallet_usd=account.wallet_usd + added)
    else:
        fresh = p.with_(leverage=leverage, margin_usd=None)
        positions[index] = fresh.with_(margin_usd=opening_requirement(profile, fresh) + added)
        acct = account.with_(positions=tuple(positions))
    return quote_account(profile, acct).positions[index].liquidation_price


@dataclass(frozen=True, slots=True, eq=False)
class TouchGrid:
    """Chance of touching the liquidation price over price move (rows) x volatility (columns).

    Attributes
    ----------
    move : shape (n_move,), the mark's move from ``mark`` as a fraction (-0.1 = 10 % lower).
    sigma : shape (n_sigma,), annualised volatility (0.8 = 80 %).
    probability : shape (n_move, n_sigma), in [0, 1]; 1 where the moved mark is at or past the
        liquidation price, 0 everywhere when there is none.
    liquidation_price : the position's liquidation price (NaN: none).
    mark : the mark the moves start from.
    horizon_years : the horizon, in years (the unit of ``sigma``).
    mu : the annual drift of the price.
    """

    position: Position
    profile_id: str
    move: FloatArray
    sigma: FloatArray
    probability: FloatArray
    liquidation_price: float
    mark: float
    horizon_years: float
    mu: float


def touch_probability_grid(profile: Profile, account: Account, index: int = 0, *,
                           move: npt.ArrayLike | None = None, sigma: npt.ArrayLike | None = None,
                           horizon_years: float = DEFAULT_HORIZON_YEARS, mu: float = 0.0) -> TouchGrid:
    """Probability of liquidation within ``horizon_years`` over price move x volatility.

    Parameters
    ----------
    profile, account, index : the position as the results quote it (:func:`core.quote.quote_account`).
    move : 1-D fractions > -1 (default -30 % to +30 %); the cell's mark is ``mark * (1 + move)``.
    sigma : 1-D annualised volatilities >= 0 (default 5 % to 200 %).
    horizon_years : > 0 (default one week, 7/365).
    mu : annual drift (default 0).

    Notes
    -----
    ``P(move, sigma) = core.risk.liquidation_probability(side, mark*(1+move), LP, sigma, T, mu)``,
    broadcast over (n_move, 1) x (1, n_sigma).

    Examples
    --------
    The FAQ position (LP 61,880) at mark 68,000, 80 % volatility, one week: 0.4134 (the worked
    numbers are in :func:`core.risk.liquidation_probability`); 10 % lower, at 61,200, it is past
    the liquidation price: 1.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> from core.model import Side
    >>> classic = load_profiles([exchanges_dir()]).get("classic")
    >>> acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),))
    >>> g = touch_probability_grid(classic, acct, move=[-0.1, 0.0], sigma=[0.8])
    >>> [round(float(x), 4) for x in g.probability[:, 0]]
    [1.0, 0.4134]
    """
    mv = _check_axis("move", np.linspace(-0.3, 0.3, DEFAULT_MOVE_CELLS) if move is None else move,
                     lo=-1.0, lo_open=True)
    sg = _check_axis("sigma", np.linspace(0.05, 2.0, DEFAULT_SIGMA_CELLS) if sigma is None else sigma, lo=0.0)
    if mv.size * sg.size > MAX_CELLS:
        raise InvalidInputError("grid", f"{mv.size} x {sg.size} cells; allowed up to {MAX_CELLS:,}")
    t = float(horizon_years)
    if not (t > 0 and math.isfinite(t)):
        raise InvalidInputError("horizon", f"must be a finite number of years > 0, got {horizon_years!r}")
    if not math.isfinite(mu):
        raise InvalidInputError("mu", f"must be a finite number, got {mu!r}")
    position = _position(account, index)
    q = quote_account(profile, account).positions[index]
    marks = q.mark * (1.0 + mv[:, None])
    p = liquidation_probability(side=float(position.sign), mark=marks, liquidation_price=q.liquidation_price,
                                sigma=sg[None, :], horizon=t, mu=mu)
    prob = np.broadcast_to(np.asarray(p, dtype=float), (mv.size, sg.size)).copy()
    return TouchGrid(position=position, profile_id=profile.id, move=mv, sigma=sg, probability=prob,
                     liquidation_price=q.liquidation_price, mark=q.mark, horizon_years=t, mu=float(mu))
