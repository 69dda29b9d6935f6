"""Samples made elsewhere (`ganzoo eval --samples`): the round trip from a ganzoo run, the
checks each bad input gets, and their place in reports and comparisons."""

import json

import numpy as np
import pytest
import torch
from conftest import need_data_root
from PIL import Image

import ganzoo
from ganzoo.cli.main import main
from ganzoo.evaluation.external import read_samples
from ganzoo.plugin.api import create_dataset

EVAL_2D = ["--eval-metrics", "mode-coverage"]
EVAL_MNIST = ["--eval-metrics", "fid,class-coverage", "--eval-samples", "200", "--eval-real-samples", "200"]


def metrics_of(run_dir):
    return {r["metric"]: r["results"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())}


def last_entry(folder):
    return json.loads((folder / "results.jsonl").read_text().splitlines()[-1])


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("ring") / "run"
    ganzoo.train(
        ganzoo.TrainConfig(arch="mlp.test", data="ring8", steps=30, device="cpu", eval_metrics=[]), run, progress=False
    )
    return run


def test_a_runs_samples_evaluated_as_external_samples_give_the_runs_metrics(ring_run, tmp_path, capsys):
    assert main(["eval", str(ring_run), *EVAL_2D]) == 0
    own = metrics_of(ring_run)["mode-coverage"]
    for name in ("s.npy", "s.npz", "s.pt"):
        assert main(["sample", str(ring_run), "--as-eval", "-n", "2500", "--out", str(tmp_path / name)]) == 0
        out = tmp_path / f"external-{name}"
        assert (
            main(
                [
                    "eval",
                    "--samples",
                    str(tmp_path / name),
                    "--data",
                    "ring8",
                    "--name",
                    "mine",
                    "--out",
                    str(out),
                    *EVAL_2D,
                ]
            )
            == 0
        )
        entry = last_entry(out)
        assert entry["final"]["mode-coverage"] == own, name
        assert entry["external"]["count"] == 2500 and len(entry["external"]["sha256"]) == 64
        line = json.loads((out / entry["run_dir"] / "metrics.jsonl").read_text())
        assert line["protocol"]["samples"]["label"] == "mine" and line["protocol"]["precision"] == "fp32"


@pytest.mark.slow
def test_image_samples_round_trip_through_every_format(tmp_path):
    root = need_data_root()
    run = tmp_path / "run"
    options = dict(
        arch="dcgan.test", data="mnist", data_root=str(root), steps=4, batch_size=16, device="cpu", eval_metrics=[]
    )
    ganzoo.train(ganzoo.TrainConfig(**options), run, progress=False)
    assert main(["eval", str(run), *EVAL_MNIST]) == 0
    own = metrics_of(run)
    for name in ("s.npz", "s.pt", "pngs/"):
        path = tmp_path / name
        assert main(["sample", str(run), "--as-eval", "-n", "200", "--out", str(tmp_path) + "/" + name]) == 0
        out = tmp_path / f"external-{name.strip('/')}"
        args = ["eval", "--samples", str(path), "--data", "mnist", "--data-root", str(root), "--name", "dcgan-test"]
        assert main([*args, "--out", str(out), *EVAL_MNIST]) == 0
        entry = last_entry(out)
        assert entry["final"]["fid"]["fid"] == pytest.approx(own["fid"]["fid"], rel=1e-6), name
        assert entry["final"]["class-coverage"] == own["class-coverage"], name
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 200


def write_pngs(folder, shapes, mode="L"):
    folder.mkdir()
    for i, (h, w) in enumerate(shapes):
        Image.fromarray(np.full((h, w) if mode == "L" else (h, w, 3), i, dtype=np.uint8), mode).save(
            folder / f"{i:03d}.png"
        )
    return folder


