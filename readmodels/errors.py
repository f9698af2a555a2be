"""What a read model raises for a record that is well-formed but that its state cannot take."""

from __future__ import annotations


class Rejected(ValueError):
    """This one record cannot be applied (the consumer dead-letters it and goes on).

    ``kind`` is a short, stable name for the class of problem (it becomes the dead letter's
    ``error.kind`` header); ``reason`` says what was wrong, for the operator.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
