"""`ganzoo bench`: suites expanded into cells (`suite`), searches over a block's options
(`search`), training one cell (`cells`), and the executors that run a suite's cells: worker
processes here (`pool`) or Ray tasks (`ray_cells`), orchestrated by `run`.
"""
