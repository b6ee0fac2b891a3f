"""Typed arguments: handlers annotated with dataclasses, pydantic models, msgspec Structs,
datetime, date, UUID, Decimal or Enum get those types back in the worker, from every
executor; a wrong type fails at enqueue naming the parameter; plain JSON stays plain."""

from __future__ import annotations

import dataclasses
import enum
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from taskbasket import Basket
from taskbasket.errors import ArgumentsError
from taskbasket.testing import drain, inline
from taskbasket.typed import from_wire, from_wire_result, plan_for, to_wire, to_wire_result

if TYPE_CHECKING:
    from decimal import Context  # resolvable by a type checker only

try:
    import pydantic
except ImportError:  # an optional extra: taskbasket[pydantic]
    pydantic = None  # type: ignore[assignment]
try:
    import msgspec
except ImportError:  # an optional extra: taskbasket[msgspec]
    msgspec = None  # type: ignore[assignment]
needs_pydantic = pytest.mark.skipif(
    pydantic is None, reason="pydantic is not installed (pip install 'taskbasket[pydantic]')")
needs_msgspec = pytest.mark.skipif(
    msgspec is None, reason="msgspec is not installed (pip install 'taskbasket[msgspec]')")


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Item:
    sku: str
    price: Decimal
    colour: Colour = Colour.RED


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    items: list[Item]
    placed: datetime
    due: date | None = None
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Node:
    name: str
    children: list[Node] = dataclasses.field(default_factory=list)
    stamp: date | None = None


PLACED = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)
ORDER = Order(uuid.UUID(int=7), [Item("a", Decimal("1.10")), Item("b", Decimal("2"),
              Colour.BLUE)], PLACED, date(2026, 12, 24), {"gift": True})


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 't.db'}"


@pytest.fixture
def basket(url: str) -> Iterator[Basket]:
    made = Basket(url)
    yield made
    made.close()


def register(basket: Basket, seen: list[Any]) -> Any:
    @basket.task(max_attempts=1)
    def place(order: Order, when: datetime, day: date, key: uuid.UUID, amount: Decimal,
              colour: Colour, *, maybe: Item | None = None, many: list[Item] | None = None,
              plain: Any = None, count: int = 0) -> None:
        seen.append((order, when, day, key, amount, colour, maybe, many, plain, count))

    return place


def call(place: Any) -> None:
    place.enqueue(ORDER, PLACED, date(2026, 1, 2), uuid.UUID(int=1), Decimal("9.99"),
                  Colour.BLUE, maybe=None, many=[Item("c", Decimal("0.5"))],
                  plain={"x": [1, 2]}, count=3)


def check(seen: list[Any]) -> None:
    assert len(seen) == 1
    order, when, day, key, amount, colour, maybe, many, plain, count = seen[0]
    assert order == ORDER and isinstance(order.items[1], Item)
    assert order.items[1].colour is Colour.BLUE and order.id == uuid.UUID(int=7)
    assert when == PLACED and when.tzinfo is not None
    assert type(day) is date and day == date(2026, 1, 2)
    assert key == uuid.UUID(int=1) and amount == Decimal("9.99") and colour is Colour.BLUE
    assert maybe is None and many == [Item("c", Decimal("0.5"))]
    assert plain == {"x": [1, 2]} and count == 3


def test_a_real_worker_hands_back_the_annotated_types(basket: Basket) -> None:
    seen: list[Any] = []
    place = register(basket, seen)
    call(place)
    basket.worker(concurrency=1).run_until_empty(30)
    check(seen)


def test_an_async_handler_gets_them_too(basket: Basket) -> None:
    seen: list[Any] = []

    @basket.task(max_attempts=1)
    async def place(order: Order, when: datetime) -> None:
        seen.append((order, when))

    place.enqueue(ORDER, PLACED)
    basket.worker(concurrency=1).run_until_empty(30)
    assert seen == [(ORDER, PLACED)]


def test_drain_and_inline_convert_the_same_way(basket: Basket) -> None:
    seen: list[Any] = []
    place = register(basket, seen)
    call(place)
    drain(basket)
    check(seen)
    seen.clear()
    with inline(basket):
        call(place)
    check(seen)


