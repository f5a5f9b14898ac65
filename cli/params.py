"""Click parameter types: option text -> the values the library takes."""

from __future__ import annotations

import math
import re
from typing import Any

import click

from conceptvae.options import MAX_AMOUNT, MAX_STEPS

_NUMBER = r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity))\s*"


class FlagValueError(click.BadParameter):
    """A bad value, said as ``--flag <problem>`` like the library's own errors (and,
    like them, without the usage hint Click's own messages get)."""

    usage_hint = False

    def format_message(self) -> str:
        opts = getattr(self.param, "opts", None) or [self.param_hint or "value"]
        return f"{max(opts, key=len)} {self.message}"


class _Amounts(click.ParamType):
    def fail_value(self, message: str, param: Any, ctx: Any) -> None:
        raise FlagValueError(message, ctx, param)

    def amount(self, text: str, param: Any, ctx: Any) -> float:
        a = float(text)
        if not math.isfinite(a) or abs(a) > MAX_AMOUNT:
            self.fail_value(
                f"must be a finite number from -{MAX_AMOUNT:g} to {MAX_AMOUNT:g}, got {a}",
                param, ctx,
            )  # fmt: skip
        return a


class AmountRange(_Amounts):
    """``START:STOP`` -> (start, stop), both amounts the library accepts."""

    name = "range"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        m = re.fullmatch(_NUMBER + ":" + _NUMBER, str(value), re.IGNORECASE)
        if m is None:
            self.fail_value(f"must look like START:STOP (e.g. -3:3), got {value!r}", param, ctx)
        return self.amount(m.group(1), param, ctx), self.amount(m.group(2), param, ctx)


class AmountSweep(_Amounts):
    """``START:STOP:COUNT`` -> COUNT evenly spaced amounts from START to STOP."""

    name = "sweep"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, str):
            return value
        m = re.fullmatch(_NUMBER + ":" + _NUMBER + r":\s*(-?\d+)\s*", value, re.IGNORECASE)
        if m is None:
            self.fail_value(
                f"must look like START:STOP:COUNT (e.g. -2:2:9), got {value!r}", param, ctx
            )
        start, stop = self.amount(m.group(1), param, ctx), self.amount(m.group(2), param, ctx)
        count = int(m.group(3))
        if not 1 <= count <= MAX_STEPS:
            self.fail_value(
                f"COUNT must be an integer from 1 to {MAX_STEPS}, got {count}", param, ctx
            )
        import numpy as np

        return np.linspace(start, stop, count)
