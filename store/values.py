"""Value rules shared by the API and the store: money, EAN, slugs, currencies, channels,
locales and timestamps."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MONEY_SCALE = 10_000  # money is stored as an integer count of 1/10000 units
MONEY_MAX = Decimal("100000000000")  # 10^11: far above any price, far below int64 / scale
MONEY_MAX_DIGITS = 11  # digits before the point: below MONEY_MAX
DECIMAL = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")


@dataclass(frozen=True)
class DecimalDigits:
    """A finite decimal as its sign, significant digits (trailing zeros dropped) and
    exponent: `12.50` is (False, (1, 2, 5), -1). The rules of every decimal field are
    checked on these integers, before any Decimal arithmetic: on `1e1000000` that
    raises `decimal.Overflow`, it rounds `1e-999999999` to 0, and it keeps 28 digits,
    so a 40-digit number would be checked as another number."""

    negative: bool
    digits: tuple[int, ...]
    exponent: int

    @property
    def is_zero(self) -> bool:
        return self.digits == (0,)

    @property
    def before(self) -> int:
        """Digits before the point (0 for a number below 1)."""
        return 0 if self.is_zero else max(0, len(self.digits) + self.exponent)

    @property
    def after(self) -> int:
        """Digits after the point, trailing zeros not counted."""
        return max(0, -self.exponent)

    def value(self) -> Decimal:
        """The number itself, exactly (built from its digits, no context involved)."""
        return Decimal((int(self.negative), self.digits, self.exponent))


def decimal_digits(number: Decimal) -> DecimalDigits:
    """The digits of a finite decimal; raises ValueError for NaN and infinities."""
    if not number.is_finite():
        raise ValueError("must be a finite number")
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    kept = tuple(digits[:end])
    if kept == (0,):
        return DecimalDigits(False, (0,), 0)
    return DecimalDigits(bool(sign), kept, exponent + len(digits) - end)


def parse_money(value: object, *, allow_negative: bool = False) -> Decimal:
    """Exact decimal from a string or JSON number; at most 4 places, below 10^11;
    raises ValueError. Trailing zeros do not count as places (`19.990000` is 19.99)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError("must be a decimal number or a string such as \"19.99\"")
    if isinstance(value, str):
        # Decimal() would also take "1_000", "1e3", "NaN" and non-ASCII digits.
        if not DECIMAL.fullmatch(value.strip()):
            raise ValueError("must be a decimal number such as \"19.99\"")
        value = value.strip()
    try:
        amount = decimal_digits(Decimal(value))
    except InvalidOperation:
        raise ValueError("must be a decimal number such as \"19.99\"") from None
    if amount.after > 4:
        raise ValueError("must have at most 4 decimal places")
    if amount.negative and not allow_negative:
        raise ValueError("must not be negative")
    if amount.before > MONEY_MAX_DIGITS:
        raise ValueError(f"must be less than {MONEY_MAX}")
    return amount.value()


def money_to_db(amount: Decimal | None) -> int | None:
    return None if amount is None else int(amount * MONEY_SCALE)


def money_from_db(units: int | None) -> str | None:
    """`899900` -> `"89.9900"`; `None` stays `None`."""
    if units is None:
        return None
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), MONEY_SCALE)
    return f"{sign}{whole}.{frac:04d}"


# Unicode's control characters (Cc): C0, DEL and C1. Multi-line text keeps tab, LF and CR.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_text(text: str, *, multiline: bool = False) -> str:
    """`text`, or ValueError when it holds a control character: any of them in a
    single-line text (a name, a code, an e-mail address), any but tab and line breaks
    in a multi-line one (a description). The message says which and where."""
    found = (CONTROL_BUT_LINES if multiline else CONTROL).search(text)
    if found is not None:
        kinds = "control characters other than tab and line breaks" if multiline else "control characters"
        raise ValueError(f"must not contain {kinds} (U+{ord(found.group()):04X} at character {found.start() + 1})")
    return text


def ean_check_digit(body: str) -> int:
    """GS1 check digit for the digits before it (weights 3,1,3,… from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_ean(code: str) -> str:
    """Accept EAN-13, EAN-8 or UPC-A (12 digits) with a correct check digit."""
    if not code.isascii() or not code.isdigit() or len(code) not in (8, 12, 13):
        raise ValueError("must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)")
    expected = ean_check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise ValueError(f"invalid check digit: expected {expected}, got {code[-1]}")
    return code


SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slugify(text: str) -> str:
    """ASCII, lower-case, hyphen-separated; `"Ceașcă Roșie!"` -> `"ceasca-rosie"`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:200].rstrip("-") or "item"


def validate_slug(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise ValueError("must be lower-case letters, digits and single hyphens")
    return slug


# ISO 4217 active codes.
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR
    ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV
    WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()
)


def validate_currency(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError("must be an ISO 4217 currency code such as EUR")
    return code


# The six publishing channels are fixed; a product stores them as a bitmask so that
# a channel filter is answered from a partial index instead of a join.
CHANNELS: dict[str, tuple[int, str, str]] = {
    "web": (1, "Web Store", "Products visible on web storefront"),
    "mobile": (2, "Mobile App", "Products visible in the mobile app"),
    "api": (4, "API", "Products exposed to API integrations"),
    "marketplace": (8, "Marketplace", "Products published to external marketplaces"),
    "social": (16, "Social", "Products published to social commerce"),
    "email": (32, "Email", "Products featured in email campaigns"),
}
DEFAULT_CHANNELS = ("web", "mobile")


def channels_to_mask(channels: list[str]) -> int:
    mask = 0
    for name in channels:
        mask |= CHANNELS[name][0]
    return mask


STATUSES = ("draft", "active", "archived", "out_of_stock")


# A BCP 47 tag of the shape catalogs use: language (2-3 letters), an optional script
# (4 letters) and an optional region (2 letters or 3 digits), e.g. `zh-Hant-TW`.
LOCALE_RE = re.compile(r"([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|[0-9]{3}))?")
LOCALE_MESSAGE = "must be a BCP 47 language tag such as en, ro, de-AT or zh-Hant-TW"


def canonical_locale(tag: str) -> str:
    """The tag in BCP 47's canonical case (`de-at` -> `de-AT`, `ZH-HANT` -> `zh-Hant`),
    so one locale is stored and looked up under one spelling; raises ValueError."""
    match = LOCALE_RE.fullmatch(tag)
    if match is None:
        raise ValueError(LOCALE_MESSAGE)
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def locale_fallbacks(locale: str) -> list[str]:
    """The locales a read in `locale` takes text from, most specific first (RFC 4647
    lookup): `zh-Hant-TW` -> `zh-Hant-TW`, `zh-Hant`, `zh`; then the default text."""
    parts = locale.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def utcnow() -> str:
    """The current time as the API shows it: UTC ISO 8601 with microseconds."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
