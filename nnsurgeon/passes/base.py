"""What every pass returns: whether it changed the model, and what it did, for reports and --dry-run."""
from dataclasses import dataclass, field
from typing import Dict, List


@dataclass
class PassResult:
    """``changed``: the model differs; ``records``: one dict per change (JSON-friendly); ``notes``: lines for
    the user (skipped items, warnings)."""

    name: str
    changed: bool = False
    records: List[Dict] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    summary: str = ""
