"""Selectors: which functions a step applies to."""
from .selector import Selector, data_inputs, select, split_list

__all__ = ["Selector", "data_inputs", "select", "split_list"]
