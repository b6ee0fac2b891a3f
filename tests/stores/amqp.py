"""RabbitMQ for the conformance suite: a broker prefix of its own per test."""

from tests.stores.buses import BusFactory

FACTORY = BusFactory("amqp")
