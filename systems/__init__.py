"""Restoration systems: baselines and the MaskSR family, behind one plugin interface."""

from systems.base import SYSTEMS, RestoreItem, System, SystemInfo

__all__ = ["SYSTEMS", "RestoreItem", "System", "SystemInfo"]
