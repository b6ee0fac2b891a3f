"""The Backend adapters of the message buses, over the broker clients of
``taskbasket.transports``.

``base.py`` holds what every bus adapter shares (:class:`BusBackendBase`), ``message.py``
a task as one message (:class:`TaskMessage`); ``amqp.py`` (RabbitMQ) and ``nats.py`` with
``nats_leases.py`` (NATS JetStream) are the adapters, and ``taskbasket.backends.lines`` the
line transports built on the same base. Importing this package imports no driver.
"""
