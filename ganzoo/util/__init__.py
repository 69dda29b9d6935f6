"""Layer 0, beside `ganzoo.errors`: crash-safe files (`files`), the versions and hardware a run
records (`environment`), and figures (`plots`). Imports nothing of ganzoo but
`ganzoo.errors`.
"""
