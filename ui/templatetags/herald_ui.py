"""Template filters for the marketer's pages: money as people write it, plain status names."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()

CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£"}


@register.filter
def money(amount, currency: str = "") -> str:
    """€199.20 (two decimals, thousands separated); 199.20 CHF without a known sign."""
    try:
        value = Decimal(str(amount if amount is not None else 0)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return ""
    sign = CURRENCY_SIGNS.get(currency or "")
    if sign:
        return f"-{sign}{-value:,}" if value < 0 else f"{sign}{value:,}"
    return f"{value:,} {currency}".strip()
