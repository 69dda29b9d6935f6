"""`ganzoo report` and `ganzoo compare`: bench results as tables, curves and samples, judged.

- `results.py`: reading a results folder; rows, statistics, labels, metric series;
- `page.py`: the report structure, written as Markdown and as self-contained HTML;
- `write.py`: the report itself; `compare.py`: two results folders side by side;
- `papers.py`: the papers' numbers and protocols a report sets beside its own;
- `verdicts.py`, `convergence.py`, `protocol_guard.py`, `judged.py`: how a verdict is reached
  (docs/benchmarks.md); `study.py`: search blocks as Lucic et al. showed theirs.
"""
