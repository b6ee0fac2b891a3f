"""A worker app whose handler fails with whatever text it is given (hostile input tests)."""

from taskbasket import Basket, Fail

basket = Basket()


@basket.task(max_attempts=1)
def hostile(text: str) -> None:
    raise Fail(text)
