"""The plugin's own tests: ganzoo's contract checks over everything it registers."""

from ganzoo.testing import contract_tests

# One line: every architecture's .test variant, loss, regulariser, data set and metric
# that the plugin named "example" registers gets its contract check.
test_contracts = contract_tests("example")
