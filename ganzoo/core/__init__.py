"""The interfaces every plugin and the training loop share: `models` (Generator,
Discriminator), `losses` (Loss), `data` (Dataset and the image value conventions), `metrics`
(Metric), `regularization` (how regularisers are called) and `config` (TrainConfig). No
implementations live here: those are in `ganzoo.zoo` or a plugin.
"""
