"""ganzoo's own zoo: architectures, losses, regularisers, augmentations, optimisers, data sets
and metrics. Each module is a plugin, registered through the same hooks a third-party
package uses (`ganzoo.plugin.manager.BUILTIN_PLUGINS`); nothing outside `ganzoo.zoo` imports
it, except the theory lab's 1D densities.
"""
