"""The event bus domains publish to and subscribe on: in-process by default, NATS JetStream in production."""
