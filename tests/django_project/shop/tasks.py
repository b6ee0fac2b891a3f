"""The shop's tasks, found by taskbasket's app (every installed app's tasks.py)."""

from taskbasket.contrib.django import basket
from tests.django_project.shop.models import Order


@basket.task(queue="emails", max_attempts=3)
def send_confirmation(order_id: int) -> None:
    """Marks the order confirmed through the ORM, as a real task would after mailing."""
    Order.objects.filter(id=order_id).update(confirmed=True)
