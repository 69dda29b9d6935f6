"""`ganzoo report` and `ganzoo compare`: bench results as tables, curves and samples.

- `results.py`: reading a results folder; rows, statistics, labels, metric series;
- `page.py`: the report structure, written as Markdown and as self-contained HTML;
- `write.py`: the report itself; `compare.py`: two results folders side by side.
"""

from .compare import compare
from .page import Page
from .results import grouped, load, metric_series, stats
from .write import write_report

__all__ = ["Page", "compare", "grouped", "load", "metric_series", "stats", "write_report"]
