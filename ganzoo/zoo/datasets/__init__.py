"""The built-in data sets: 1D densities (`toy1d`), 2D Gaussian mixtures (`toy2d`) and image
data sets (`images`).
"""
