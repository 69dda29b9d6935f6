"""Evaluation: which metrics a run gets, on how many samples (`plan`), and the measurements the
built-in metrics use: mode coverage on known mixtures, class coverage and Stacked MNIST
modes off a digit classifier (`digits`), FID and friends through torch-fidelity (`fidelity`,
`extractors`), an independent Frechet distance (`frechet`), density and coverage.
"""
