"""Prometheus metrics of a node: figures read from its running SIP and media parts and from the database."""

from tianyan.health.metrics.node import NodeMetrics

__all__ = ["NodeMetrics"]
