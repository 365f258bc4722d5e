"""Model prices, and what a reply's tokens cost.

The shipped table (``prices.toml`` beside this module) holds the published prices of current
Claude models; ``--prices FILE`` replaces it with the user's own file of the same form. A model
is priced by the longest key its id starts with; a model with no key has no price, and its cost
is unknown (None), never guessed.

The file is checked by hand rather than with pydantic: four numbers per model do not need it,
and importing pydantic would cost a third of a second on every report.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from orchestrator.errors import OrchestratorError

FIELDS = ("input", "output", "cache_write", "cache_read")
"""The prices each model has, in US dollars per million tokens."""
_HINT = (
    'each model is [models."<id or prefix>"] with input, output, cache_write and cache_read '
    "in USD per million tokens, and nothing else"
)


@dataclass(frozen=True)
class Price:
    """One model's prices, in US dollars per million tokens."""

    input: float
    """Plain input tokens."""
    output: float
    """Output tokens."""
    cache_write: float
    """Input tokens written to the prompt cache."""
    cache_read: float
    """Input tokens read from the prompt cache."""


@dataclass(frozen=True)
class PriceTable:
    """A prices file: ``[models."<model id or prefix>"]`` tables."""

    models: dict[str, Price]
    """Prices by model id or id prefix."""

    def price_of(self, model: str) -> Price | None:
        """The price of the longest key ``model`` starts with, or None."""
        best: str | None = None
        for key in self.models:
            if model.startswith(key) and (best is None or len(key) > len(best)):
                best = key
        return None if best is None else self.models[best]

    def cost(self, model: str, tokens: list[int]) -> tuple[float | None, float | None]:
        """What ``tokens`` (input, cache creation, cache read, output) cost with the cache and
        without it (every cache token priced as plain input); None, None without a price."""
        price = self.price_of(model)
        if price is None:
            return None, None
        plain, written, read, output = tokens
        with_cache = (
            plain * price.input
            + written * price.cache_write
            + read * price.cache_read
            + output * price.output
        )
        without = (plain + written + read) * price.input + output * price.output
        return with_cache / 1e6, without / 1e6


def parse(document: dict[str, object], where: str) -> PriceTable:
    """The price table in a decoded TOML document; errors name ``where`` and the field."""
    extra = sorted(set(document) - {"models"})
    if extra:
        raise OrchestratorError(f"{where}: {extra[0]}: unknown key", hint=_HINT)
    models = document.get("models")
    if not isinstance(models, dict):
        raise OrchestratorError(f"{where}: models: missing, or not a table", hint=_HINT)
    table: dict[str, Price] = {}
    for name, fields in models.items():
        if not isinstance(fields, dict):
            raise OrchestratorError(f"{where}: models.{name}: not a table", hint=_HINT)
        for key in sorted(set(fields) - set(FIELDS)):
            raise OrchestratorError(f"{where}: models.{name}.{key}: unknown key", hint=_HINT)
        values: list[float] = []
        for key in FIELDS:
            value = fields.get(key)
            if value is None:
                raise OrchestratorError(f"{where}: models.{name}.{key}: missing", hint=_HINT)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise OrchestratorError(
                    f"{where}: models.{name}.{key}: {value!r} is not a price (a number >= 0)",
                    hint=_HINT,
                )
            values.append(float(value))
        table[name] = Price(*values)
    return PriceTable(table)


def load(path: Path | None = None) -> PriceTable:
    """The prices in ``path``, or the shipped table; a bad file raises an error naming it."""
    if path is None:
        text = resources.files("orchestrator.report").joinpath("prices.toml").read_text("utf-8")
        where = "the shipped prices"
    else:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OrchestratorError(
                f"cannot read the prices file {path}: {exc.strerror}",
                hint="give --prices a readable TOML file",
            ) from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OrchestratorError(f"{where}: not valid TOML: {exc}", hint="fix its syntax") from exc
    return parse(document, where)
