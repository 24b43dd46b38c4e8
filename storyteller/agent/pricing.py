"""What an LLM call cost, in US dollars, from a per-model price table.

Prices are USD per 1,000,000 tokens, input (prompt) and output (completion), as published
by OpenAI for standard (non-batch, non-cached) use. They change: an instance can override
or extend them with the ``STORYTELLER_MODEL_PRICES`` environment variable, a JSON object
such as::

    {"gpt-4o-mini": {"input": 0.15, "output": 0.60}, "llama3.1:8b": [0, 0]}

(an entry is either ``{"input": x, "output": y}`` or ``[x, y]``; ``null`` removes a model
from the table, making it unpriced).

``cost_for`` returns ``None`` for "unpriced" (an unknown model, or token counts the server
did not report): it never guesses 0. A model is found by its exact name, else by dropping a
dated snapshot suffix (``gpt-4o-mini-2024-07-18`` and ``gpt-4-0613`` style). Local models
(Ollama names like ``llama3.1:8b``) are unpriced unless configured.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "DEFAULT_PRICES",
    "ModelPrice",
    "cost_for",
    "find_price",
    "parse_price_table",
    "price_table",
]

PER_TOKENS = Decimal(1_000_000)
QUANTUM = Decimal("0.000001")
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M input tokens and per 1M output tokens."""

    input_per_million: Decimal
    output_per_million: Decimal


def _p(input_usd: str, output_usd: str) -> ModelPrice:
    return ModelPrice(Decimal(input_usd), Decimal(output_usd))


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-5": _p("1.25", "10.00"),
    "gpt-5-mini": _p("0.25", "2.00"),
    "gpt-5-nano": _p("0.05", "0.40"),
    "gpt-4.1": _p("2.00", "8.00"),
    "gpt-4.1-mini": _p("0.40", "1.60"),
    "gpt-4.1-nano": _p("0.10", "0.40"),
    "gpt-4o": _p("2.50", "10.00"),
    "gpt-4o-mini": _p("0.15", "0.60"),
    "o4-mini": _p("1.10", "4.40"),
    "o3": _p("2.00", "8.00"),
    "o3-mini": _p("1.10", "4.40"),
    "o1": _p("15.00", "60.00"),
    "gpt-4-turbo": _p("10.00", "30.00"),
    "gpt-4": _p("30.00", "60.00"),
    "gpt-3.5-turbo": _p("0.50", "1.50"),
}


def _key(model: str) -> str:
    return model.strip().lower()


def _amount(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{where} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"{where} must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if amount < 0:
        raise ValueError(f"{where} must not be negative, got {value!r}")
    return amount


def _entry(model: Any, value: Any) -> ModelPrice | None:
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model names must be non-empty strings, got {model!r}")
    if value is None:
        return None
    if isinstance(value, ModelPrice):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"input", "output"}
        if unknown:
            raise ValueError(
                f"price for {model!r} has unknown keys {sorted(map(str, unknown))}: "
                "use 'input' and 'output' (USD per 1M tokens)"
            )
        missing = [k for k in ("input", "output") if k not in value]
        if missing:
            raise ValueError(f"price for {model!r} lacks {' and '.join(missing)}")
        return ModelPrice(
            _amount(value["input"], f"input price for {model!r}"),
            _amount(value["output"], f"output price for {model!r}"),
        )
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError(
                f"price for {model!r} must be [input, output] (USD per 1M tokens), got {value!r}"
            )
        return ModelPrice(
            _amount(value[0], f"input price for {model!r}"),
            _amount(value[1], f"output price for {model!r}"),
        )
    raise ValueError(
        f'price for {model!r} must be an object {{"input": x, "output": y}} '
        f"or a list [x, y], got {value!r}"
    )


def _coerce_table(raw: Any) -> dict[str, ModelPrice | None]:
    if not isinstance(raw, Mapping):
        raise ValueError(
            "the model price table must be a JSON object mapping model names to prices, "
            f"got {type(raw).__name__}"
        )
    return {_key(model): _entry(model, value) for model, value in raw.items()}


def parse_price_table(json_text: str | None) -> dict[str, ModelPrice | None]:
    """Validate ``STORYTELLER_MODEL_PRICES``-style JSON; raise ValueError saying what is wrong.

    Empty or blank text means no overrides. ``None`` values (JSON null) are kept: they
    remove a default price.
    """
    if json_text is None or not json_text.strip():
        return {}
    try:
        raw = json.loads(json_text)
    except ValueError as exc:
        raise ValueError(f"STORYTELLER_MODEL_PRICES is not valid JSON: {exc}") from None
    try:
        return _coerce_table(raw)
    except ValueError as exc:
        raise ValueError(f"STORYTELLER_MODEL_PRICES: {exc}") from None


def price_table(overrides: Mapping[str, Any] | None = None) -> dict[str, ModelPrice]:
    """The defaults with ``overrides`` (parsed or raw JSON-decoded) applied on top."""
    table: dict[str, ModelPrice | None] = dict(DEFAULT_PRICES)
    if overrides:
        table.update(_coerce_table(overrides))
    return {model: price for model, price in table.items() if price is not None}


def find_price(model: str | None, prices: Mapping[str, Any] | None = None) -> ModelPrice | None:
    """The price of ``model``: exact name, then without a dated snapshot suffix."""
    if not model or not model.strip():
        return None
    table = price_table(prices)
    key = _key(model)
    if key in table:
        return table[key]
    base = _SNAPSHOT_SUFFIX.sub("", key)
    if base != key:
        return table.get(base)
    return None


def cost_for(
    model: str | None,
    prompt_tokens: int | None,
    response_tokens: int | None,
    prices: Mapping[str, Any] | None = None,
) -> Decimal | None:
    """USD cost quantized to 6 places; None when the model or a token count is unknown.

    ``prices`` are overrides on top of ``DEFAULT_PRICES`` (as from ``parse_price_table``
    or the JSON-decoded ``STORYTELLER_MODEL_PRICES``).
    """
    if prompt_tokens is None or response_tokens is None:
        return None
    if prompt_tokens < 0 or response_tokens < 0:
        return None
    price = find_price(model, prices)
    if price is None:
        return None
    total = (
        Decimal(prompt_tokens) * price.input_per_million
        + Decimal(response_tokens) * price.output_per_million
    ) / PER_TOKENS
    return total.quantize(QUANTUM, rounding=ROUND_HALF_UP)