def test_the_stored_form_is_plain_json(basket: Basket) -> None:
    place = register(basket, [])
    call(place)
    (task,) = basket.list()
    assert task.args[0]["items"][0] == {"sku": "a", "price": "1.10", "colour": "red"}
    assert task.args[0]["placed"] == "2026-12-01T20:30:00+00:00"
    assert task.args[1:6] == ["2026-12-01T20:30:00+00:00", "2026-01-02",
                              str(uuid.UUID(int=1)), "9.99", "blue"]


def test_a_wrong_type_fails_at_enqueue_naming_the_parameter(basket: Basket) -> None:
    place = register(basket, [])
    good = (ORDER, PLACED, date(2026, 1, 2), uuid.UUID(int=1), Decimal(1), Colour.RED)
    with pytest.raises(ArgumentsError, match=r"argument 'when' of task .*must be datetime, "
                                             r"got int"):
        place.enqueue(ORDER, 5, *good[2:])
    with pytest.raises(ArgumentsError, match=r"'day' .*must be date, got datetime"):
        place.enqueue(ORDER, PLACED, PLACED, *good[3:])
    with pytest.raises(ArgumentsError, match=r"'colour' .*must be Colour.*'red', 'blue'"):
        place.enqueue(*good[:5], "green")
    with pytest.raises(ArgumentsError, match=r"'order.items\[1\].price' .*must be Decimal"):
        place.enqueue(dataclasses.replace(ORDER, items=[ORDER.items[0], Item("b", 2.5)]),  # type: ignore[arg-type]
                      *good[1:])
    with pytest.raises(ArgumentsError, match=r"'many\[0\]' .*must be Item, got str"):
        place.enqueue(*good, many=["nope"])
    with pytest.raises(ArgumentsError, match=r"'order' .*Order has no field 'bogus'"):
        place.enqueue({"bogus": 1}, *good[1:])
    assert basket.count() == 0


def test_plain_types_are_not_checked_at_enqueue(basket: Basket) -> None:
    """An int-annotated parameter given a str is stored as it always was."""
    seen: list[Any] = []

    @basket.task(max_attempts=1)
    def plain(count: int, items: list[int], anything: Any) -> None:
        seen.append((count, items, anything))

    plain.enqueue("3", ["x"], {"a": 1})  # type: ignore[arg-type]
    drain(basket)
    assert seen == [("3", ["x"], {"a": 1})]


def test_enqueue_by_name_without_the_handler_stores_plain_json(url: str) -> None:
    producer = Basket(url)
    seen: list[Any] = []
    try:
        producer.enqueue("place", args=[json.loads(json.dumps(
            {"id": str(uuid.UUID(int=7)), "placed": PLACED.isoformat(),
             "items": [{"sku": "a", "price": "1.10"}, {"sku": "b", "price": "2",
                                                         "colour": "blue"}],
             "due": "2026-12-24", "notes": {"gift": True}})),
            PLACED.isoformat(), "2026-01-02", str(uuid.UUID(int=1)), "9.99", "blue"],
            kwargs={"many": [{"sku": "c", "price": "0.5"}], "plain": {"x": [1, 2]},
                    "count": 3})
        register(producer, seen)  # the worker's side registers the handler
        drain(producer)
    finally:
        producer.close()
    check(seen)


def test_the_json_form_is_accepted_at_enqueue_when_it_converts(basket: Basket) -> None:
    seen: list[Any] = []

    @basket.task(max_attempts=1)
    def ship(item: Item, when: datetime) -> None:
        seen.append((item, when))

    ship.enqueue({"sku": "a", "price": "1.10"}, PLACED.isoformat())  # type: ignore[arg-type]
    drain(basket)
    assert seen == [(Item("a", Decimal("1.10")), PLACED)]


def test_a_stored_value_that_does_not_convert_fails_without_retry(basket: Basket) -> None:
    basket.enqueue("ship", args=[{"sku": "a", "price": "lots"}])
    ran: list[Any] = []

    @basket.task(max_attempts=5)
    def ship(item: Item) -> None:
        ran.append(item)

    basket.worker(concurrency=1).run_until_empty(30)
    (task,) = basket.list()
    assert task.state == "failed" and task.attempts == 1 and ran == []
    error = task.last_error or ""
    assert error.startswith("ArgumentsError: stored argument 'item.price' of task 'ship'")
    assert "must be Decimal, got str 'lots'" in error


