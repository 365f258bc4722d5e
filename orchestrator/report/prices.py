"""Model prices, and what a reply's tokens cost.

The shipped table (``prices.toml`` beside this module) holds the published prices of current
Claude models; ``--prices FILE`` replaces it with the user's own file of the same form. A model
is priced by the longest key its id starts with; a model with no key has no price, and its cost
is unknown (None), never guessed.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.errors import OrchestratorError


class Price(BaseModel):
    """One model's prices, in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float
    """Plain input tokens."""
    output: float
    """Output tokens."""
    cache_write: float
    """Input tokens written to the prompt cache."""
    cache_read: float
    """Input tokens read from the prompt cache."""


class PriceTable(BaseModel):
    """A prices file: ``[models."<model id or prefix>"]`` tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
        return PriceTable.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise OrchestratorError(
            f"{where}: not valid TOML: {exc}", hint="fix the file's syntax"
        ) from exc
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise OrchestratorError(
            f"{where}: {field}: {problem['msg']}",
            hint='each model is [models."<id or prefix>"] with input, output, cache_write and '
            "cache_read in USD per million tokens",
        ) from exc
