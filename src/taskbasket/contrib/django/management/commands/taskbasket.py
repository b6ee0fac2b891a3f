"""``manage.py taskbasket COMMAND ...``: the ``taskbasket`` command on the project's store
(``ls``, ``count``, ``show``, ``retry``, ``cancel``, ``purge``, ``migrate``, ``enqueue``...)."""

from __future__ import annotations

from taskbasket.contrib.django.commands import ClickCommand


class Command(ClickCommand):
    help = "The taskbasket command on the project's basket (manage.py taskbasket --help)."
