"""The run's figures: operations tested, cases sent, seconds; printed at the end of the module."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Figures:
    cases: Counter[str] = field(default_factory=Counter)
    operations: int = 0
    seconds: float = 0.0

    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def case(self, label: str, status: int) -> None:
        self.cases[label] += 1
        self.statuses.setdefault(label, Counter())[status] += 1

    per_operation: dict[str, float] = field(default_factory=dict)

    def operation_done(self, name: str, seconds: float) -> None:
        self.operations += 1
        self.seconds += seconds
        self.per_operation[name] = seconds

    def lines(self) -> list[str]:
        total = sum(self.cases.values())
        lines = [
            f"Schemathesis: {self.operations} operations, {total} cases, "
            f"{self.seconds:.1f} s of generating and calling"
        ]
        for label, count in self.cases.items():
            statuses = ", ".join(f"{n}x{s}" for s, n in sorted(self.statuses[label].items()))
            seconds = self.per_operation.get(label, 0.0)
            lines.append(f"  {label}: {count} cases in {seconds:.1f} s ({statuses})")
        return lines


FIGURES = Figures()
