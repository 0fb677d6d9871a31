"""One sentence per concept, shown as tooltips wherever the concept appears."""
from __future__ import annotations

from typing import Final

TIPS: Final[dict[str, str]] = {
    "profile": "The exchange whose rules (tier table, maintenance basis, fees) turn the position into margins and prices.",
    "symbol": "The perpetual contract; its tier table sets the maximum leverage and maintenance rate by position size.",
    "side": "Long gains when the price rises, short gains when it falls; liquidation lies below a long's entry and above a short's.",
    "qty": ("Position size in the base asset (5 means 5 BTC), or its value in the quote currency at the entry "
            "price. An inverse (coin-margined) contract is sized in contracts, each worth a fixed amount of the "
            "quote currency (100 USD on Binance COIN-M), or in that value."),
    "entry": "Entry price: the average price at which the position was opened.",
    "leverage": "Leverage sets the initial margin to notional / leverage; the tier at this size caps it.",
    "mode": "Isolated risks only the position's own margin; cross shares the whole wallet with every cross position.",
    "margin": ("Isolated margin: the collateral assigned to this position alone (blank = the opening requirement), "
               "in the contract's settlement asset (USDT, or the coin of an inverse contract)."),
    "wallet": ("Wallet, excluding the isolated margins: the collateral every cross position shares, and where "
               "added margin comes from. An exchange's 'wallet balance' also counts the margins of isolated "
               "positions; MarginLab keeps each isolated margin with its position (the account line below the "
               "table shows both)."),
    "mark": "The scenario's mark price, where the feed starts; the mark is the exchange's fair price that triggers liquidation.",
    "stop_loss": "Stop-loss: an order that closes the position when the last price reaches this level, before liquidation can (none = no order).",
    "take_profit": "Take-profit: an order that closes the position in profit when the last price reaches this level (none = no order).",
    "mark_price": "Mark price: the exchange's fair price, used for uPnL, margin checks and the liquidation trigger.",
    "entry_price": "Entry price: the average price at which the position was opened.",
    "liquidation_price": "Liquidation price: the mark at which equity falls to the maintenance margin and the exchange takes over the position.",
    "bankruptcy_price": "Bankruptcy price: where equity is exactly zero; the liquidation order is booked there.",
    "fill_price": "Fill price: where the liquidation was actually filled (here the bankruptcy price, as the exchange books it).",
    "initial_margin": "Initial margin: collateral needed to open the position, notional / leverage.",
    "maintenance_margin": "Maintenance margin: the least equity the position may keep before it is liquidated.",
    "tier": "Tier (risk limit): the bracket of position notional that sets the maximum leverage and the maintenance rate.",
    "margin_ratio": "Margin ratio: maintenance margin / equity; at 100 % the position is liquidated (amber from 50 %, red from 80 %).",
    "distance": "Distance to liquidation: how far the mark may still move against the position, as a share of the mark.",
    "unrealized_pnl": "Unrealised PnL: profit or loss if the position were closed at the mark.",
    "equity": "Equity: margin (or cross collateral) plus unrealised PnL.",
    "notional": "Notional: position size times the mark price.",
    "whatif": "What-if: try a change on the selected position; the dashed line and the deltas show it before you apply it.",
    "add_margin": "Add margin: move money from the wallet into the isolated margin, pushing the liquidation price away.",
    "remove_margin": "Remove margin: take margin back to the wallet, pulling the liquidation price closer.",
    "change_leverage": "Change leverage: recompute the isolated margin as notional / new leverage.",
    "partial_close": "Partial close: sell part of a long (buy back part of a short) at the mark and release margin in proportion.",
    "target_liquidation": ("Move liquidation price: where you want the liquidation price (or drag its line on "
                           "the chart); MarginLab finds the margin, leverage or size that puts it there."),
    "target_lever": ("What to change to move the liquidation price: margin (for cross, the wallet), the leverage "
                     "(isolated only) or cutting part of the position at the mark."),
    "add_to_position": "Add to position: buy more of a long (sell more of a short) at a price; the entry becomes the average.",
    "hold": ("Hold with funding: keep the position for some days while funding is paid every interval at a rate, "
             "the mark standing still; shows the liquidation price after the payments, what they cost, and the day "
             "funding alone would liquidate the position."),
    "break_even_price": ("Break-even (with fees): the exit price at which closing nets zero after the fee to open, the "
                         "fee to close there and the funding paid so far. MarginLab's own: an exchange's \"breakeven\" "
                         "may leave fees and funding out."),
    "net_unrealized_pnl": ("Net uPnL: unrealised PnL less the fee paid to open, the fee to close at the mark and the "
                           "funding paid so far -- what closing now would really leave you."),
    "funding": ("Funding: every interval, longs pay shorts (positive rate) the position's value at the mark times the "
                "rate. Where the exchange books it decides whether the liquidation price moves."),
    "funding_rate": "Funding rate per interval (0.01 % = 0.0001); positive: longs pay, shorts receive.",
    "hold_days": "How many days to hold; payments fall at the end of each whole interval from now.",
}