@pytest.mark.parametrize(
    "make, extra, problem",
    [
        (
            lambda d: write_pngs(d / "rgb", [(28, 28)] * 4, "RGB"),
            [],
            "is colour (RGB, 3 channels), and the data set's images are grey (8-bit, 1 channel)",
        ),
        (lambda d: write_pngs(d / "big", [(32, 32)] * 4), [], "holds 32x32 images, and 'mnist' holds 28x28"),
        (lambda d: write_pngs(d / "mixed", [(28, 28), (32, 32)]), [], "mixes image sizes (28x28, 32x32)"),
        (
            lambda d: _broken(write_pngs(d / "broken", [(28, 28)])),
            [],
            "zz.png cannot be read",
        ),
        (lambda d: _save(d / "unit.pt", torch.rand(8, 1, 28, 28)), [], "look like images in [0, 1]"),
        (lambda d: _save(d / "wide.pt", torch.rand(8, 1, 28, 28) * 4 - 2), [], "spanning [-2"),
        (
            lambda d: _npz(d / "two.npz", a=np.zeros((4, 28, 28, 1), np.uint8), b=np.zeros(3)),
            [],
            "holds the arrays a, b",
        ),
        (lambda d: _npz(d / "nchw.npz", arr_0=np.zeros((4, 1, 28, 28), np.uint8)), [], "looks like N x C x H x W"),
        (lambda d: _save(d / "nhwc.pt", torch.zeros(4, 28, 28, 1)), [], "N x H x W x C, it seems"),
        (lambda d: d / "nothing.npz", [], "no such file or folder"),
        (
            lambda d: _save(d / "few.pt", torch.zeros(8, 1, 28, 28, dtype=torch.uint8)),
            ["--eval-metrics", "fid"],
            "fewer than fid's 10,000",
        ),
    ],
    ids=[
        "channels",
        "size",
        "mixed-sizes",
        "unreadable",
        "float-0-1",
        "float-range",
        "npz-keys",
        "npz-layout",
        "pt-layout",
        "missing",
        "count",
    ],
)
def test_each_bad_input_is_named_in_one_paragraph_and_nothing_is_written(tmp_path, capsys, make, extra, problem):
    root = need_data_root()
    path = make(tmp_path)
    out = tmp_path / "out"
    status = main(
        [
            "eval",
            "--samples",
            str(path),
            "--data",
            "mnist",
            "--data-root",
            str(root),
            "--name",
            "x",
            "--out",
            str(out),
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and problem in err and "Traceback" not in err, err
    assert not out.exists()


def _broken(folder):
    (folder / "zz.png").write_bytes(b"not a png")
    return folder


def _save(path, tensor):
    torch.save(tensor, path)
    return path


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_fewer_samples_and_a_resize_are_measured_when_asked_and_recorded(tmp_path):
    root = need_data_root()
    folder = write_pngs(tmp_path / "big", [(32, 32)] * 50)
    out = tmp_path / "out"
    args = [
        "eval",
        "--samples",
        str(folder),
        "--data",
        "mnist",
        "--data-root",
        str(root),
        "--name",
        "x",
        "--out",
        str(out),
    ]
    assert (
        main([*args, "--eval-metrics", "fid", "--eval-real-samples", "100", "--resize", "bicubic", "--allow-fewer"])
        == 0
    )
    entry = last_entry(out)
    assert entry["external"]["fewer_than_standard"] == ["fid"]
    assert entry["external"]["resize"]["filter"] == "bicubic" and entry["external"]["resize"]["from"] == [32, 32]
    assert entry["external"]["resize"]["library"].startswith("PIL ")
    line = json.loads((out / entry["run_dir"] / "metrics.jsonl").read_text())
    assert line["protocol"]["generated"]["num_samples"] == 50
    assert line["protocol"]["generated"]["latent"] == "samples made elsewhere, the first N in the order given"


def test_flat_samples_are_checked_against_the_data_sets_shape(tmp_path):
    ring = create_dataset("ring8")
    np.save(tmp_path / "three.npy", np.zeros((10, 3), np.float32))
    with pytest.raises(ganzoo.GanzooError, match=r"shape \(3,\), and 'ring8' holds \(2,\)"):
        read_samples(tmp_path / "three.npy", ring, label="x")
    np.save(tmp_path / "nan.npy", np.full((10, 2), np.nan, np.float32))
    with pytest.raises(ganzoo.GanzooError, match="NaN or infinite"):
        read_samples(tmp_path / "nan.npy", ring, label="x")


@pytest.mark.slow
def test_entries_sit_beside_a_suites_cells_in_reports_and_comparisons(ring_run, tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\n[[block]]\nname = "ring"\narchitectures = ["mlp.test"]\nlosses = ["non-saturating"]\n'
        'data = ["ring8"]\nseeds = [0, 1]\nsteps = 30\nmetrics = ["mode-coverage"]\n'
    )
    bench = tmp_path / "bench"
    assert main(["bench", str(suite), "--jobs", "1", "--out", str(bench), "--no-report"]) == 0
    external = tmp_path / "external"
    for seed in (0, 1):
        samples = tmp_path / f"s{seed}.npy"
        assert main(["sample", str(ring_run), "--seed", str(seed), "-n", "2500", "--out", str(samples)]) == 0
        args = ["eval", "--samples", str(samples), "--data", "ring8", "--name", "elsewhere", "--seed", str(seed)]
        assert main([*args, "--out", str(external), *EVAL_2D]) == 0
    again = main([*args, "--out", str(external), *EVAL_2D])
    assert again == 2 and "already holds the entry external--elsewhere--ring8--seed1" in capsys.readouterr().err
    into_suite = main([*args[:-2], "--seed", "5", "--out", str(bench), *EVAL_2D])
    assert into_suite == 2 and "holds the results of suite 's'" in capsys.readouterr().err

    assert main(["report", str(bench), "--external", str(external)]) == 0
    report = (bench / "report.md").read_text()
    assert "| elsewhere | external | – | 2/2 |" in report and "## External entries: samples made elsewhere" in report
    assert main(["compare", str(bench), str(external), "--out", str(tmp_path / "c.md")]) == 0
    assert "mlp.test / non-saturating vs elsewhere / external" in (tmp_path / "c.md").read_text()
    capsys.readouterr()
    assert main(["report", str(bench), "--external", str(bench)]) == 2
    assert "is not a folder of external entries" in capsys.readouterr().err


def test_a_run_and_samples_at_once_are_refused(ring_run, tmp_path, capsys):
    assert main(["eval", str(ring_run), "--samples", "x.npy"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["eval", "--samples", "x.npy", "--data", "ring8"]) == 2
    assert "--name, --out missing" in capsys.readouterr().err


def test_what_an_entry_records_and_refuses(ring_run, tmp_path, capsys):
    """Counts below the standard are recorded whatever set them; the same samples twice, a
    ganzoo architecture's name and --float-range on uint8 are refused; grey N x H x W arrays
    are read; the provenance holds the file's absolute path and its stored shape."""
    root = need_data_root()
    images = tmp_path / "grey.npz"
    np.savez(
        images, arr_0=np.random.default_rng(0).integers(0, 255, (300, 28, 28), dtype=np.uint8), labels=np.zeros(300)
    )
    out = tmp_path / "out"
    args = ["eval", "--samples", str(images), "--data", "mnist", "--data-root", str(root), "--out", str(out)]
    assert (
        main([*args, "--name", "grey", "--eval-metrics", "fid", "--eval-samples", "300", "--eval-real-samples", "300"])
        == 0
    )
    entry = last_entry(out)["external"]
    assert entry["fewer_than_standard"] == ["fid"] and entry["counts"] == {"fid": 300}
    assert entry["path"] == str(images.resolve()) and entry["original"]["shape"] == [300, 28, 28]
    assert entry["format"] == "npz, array arr_0"
    line = json.loads((out / last_entry(out)["run_dir"] / "metrics.jsonl").read_text())
    assert "sample_seed" not in line["protocol"] and "seed" not in line["protocol"]["generated"]
    capsys.readouterr()
    for extra, problem in (
        (["--name", "grey", "--seed", "1"], "are already the entry external--grey--mnist--seed0"),
        (["--name", "dcgan"], "is a ganzoo architecture's name"),
        (["--name", "other", "--float-range", "0,1"], "--float-range 0,1 says what float images span"),
    ):
        assert main([*args, *extra, "--eval-metrics", "fid", "--allow-fewer"]) == 2
        assert problem in capsys.readouterr().err


def test_compare_and_the_report_rule_out_lines_whose_protocols_differ(ring_run, tmp_path):
    samples = tmp_path / "s.npy"
    assert main(["sample", str(ring_run), "--as-eval", "-n", "2500", "--out", str(samples)]) == 0
    for out, count in (("a", "2500"), ("b", "1000")):
        args = ["eval", "--samples", str(samples), "--data", "ring8", "--name", "m", "--out", str(tmp_path / out)]
        assert main([*args, *EVAL_2D, "--eval-samples", count]) == 0
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c.md")]) == 0
    assert "not comparable: num_samples 2500 vs 1000" in (tmp_path / "c.md").read_text()
    assert main(["report", str(tmp_path / "a")]) == 0
    report = (tmp_path / "a" / "report.md").read_text()
    assert "**1 external entries** (samples made elsewhere)" in report and "no cell of this data set here" in report
