"""``ladle check``: the operating checklist as one command (docs/operating.md, "ladle check").

:mod:`.report` holds the result rows, :mod:`.checklist` the registry, source and freshness items and the
order they run in, :mod:`.skew` the sampled online reads and the online/offline skew check.
"""

from ladle.check.checklist import CheckedStore, run_checks
from ladle.check.report import CheckItem, CheckReport

__all__ = ["CheckItem", "CheckReport", "CheckedStore", "run_checks"]
