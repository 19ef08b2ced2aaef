"""An order's average price is quote over quantity, kept to the finest amount the order tables
store (18 places): fills at several prices seldom divide to a finite decimal."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from domain.market import AMOUNT_SCALE, average_price

D = Decimal


def test_an_exact_quotient_is_kept_as_it_is() -> None:
    assert average_price(D("70.00"), D("0.0002")) == D(350000)
    assert average_price(D("0.00356"), D("2")) == D("0.00178")


def test_a_mean_of_fills_at_several_prices_is_rounded_to_18_places() -> None:
    # 0.5 ETH at 0.00178299 BTC and 0.6217 at 0.00178300, as a market buy on ETH/BTC fills.
    quote = D("0.5") * D("0.00178299") + D("0.6217") * D("0.00178300")
    mean = average_price(quote, D("1.1217"))
    assert mean == D("0.001782995542480164")
    assert mean.as_tuple().exponent == -AMOUNT_SCALE


def test_no_fill_has_no_average() -> None:
    assert average_price(D(0), D(0)) is None


@given(
    quote=st.decimals(min_value=D("1e-8"), max_value=D("1e12"), places=8),
    quantity=st.decimals(min_value=D("1e-8"), max_value=D("1e6"), places=8),
)
def test_any_average_is_storable_and_as_close_as_storing_allows(
    quote: Decimal, quantity: Decimal
) -> None:
    mean = average_price(quote, quantity)
    assert mean is not None
    exponent = mean.as_tuple().exponent
    assert isinstance(exponent, int) and exponent >= -AMOUNT_SCALE
    with localcontext(Context(prec=80)):
        exact = quote / quantity
        assert abs(mean - exact) <= max(D("0.5e-18"), exact * D("1e-27"))
