"""Selectors: which functions a step applies to."""
from .selector import Selector, select, split_list

__all__ = ["Selector", "select", "split_list"]