def test_the_process_executor_converts_in_the_child(sqlite_url: str, tmp_path: Path) -> None:
    from tests.apps import typedapp

    basket = Basket(sqlite_url)
    basket.task(name="record_order", executor="process", max_attempts=1)(
        typedapp.record_order.func)
    out = tmp_path / "seen.json"
    try:
        basket.enqueue("record_order", args=[typedapp.Order(
            [typedapp.Line("a", Decimal("1.5"))], PLACED), str(out)])
        basket.worker(concurrency=1, processes=1).run_until_empty(90)
    finally:
        basket.close()
    assert json.loads(out.read_text()) == {
        "order": "Order", "line": "Line", "price": "1.5", "price_type": "Decimal",
        "placed": "datetime"}


def test_result_conversion_follows_the_return_annotation() -> None:
    def total(order: Order) -> list[Item]:
        return order.items

    def untyped(order: Order) -> dict[str, int]:
        return {}

    plan = plan_for(total)
    wire = to_wire_result(plan, ORDER.items)
    assert wire[1] == {"sku": "b", "price": "2", "colour": "blue"}
    assert from_wire_result(plan, json.loads(json.dumps(wire))) == ORDER.items
    with pytest.raises(TypeError, match=r"result of task 'total' must be list\[Item\]"):
        to_wire_result(plan, "nope")
    with pytest.raises(TypeError, match="stored result of task 'total' cannot be converted"):
        from_wire_result(plan, [{"sku": 1}])
    assert to_wire_result(plan_for(untyped), {"a": 1}) == {"a": 1}


if pydantic is not None:
    class Customer(pydantic.BaseModel):
        name: str
        joined: datetime
        balance: Decimal

if msgspec is not None:
    class Parcel(msgspec.Struct):
        weight: float
        sent: date
        ref: uuid.UUID


@needs_pydantic
def test_pydantic_models_and_lists_of_them(basket: Basket) -> None:
    seen: list[Any] = []

    @basket.task(max_attempts=1)
    def welcome(customer: Customer, others: list[Customer] | None = None) -> None:
        seen.append((customer, others))

    alice = Customer(name="alice", joined=PLACED, balance=Decimal("3.50"))
    welcome.enqueue(alice, others=[alice])
    welcome.enqueue({"name": "bob", "joined": "2026-12-01T20:30:00Z", "balance": "1"})  # type: ignore[arg-type]
    drain(basket)
    assert seen[0] == (alice, [alice]) and isinstance(seen[0][1][0], Customer)
    assert seen[1][0].name == "bob" and seen[1][0].joined == PLACED and seen[1][1] is None
    (stored, _) = sorted(basket.list(), key=lambda task: len(task.kwargs), reverse=True)
    assert stored.args[0] == {"name": "alice", "joined": "2026-12-01T20:30:00Z",
                              "balance": "3.50"}
    with pytest.raises(ArgumentsError, match=r"argument 'customer' .*not a valid Customer"):
        welcome.enqueue({"name": "carol"})  # type: ignore[arg-type]
    with pytest.raises(ArgumentsError, match=r"'others\[0\]' .*must be Customer, got int"):
        welcome.enqueue(alice, others=[1])  # type: ignore[list-item]


@needs_msgspec
def test_msgspec_structs(basket: Basket) -> None:
    seen: list[Any] = []

    @basket.task(max_attempts=1)
    def post(parcel: Parcel, extra: Parcel | None = None) -> None:
        seen.append((parcel, extra))

    parcel = Parcel(1.5, date(2026, 12, 2), uuid.UUID(int=3))
    post.enqueue(parcel)
    basket.worker(concurrency=1).run_until_empty(30)
    assert seen == [(parcel, None)] and isinstance(seen[0][0], Parcel)
    assert basket.list()[0].args[0] == {"weight": 1.5, "sent": "2026-12-02",
                                        "ref": str(uuid.UUID(int=3))}
    with pytest.raises(ArgumentsError, match=r"argument 'parcel' .*not a valid Parcel"):
        post.enqueue({"weight": "heavy"})  # type: ignore[arg-type]


