"""Test sets: the seeded distortion pipeline and one builder per test set."""

from testsets.base import TESTSETS, BuildOptions, TestSetBuilder, TestSetInfo

__all__ = ["TESTSETS", "BuildOptions", "TestSetBuilder", "TestSetInfo"]
