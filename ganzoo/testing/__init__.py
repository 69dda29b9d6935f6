"""Contract checks a plugin author calls from their own tests.

    from ganzoo.testing import check_architecture, check_loss

    def test_my_arch():
        check_architecture("my-arch.test")

or, for every entry a plugin registers, one line (see `contract_tests`)::

    test_contracts = contract_tests("my_plugin")

Each check runs on CPU in well under a second for a tiny variant and raises
AssertionError with a message saying which part of the contract broke.
"""

from ganzoo.testing.checks import (
    GENERATED_DATA,
    check_architecture,
    check_augmentation,
    check_dataset,
    check_entry,
    check_loss,
    check_metric,
    check_optimizer,
    check_recipe,
    check_regularizer,
    check_suite,
    contract_cases,
    contract_tests,
)
from ganzoo.testing.files import write_file_that_runs_code, write_random_inception_weights

__all__ = [
    "GENERATED_DATA",
    "check_architecture",
    "check_augmentation",
    "check_dataset",
    "check_entry",
    "check_loss",
    "check_metric",
    "check_optimizer",
    "check_recipe",
    "check_regularizer",
    "check_suite",
    "contract_cases",
    "contract_tests",
    "write_file_that_runs_code",
    "write_random_inception_weights",
]
