"""The plugin's own tests: ganzoo's contract checks over what it registers."""

from ganzoo.testing import check_architecture, check_loss


def test_architecture_contract():
    check_architecture("example-resmlp.test")


def test_loss_contract():
    check_loss("relativistic")
