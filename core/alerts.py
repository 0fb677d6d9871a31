"""Alert thresholds: when a position's margin ratio or distance to liquidation crosses a level.

The rule the window's alerts follow during playback (:mod:`gui.alerts`): a **margin ratio**
threshold is crossed when the ratio goes from below it to at or above it (the ratio rises towards
100 %, where the position is liquidated, docs/domain.md §1.4); a **distance** threshold when the
distance to liquidation (:func:`core.risk.distance_to_liquidation`) goes from above it to at or
below it. Going back the other way re-arms the threshold; nothing is said then. Both numbers are
the engine's own (:class:`core.quote.PositionQuote`); NaN (no liquidation price) never crosses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from core import fmt

#: The kinds of threshold.
MARGIN_RATIO: Final = "margin_ratio"
DISTANCE: Final = "distance"


@dataclass(frozen=True, slots=True)
class Crossing:
    """One threshold crossed between two quotes of a position."""

    kind: str  # MARGIN_RATIO or DISTANCE
    level: float
    before: float
    after: float

    def describe(self, what: str) -> str:
        if self.kind == MARGIN_RATIO:
            return (f"{what}: margin ratio {fmt.pct(self.after)} crossed {fmt.pct(self.level, 0)} "
                    f"(from {fmt.pct(self.before)}; 100 % liquidates)")
        return (f"{what}: distance to liquidation {fmt.pct(self.after)} fell below {fmt.pct(self.level, 1)} "
                f"(from {fmt.pct(self.before)})")


def crossings(*, before_ratio: float, after_ratio: float, before_distance: float, after_distance: float,
              ratio_levels: tuple[float, ...], distance_levels: tuple[float, ...]) -> list[Crossing]:
    """The thresholds crossed from one quote to the next, worst last.

    Examples
    --------
    A ratio going from 45 % to 85 % crosses both default levels, 50 % and 80 %; a distance going
    from 6 % to 4 % crosses a 5 % level; back up again crosses nothing.

    >>> [(c.kind, c.level) for c in crossings(before_ratio=0.45, after_ratio=0.85, before_distance=0.06,
    ...                                        after_distance=0.04, ratio_levels=(0.5, 0.8), distance_levels=(0.05,))]
    [('margin_ratio', 0.5), ('margin_ratio', 0.8), ('distance', 0.05)]
    >>> crossings(before_ratio=0.85, after_ratio=0.45, before_distance=0.04, after_distance=0.06,
    ...           ratio_levels=(0.5, 0.8), distance_levels=(0.05,))
    []
    """
    out = []
    if not (math.isnan(before_ratio) or math.isnan(after_ratio)):  # inf: equity gone, still a ratio
        for level in sorted(ratio_levels):
            if before_ratio < level <= after_ratio:
                out.append(Crossing(MARGIN_RATIO, level, before_ratio, after_ratio))
    if math.isfinite(before_distance) and math.isfinite(after_distance):
        for level in sorted(distance_levels, reverse=True):
            if before_distance > level >= after_distance:
                out.append(Crossing(DISTANCE, level, before_distance, after_distance))
    return out