def test_the_core_imports_neither_pydantic_nor_msgspec() -> None:
    code = (
        "import sys, dataclasses, datetime\n"
        "from taskbasket import Basket\n"
        "from taskbasket.testing import drain\n"
        "@dataclasses.dataclass\n"
        "class Point:\n"
        "    x: int\n"
        "    at: datetime.date\n"
        "basket = Basket('memory://')\n"
        "@basket.task()\n"
        "def move(p: Point) -> None: ...\n"
        "move.enqueue(Point(1, datetime.date.today()))\n"
        "drain(basket)\n"
        "print(sorted({'pydantic', 'msgspec'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_a_schedule_stores_typed_arguments_in_json_form(basket: Basket) -> None:
    seen: list[Any] = []

    @basket.task(max_attempts=1)
    def ship(item: Item, when: datetime) -> None:
        seen.append((item, when))

    item = Item("a", Decimal("1.10"), Colour.BLUE)
    schedule = basket.schedule("nightly", ship, every=3600, args=[item],
                               kwargs={"when": PLACED})
    assert schedule.args == [{"sku": "a", "price": "1.10", "colour": "blue"}]
    assert schedule.kwargs == {"when": PLACED.isoformat()}
    basket.trigger_schedule("nightly")
    drain(basket)
    assert seen == [(item, PLACED)]
    with pytest.raises(ArgumentsError, match=r"argument 'item' .*must be Item, got int"):
        basket.schedule("broken", ship, every=3600, args=[1, PLACED])


def test_containers_recursion_and_variadic_parameters() -> None:
    def walk(tree: Node, pair: tuple[uuid.UUID, int], tags: set[Colour], /,
             *more: Decimal, **named: dict[str, date]) -> None: ...

    tree = Node("root", [Node("leaf", stamp=date(2026, 1, 1))])
    args = (tree, (uuid.UUID(int=2), 5), {Colour.RED}, Decimal("1.5"))
    kwargs = {"extra": {"d": date(2026, 2, 2)}}
    plan = plan_for(walk)
    wire = to_wire(plan, args, kwargs)
    assert wire == ([{"name": "root", "stamp": None, "children": [
                        {"name": "leaf", "children": [], "stamp": "2026-01-01"}]},
                     [str(uuid.UUID(int=2)), 5], ["red"], "1.5"],
                    {"extra": {"d": "2026-02-02"}})
    back = from_wire(plan, *json.loads(json.dumps(wire)))
    assert back == (list(args), kwargs) and isinstance(back[0][1], tuple)
    with pytest.raises(ArgumentsError, match=r"'pair' .*must be tuple\[UUID, int\]"):
        to_wire(plan, (tree, (1,), set()), {})
    with pytest.raises(ArgumentsError, match=r"'\*args\[0\]' .*must be Decimal"):
        to_wire(plan, (*args[:3], 1.5), {})


def test_an_annotation_that_cannot_be_resolved_is_passed_as_it_is() -> None:
    def handler(context: Context, when: date, loose) -> None: ...  # type: ignore[no-untyped-def]

    plan = plan_for(handler)
    assert to_wire(plan, ({"a": 1}, date(2026, 3, 4), object), {})[0] == [
        {"a": 1}, "2026-03-04", object]


def test_a_result_comes_back_as_its_return_annotation(tmp_path: Path) -> None:
    """The worker stores a typed result in its JSON form; ``basket.result`` (a basket with
    the handler) returns it as the annotated type, and a wrong type fails the task."""
    basket = Basket(f"sqlite:///{tmp_path / 'typed-result.db'}")

    @basket.task
    def invoice(n: int) -> Invoice:
        return Invoice(n, date(2027, 1, n))

    @basket.task(max_attempts=3)
    def wrong() -> Invoice:
        return "not an invoice"  # type: ignore[return-value]

    good, bad = invoice.enqueue(5), wrong.enqueue()
    basket.worker(poll_interval=0.05).run_until_empty(timeout=30)
    assert basket.result(good.id, timeout=10) == Invoice(5, date(2027, 1, 5))
    stored = basket.get(good.id)
    assert stored is not None and stored.result == {"number": 5, "due": "2027-01-05"}
    failed = basket.get(bad.id)
    assert failed is not None and failed.state == "failed" and failed.attempts == 1
    assert "TypeError" in (failed.last_error or "")
    basket.close()


@dataclasses.dataclass
class Invoice:
    """A typed result (at module level, so the return annotation resolves)."""

    number: int
    due: date
