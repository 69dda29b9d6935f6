"""Training: the loop (`loop`), seed-batched ensembles (`ensemble`), the Unrolled GAN's D look-
ahead (`unrolled`), schedules, torchrun (`distributed`), and the settings a run resolves to
(`resolve`), with what it measures along the way (`clock`, `flops`, `tensorboard_log`) and
how it opens its data (`opening`).
"""
