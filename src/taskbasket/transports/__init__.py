"""Clients of the message brokers, which know nothing of tasks.

- ``amqp.py`` and ``nats.py``: thread-safe clients of one broker each (publish, fetch one
  message at a time, acknowledge), over pika and nats-py.
- ``layout.py``: the names and routes taskbasket gives its broker objects under a
  ``?prefix=``, shared by the task adapters and BusConsumer.
- ``consumer.py``: :class:`BusConsumer`, a standalone lazy consumer of raw messages.

The Backend adapters that carry tasks over these clients are ``taskbasket.backends.bus``.
Every consumer here is lazy (seed 000): it takes one message from the broker only when a
caller can use it now, and never buffers more than it was asked for. No module here
imports a driver until it is used.
"""
