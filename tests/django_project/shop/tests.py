"""Run by Django's own test runner (``manage.py test``) on SQLite, PostgreSQL and MariaDB,
from tests/contrib/test_django.py: enqueue joins Django's transactions, TestCase rolls
tasks back, a worker runs them through the ORM, and the dashboard is for staff only."""

from __future__ import annotations

import contextlib
import io
import json
import re

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, transaction
from django.test import TestCase, TransactionTestCase

from taskbasket import State
from taskbasket.contrib.django import basket
from taskbasket.testing import inline
from tests.django_project.shop.models import Order
from tests.django_project.shop.tasks import send_confirmation


class TransactionalEnqueue(TransactionTestCase):
    """Real commits and rollbacks: the store's own connection sees only committed tasks."""

    def setUp(self) -> None:
        basket.purge()

    def test_a_task_enqueued_in_atomic_exists_once_the_transaction_commits(self) -> None:
        with transaction.atomic():
            order = Order.objects.create(email="a@b.c")
            ref = send_confirmation.enqueue(order.id)
            self.assertIsNone(basket.get(ref.id), "visible before the commit")
        task = basket.get(ref.id)
        assert task is not None
        self.assertEqual(task.state, State.QUEUED)
        self.assertEqual(task.args, [order.id])

    def test_a_rolled_back_transaction_leaves_no_task(self) -> None:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            ref = send_confirmation.enqueue(1)
            raise RuntimeError("roll back")
        self.assertIsNone(basket.get(ref.id))
        self.assertEqual(basket.count(), 0)

    def test_a_rolled_back_savepoint_takes_its_task_and_the_outer_one_stays(self) -> None:
        with transaction.atomic():
            outer = send_confirmation.enqueue(1)
            with contextlib.suppress(RuntimeError), transaction.atomic():
                inner = send_confirmation.enqueue(2)
                raise RuntimeError("roll back the savepoint")
        self.assertIsNotNone(basket.get(outer.id))
        self.assertIsNone(basket.get(inner.id))

    def test_outside_a_transaction_an_enqueue_commits_at_once(self) -> None:
        self.assertFalse(connection.in_atomic_block)
        ref = send_confirmation.enqueue(1)
        self.assertIsNotNone(basket.get(ref.id))

    def test_a_view_that_fails_after_enqueueing_stores_neither_order_nor_task(self) -> None:
        failed = self.client.post("/orders/?fail=1", {"email": "x@y.z"})
        self.assertEqual(failed.status_code, 402)
        self.assertIsNone(basket.get(failed.json()["task"]))
        self.assertEqual(Order.objects.count(), 0)
        placed = self.client.post("/orders/", {"email": "x@y.z"}).json()
        self.assertIsNotNone(basket.get(placed["task"]))

    def test_a_worker_runs_the_task_through_the_orm(self) -> None:
        placed = self.client.post("/orders/", {"email": "w@x.y"}).json()
        basket.worker(concurrency=2, poll_interval=0.05).run_until_empty(timeout=30)
        task = basket.get(placed["task"])
        assert task is not None
        self.assertEqual(task.state, State.SUCCEEDED, task.last_error)
        self.assertTrue(Order.objects.get(id=placed["order"]).confirmed)

    def test_the_taskbasket_management_command_reads_the_project_store(self) -> None:
        send_confirmation.enqueue(7)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            call_command("taskbasket", "ls", "--json")
        listed = json.loads(out.getvalue())
        self.assertEqual([t["args"] for t in listed], [[7]])


class RolledBackByTestCase(TestCase):
    """Django's TestCase wraps each test in a transaction it rolls back: tasks enqueued in
    a test join it, so each test starts without the tasks of the one before."""

    def test_1_enqueue_joins_the_test_transaction(self) -> None:
        first = send_confirmation.options(unique_key="order:1").enqueue(1)
        again = send_confirmation.options(unique_key="order:1").enqueue(1)
        self.assertTrue(first.created)
        self.assertEqual((again.id, again.created), (first.id, False))  # its own row

    def test_2_the_task_of_the_test_before_was_rolled_back(self) -> None:
        ref = send_confirmation.options(unique_key="order:1").enqueue(1)
        self.assertTrue(ref.created, "the previous test's task survived its rollback")


class InlineInTestCase(TestCase):
    """Inline mode (taskbasket.testing.inline) runs the handler in the test's thread, so
    inside TestCase's transaction it sees the rows the test made and has not committed."""

    def test_the_handler_sees_the_tests_uncommitted_order(self) -> None:
        order = Order.objects.create(email="inline@b.c")
        with inline(basket) as mode:
            ref = send_confirmation.enqueue(order.id)
        order.refresh_from_db()
        self.assertTrue(order.confirmed, "the handler did not see the test's order")
        self.assertEqual(mode.runner.stats["succeeded"], 1)
        self.assertIsNone(basket.get(ref.id), "an inline task is never stored")


class Dashboard(TransactionTestCase):
    """The dashboard under /tasks/, behind Django's authentication: staff only."""

    def setUp(self) -> None:
        basket.purge()
        self.staff = User.objects.create_user("ops", password="pw", is_staff=True)
        self.customer = User.objects.create_user("customer", password="pw")

    def test_anonymous_users_are_sent_to_the_login_page(self) -> None:
        response = self.client.get("/tasks/")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], "/login/?next=/tasks/")
        self.assertEqual(self.client.get("/tasks/api/overview").status_code, 302)

    def test_users_who_are_not_staff_are_refused(self) -> None:
        self.client.force_login(self.customer)
        self.assertEqual(self.client.get("/tasks/").status_code, 403)
        self.assertEqual(self.client.get("/tasks/api/overview").status_code, 403)

    def test_a_credential_of_the_dashboard_itself_does_not_get_anyone_in(self) -> None:
        response = self.client.get("/tasks/api/overview", HTTP_AUTHORIZATION="Bearer x")
        self.assertEqual(response.status_code, 302)

    def test_staff_see_the_tasks_and_can_act_on_them(self) -> None:
        ref = send_confirmation.enqueue(5)
        self.client.force_login(self.staff)
        overview = self.client.get("/tasks/")
        self.assertEqual(overview.status_code, 200)
        self.assertIn(b"/tasks/static/", overview.content)  # links stay under the mount
        self.assertEqual(self.client.get("/tasks/static/dashboard.css").status_code, 200)
        self.assertIn("totals", self.client.get("/tasks/api/overview").json())
        listed = self.client.get("/tasks/api/tasks?state=queued").json()
        self.assertEqual([t["id"] for t in listed["tasks"]], [ref.id])
        page = self.client.get(f"/tasks/tasks/{ref.id}")
        self.assertEqual(page.status_code, 200)
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page.content)
        assert token is not None, page.content[:2000]
        cancelled = self.client.post(f"/tasks/tasks/{ref.id}/cancel",
                                     {"csrf_token": token.group(1).decode()})
        self.assertIn(cancelled.status_code, (200, 303), cancelled.content[:500])
        task = basket.get(ref.id)
        assert task is not None
        self.assertEqual(task.state, State.CANCELLED)

    def test_a_post_without_the_dashboards_csrf_token_is_refused(self) -> None:
        ref = send_confirmation.enqueue(6)
        self.client.force_login(self.staff)
        response = self.client.post(f"/tasks/tasks/{ref.id}/cancel", {})
        self.assertGreaterEqual(response.status_code, 400)
        task = basket.get(ref.id)
        assert task is not None
        self.assertEqual(task.state, State.QUEUED)
