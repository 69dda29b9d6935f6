"""What ganzoo keeps on disk and how to read it back: a run directory (`rundir.RunDir`) and a
results folder of `ganzoo bench` (`resultsdir`).
"""
