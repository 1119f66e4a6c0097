"""Spreads and paired ratios: every figure a benchmark prints is min–median–max over its rounds."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Spread:
    low: float
    median: float
    high: float

    @classmethod
    def of(cls, samples: Iterable[float]) -> Spread:
        values = sorted(samples)
        if not values:
            raise ValueError("no samples")
        return cls(values[0], statistics.median(values), values[-1])

    def show(self, digits: int = 1, unit: str = "") -> str:
        """`median (min–max)`, e.g. `41.2 (39.0–47.5) µs`."""
        text = f"{self.median:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"
        return f"{text} {unit}" if unit else text


def paired(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """The spread of round-by-round ratios: each ratio is of two figures measured side by side."""
    if len(numerators) != len(denominators):
        raise ValueError("paired figures need the same rounds")
    return Spread.of(n / d for n, d in zip(numerators, denominators))


def percentile(sorted_samples: Sequence[float], fraction: float) -> float:
    return sorted_samples[min(len(sorted_samples) - 1, int(len(sorted_samples) * fraction))]
