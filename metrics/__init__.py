"""Metrics: one module per metric, each registered with typed metadata."""

from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

__all__ = ["METRICS", "ItemScore", "Metric", "MetricInfo", "MetricItem"]
