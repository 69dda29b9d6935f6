"""ganzoo's built-in architectures.

Each module here is a plugin exactly as a third-party package would write one: it
implements `ganzoo_register_architectures` from `ganzoo.plugin.hookspecs`, and
`ganzoo.plugin.manager.BUILTIN_PLUGINS` registers it by name (a third party lists its
module in the `ganzoo` entry-point group instead). Copy one to start your own
(docs/plugins.md). `resampling.py` is a helper the StyleGAN2 and R3GAN modules share.
"""
