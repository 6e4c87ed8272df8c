"""Metrics: one module per metric, each registered with typed metadata."""

from metrics.base import METRICS, CorpusRatio, ItemScore, Metric, MetricInfo, MetricItem

__all__ = ["METRICS", "CorpusRatio", "ItemScore", "Metric", "MetricInfo", "MetricItem"]
