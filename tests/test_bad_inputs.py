"""The corpus of bad inputs (tests/data/bad_inputs.toml): each is a clear user error, exit
status 2, no traceback, the expected words, and no file that existed is changed."""

import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest
import torch

import ganzoo
import ganzoo.plugin.manager
from ganzoo.bench.run import run_suite
from ganzoo.bench.suite import load_suite
from ganzoo.cli.main import main
from ganzoo.testing import write_file_that_runs_code

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

CORPUS = Path(__file__).parent / "data" / "bad_inputs.toml"
CASES = tomllib.loads(CORPUS.read_text())["case"]

TINY = dict(arch="mlp.test", steps=4, batch_size=16, eval_every=2, log_every=2, eval_samples=100, device="cpu")
BLOCK = """
[[block]]
name = "{name}"
architectures = ["{arch}"]
losses = ["non-saturating"]
data = ["ring8"]
seeds = {seeds}
steps = 2
batch_size = 8
eval_samples = 100
"""
SUITES = {
    "suite-ok": 'name = "ok"\n' + BLOCK.format(name="a", arch="mlp.test", seeds="[0]"),
    "suite-ok-changed": 'name = "ok"\n'
    + BLOCK.format(name="a", arch="mlp.test", seeds="[0]").replace("steps = 2", "steps = 3"),
    "suite-repeated-seed": BLOCK.format(name="a", arch="mlp.test", seeds="[0, 0]"),
    "suite-two-blocks-one-name": BLOCK.format(name="a", arch="mlp.test", seeds="[0]") * 2,
    "suite-unknown-top-key": "steps = 5\n" + BLOCK.format(name="a", arch="mlp.test", seeds="[0]"),
    "suite-empty-wildcard": BLOCK.format(name="a", arch="zzz*", seeds="[0]"),
    "suite-no-block": 'name = "empty"\n',
    "suite-unknown-block-key": BLOCK.format(name="a", arch="mlp.test", seeds="[0]") + "stepz = 3\n",
    "suite-not-toml": "[[block]\nname = ",
    "suite-unknown-arch": BLOCK.format(name="a", arch="mpl", seeds="[0]"),
    "suite-seeds-not-list": BLOCK.format(name="a", arch="mlp.test", seeds="3"),
    "suite-unknown-train-option": BLOCK.format(name="a", arch="mlp.test", seeds="[0]")
    + "train = { learning_rate = 0.1 }\n",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Everything the cases name: good and damaged runs and results, suites, odd files."""
    root = tmp_path_factory.mktemp("workspace")
    ganzoo.plugin.manager.reset()
    ganzoo.train(ganzoo.TrainConfig(**TINY), root / "run", progress=False)
    (root / "afile").write_text("a file, not a folder\n")
    (root / "emptydir").mkdir()
    write_file_that_runs_code(root / "crafted.pth", root / "ran")
    for name, text in SUITES.items():
        (root / f"{name}.toml").write_text(textwrap.dedent(text))

    def run_copy(name: str) -> Path:
        return Path(shutil.copytree(root / "run", root / name))

    for name in ("latest.pt", "previous.pt"):
        (run_copy("run-corrupt") if name == "latest.pt" else root / "run-corrupt").joinpath(
            "checkpoints", name
        ).write_bytes(b"\x00garbage")
    flipped = run_copy("run-flipped")
    for name in ("latest.pt", "previous.pt"):
        state = torch.load(flipped / "checkpoints" / name, weights_only=True)
        state["generator"][next(iter(state["generator"]))].view(-1)[0] += 1.0  # the checksum is now wrong
        torch.save(state, flipped / "checkpoints" / name)
    tampered = run_copy("run-tampered")
    for name in ("latest.pt", "previous.pt"):
        write_file_that_runs_code(tampered / "checkpoints" / name, root / "ran")
    config = json.loads((root / "run" / "config.json").read_text())
    del config["architecture"]
    (run_copy("run-missing-keys") / "config.json").write_text(json.dumps(config))
    (run_copy("run-bad-json") / "config.json").write_text("{ not json")

    suite = load_suite(str(root / "suite-ok.toml"))
    run_suite(suite, root / "results", echo=lambda *a: None)
    shutil.copytree(root / "results", root / "results-damaged-meta")
    (root / "results-damaged-meta" / "bench.json").write_text('{"suite": ')
    for name, change in (
        ("results-no-status", lambda r: r.pop("status")),
        ("results-odd-status", lambda r: r.update(status="done")),
        ("results-legacy", lambda r: r.pop("protocol_sha")),
    ):
        folder = Path(shutil.copytree(root / "results", root / name))
        lines = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
        change(lines[0])
        (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    ganzoo.plugin.manager.reset()
    return root


def snapshot(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def call_api(case: dict, root: Path):
    kwargs = dict(case.get("kwargs", {}))
    for key in case.get("none", []):
        kwargs[key] = None
    if case["api"] == "TrainConfig":
        return ganzoo.TrainConfig(**kwargs)
    if case["api"] == "train":
        return ganzoo.train(ganzoo.TrainConfig(**kwargs), case["out"], progress=False)
    if case["api"] == "load_suite":
        return load_suite(case["name"])
    return getattr(ganzoo, case["api"])(case["name"], **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_a_clear_error_and_changes_nothing(case, workspace, monkeypatch, capsys):
    if case.get("skip_if_cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.chdir(workspace)
    for key, value in case.get("env", {}).items():
        monkeypatch.setenv(key, value)
    ganzoo.plugin.manager.reset()
    before = snapshot(workspace)
    if "argv" in case:
        try:
            status = main(case["argv"])
        except SystemExit as exit_:  # argparse refuses the value before anything runs
            status = exit_.code
        message = capsys.readouterr().err.strip()
        assert status == 2, message
        paragraph = message.splitlines()[-1]  # argparse prints its usage lines above
        assert paragraph.startswith("error: ") or ": error: " in paragraph, message
    else:
        with pytest.raises(ganzoo.GanzooError) as error:
            call_api(case, workspace)
        paragraph = str(error.value)
    for words in case["expect"]:
        assert words in paragraph, f"{words!r} not in: {paragraph}"
    assert "Traceback" not in paragraph and "\n" not in paragraph
    after = snapshot(workspace)
    changed = [path for path, digest in before.items() if after.get(path) != digest]
    assert not changed, f"changed or removed: {changed}"
    assert not set(after) - set(before), f"written: {sorted(set(after) - set(before))}"
    assert not (workspace / "ran").exists()  # no crafted file ever ran
    ganzoo.plugin.manager.reset()


def test_the_corpus_covers_every_kind_of_input():
    assert len(CASES) >= 80 and len({c["id"] for c in CASES}) == len(CASES)
    commands = {c["argv"][0] for c in CASES if "argv" in c}
    assert {"train", "sample", "eval", "bench", "report", "compare", "theory", "list"} <= commands
    assert {c["api"] for c in CASES if "api" in c} >= {
        "TrainConfig",
        "train",
        "create_architecture",
        "create_loss",
        "create_dataset",
        "load_suite",
    }
