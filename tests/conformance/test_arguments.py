"""A call must fit its task: a basket that registers tasks refuses an unknown name (a typo)
by default; arguments are bound to the handler's signature at enqueue when the handler is
registered there, and in the worker, where a call that cannot bind fails at once."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from taskbasket import Basket, State, UnknownTaskError
from taskbasket.definition import ArgumentCheck
from taskbasket.errors import ArgumentsError
from tests.apps import cpuapp

pytestmark = pytest.mark.needs("task_records")  # outcomes are read back from the store


def test_a_basket_that_registers_tasks_refuses_an_unknown_name(basket: Basket) -> None:
    @basket.task
    def send_email(to: str) -> None: ...

    @basket.task
    def send_sms(to: str) -> None: ...

    with pytest.raises(UnknownTaskError, match="Did you mean 'send_email' or 'send_sms'"):
        basket.enqueue("send_mail", ["a@b.c"])
    with pytest.raises(LookupError, match="pass strict=False"):
        basket.enqueue_many("sned_email", [("a",), ("b",)])
    assert basket.count() == 0
    other = basket.enqueue("handled_elsewhere", [1], strict=False)  # another code base's
    assert basket.get(other.id).name == "handled_elsewhere"  # type: ignore[union-attr]
    basket.enqueue_many("handled_elsewhere", [(2,)], strict=False)
    assert basket.count(name="handled_elsewhere") == 2


def test_a_basket_without_tasks_enqueues_any_name(store_url: str) -> None:
    with Basket(store_url) as producer:  # imports no handler: it cannot know the names
        ref = producer.enqueue("sned_email", ["a@b.c"])
        producer.enqueue_many("anything", [(1,), (2,)])
        assert producer.get(ref.id).name == "sned_email"  # type: ignore[union-attr]
        assert producer.count() == 3


def test_enqueue_refuses_a_call_that_cannot_bind_naming_the_parameter(basket: Basket) -> None:
    @basket.task
    def send_email(to: str, subject: str = "", *, urgent: bool = False) -> None: ...

    @basket.task
    async def refresh(feed_id: int) -> None: ...

    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: send_email.enqueue(), "missing a required argument: 'to'"),
        (lambda: send_email.enqueue("a", tó="b"), "unexpected keyword argument 'tó'"),
        (lambda: send_email.enqueue("a", to="b"), "multiple values for argument 'to'"),
        (lambda: send_email.enqueue("a", "b", "c"), "too many positional arguments"),
        (lambda: send_email.enqueue("a", urgent=True, subjet="x"), "'subjet'"),
        (lambda: refresh.options(delay=5).enqueue(), "'feed_id'"),
        (lambda: basket.enqueue("send_email", kwargs={"subject": "x"}), "'to'"),
        (lambda: send_email.enqueue_many([("a",), (), ("b",)]), "'to' (call 1 of 3)"),
        (lambda: basket.enqueue_many("refresh", [(1,), (1, 2)]), "(call 1 of 2)"),
    ]
    for enqueue, expected in cases:
        with pytest.raises(TypeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            enqueue()
    with pytest.raises(ArgumentsError,
                       match=r"its handler is send_email\(to, subject='', \*, urgent=False\)$"):
        send_email.enqueue()
    assert basket.count() == 0  # nothing of a refused call is stored
    send_email.enqueue("a", urgent=True)
    basket.enqueue("send_email", ["a"], {"subject": "s"})
    assert basket.count() == 2


def test_a_worker_fails_a_stored_call_that_cannot_bind_at_once(store_url: str) -> None:
    producer = Basket(store_url)  # knows no handler: it cannot check
    consumer = Basket(store_url)

    @consumer.task(max_attempts=5)
    def greet(name: str, *, loud: bool = False) -> None: ...

    @consumer.task(name="agreet", max_attempts=5)
    async def async_greet(name: str) -> None: ...

    consumer.task(name="pgreet", executor="process", max_attempts=5)(cpuapp.greet.func)
    try:
        refs = {
            "thread": producer.enqueue("greet", ["x"], {"nme": "x"}),
            "async": producer.enqueue("agreet", ["a", "b"]),
            "process": producer.enqueue("pgreet"),
        }
        ok = producer.enqueue("greet", ["x"], {"loud": True})
        consumer.worker(concurrency=2, processes=1).run_until_empty(60)
        expected = {"thread": "unexpected keyword argument 'nme'",
                    "async": "too many positional arguments",
                    "process": "missing a required argument: 'name'"}
        for executor, ref in refs.items():
            task = consumer.get(ref.id)
            assert task is not None and task.state is State.FAILED, (executor, task)
            assert task.attempts == 1, executor  # no retry: retrying cannot fix it
            assert task.error_line.startswith("ArgumentsError: task "), task.last_error
            assert expected[executor] in task.error_line, (executor, task.last_error)
        assert consumer.get(ok.id).state is State.SUCCEEDED  # type: ignore[union-attr]
    finally:
        producer.close()
        consumer.close()


def test_a_type_error_raised_inside_the_handler_is_retried(basket: Basket) -> None:
    @basket.task(max_attempts=2, backoff=0.01)
    def adds(a: int) -> None:
        a + "1"  # type: ignore[operator]  # a bug in the handler, not in its call

    ref = adds.enqueue(1)
    basket.worker(concurrency=1).run_until_empty(30)
    task = basket.get(ref.id)
    assert task is not None and task.state is State.FAILED and task.attempts == 2
    assert task.error_line.startswith("TypeError: unsupported operand")


def _signatures() -> list[Callable[..., None]]:
    def plain(a, b=1): ...  # type: ignore[no-untyped-def]
    def keyword_only(a, *, k, j=2): ...  # type: ignore[no-untyped-def]
    def positional_only(a, /, b, c=3): ...  # type: ignore[no-untyped-def]
    def star(a, *args, **kwargs): ...  # type: ignore[no-untyped-def]
    def star_positional_only(a, /, **kwargs): ...  # type: ignore[no-untyped-def]
    def nothing(): ...  # type: ignore[no-untyped-def]
    def only_star(*args): ...  # type: ignore[no-untyped-def]
    return [plain, keyword_only, positional_only, star, star_positional_only, nothing,
            only_star]


def test_the_fast_check_agrees_with_python_binding() -> None:
    names = ["a", "b", "c", "k", "j", "z"]
    keyword_sets = [dict.fromkeys(combo, 0) for size in range(3)
                    for combo in itertools.combinations(names, size)]
    for func in _signatures():
        check, signature = ArgumentCheck(func), inspect.signature(func)
        for count in range(4):
            for kwargs in keyword_sets:
                try:
                    signature.bind(*range(count), **kwargs)
                    binds = True
                except TypeError:
                    binds = False
                assert (check.problem(tuple(range(count)), kwargs) is None) == binds, (
                    func.__name__, count, kwargs)
