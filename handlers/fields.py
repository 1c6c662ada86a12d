"""Field types shared by request bodies: each carries its own rule and message."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema,
)

from store import values

MAX_ID = 2**63 - 1


class Body(BaseModel):
    """A request body: unknown fields and loose type coercion are both 400s."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _money(value: Any) -> Decimal | None:
    return None if value is None else values.parse_money(value)


def _no_spaces(value: str) -> str:
    if any(ch.isspace() for ch in value) or not value.isprintable():
        raise ValueError("must not contain spaces or control characters")
    return value


def _line(value: str) -> str:
    return values.check_text(value)


def _lines(value: str) -> str:
    return values.check_text(value, multiline=True)


def _slug(value: str | None) -> str | None:
    return None if value is None else values.validate_slug(value)


def _ean(value: str | None) -> str | None:
    return None if value is None else values.validate_ean(value)


def _country(value: str) -> str:
    if len(value) != 2 or not value.isascii() or not value.isupper() or not value.isalpha():
        raise ValueError("must be an ISO 3166-1 alpha-2 code such as RO")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# The document (handlers/openapi.py) shows what the validator takes, not Decimal's schema.
MONEY_SCHEMA = {
    "anyOf": [{"type": "string", "pattern": r"^[0-9]{1,11}(\.[0-9]{1,4})?$"},
              {"type": "number", "minimum": 0}, {"type": "null"}],
    "description": "Exact decimal, at most 4 places, not negative, below 10^11; null: unset",
}
Money = Annotated[Decimal | None, BeforeValidator(_money), WithJsonSchema(MONEY_SCHEMA)]
# Text: single-line fields refuse every control character, multi-line ones (descriptions)
# keep tab and line breaks (`store.values.check_text`). The document shows the rule as
# a pattern; the validator, not the pattern, makes the message.
ONE_LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
ONE_LINE = Field(json_schema_extra={"pattern": ONE_LINE_PATTERN})
MULTI_LINE = Field(json_schema_extra={"pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"})
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
                 AfterValidator(_line), ONE_LINE]
Line = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_line), ONE_LINE]
ShortText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_lines), MULTI_LINE]
LongText = Annotated[str, StringConstraints(max_length=65535), AfterValidator(_lines), MULTI_LINE]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_spaces)]
Slug = Annotated[str | None, StringConstraints(min_length=1, max_length=200), AfterValidator(_slug)]
Ean = Annotated[str | None, AfterValidator(_ean)]
# The document names the codes the validators take, so that clients (and generated
# tests) can send a valid one; the validators keep their own messages.
Currency = Annotated[str, AfterValidator(values.validate_currency),
                     Field(json_schema_extra={"enum": sorted(values.CURRENCIES)})]
Country = Annotated[str, AfterValidator(_country), Field(json_schema_extra={"pattern": "^[A-Z]{2}$"})]
Quantity = Annotated[int, Field(ge=0, le=2_147_483_647)]

# Attribute values are checked against the organization's definitions in the store
# (store/attributes.py); here only the shape: an object of at most 200 codes.
Attributes = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=100)], Any],
    Field(max_length=200),
]
