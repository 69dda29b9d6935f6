"""`ganzoo theory`: the experiments that show the GAN theory notes' claims (one module each),
run and reported by `lab`.
"""
