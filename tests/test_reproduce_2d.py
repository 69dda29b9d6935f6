"""The pieces of the papers' 2D protocol: data variants, PacGAN's networks, reverse KL,
the Unrolled GAN's gradient, and a tiny end-to-end `reproduce-2d` suite."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo import TrainConfig
from ganzoo.evaluation.mode_coverage import mode_coverage
from ganzoo.training.distributed import Ranks
from ganzoo.training.opening import open_dataset
from ganzoo.training.players import build_training
from ganzoo.training.resolve import resolve
from ganzoo.training.step import train_step
from ganzoo.training.unrolled import _AdamStep, unrolled_discriminator

# --- data -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,radius,std", [("ring8", 2.0, 0.02), ("ring8-pacgan", 1.0, 0.01)])
def test_ring_variants_have_eight_distinct_modes_on_their_circle(name, radius, std):
    data = ganzoo.create_dataset(name)
    assert data.name == name and data.std == std
    centers = data.centers.double()
    assert centers.shape == (8, 2)
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), radius, dtype=torch.float64), atol=1e-6)
    # Eight distinct modes 45 degrees apart (linspace(0, 2*pi, 8) would repeat the first).
    gaps = torch.cdist(centers, centers) + torch.eye(8, dtype=torch.float64) * 99
    assert gaps.min().item() == pytest.approx(2 * radius * math.sin(math.pi / 8), rel=1e-6)
    angles = torch.atan2(centers[:, 1], centers[:, 0]).remainder(2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8, dtype=torch.float64) * math.pi / 4, atol=1e-6)


def test_ring_variant_by_option_matches_the_named_one():
    by_option = ganzoo.create_dataset("ring8", radius=1.0, std=0.01)
    named = ganzoo.create_dataset("ring8-pacgan")
    assert torch.equal(by_option.centers, named.centers) and by_option.std == named.std


def test_pacgan_grid_is_grid25():
    grid = ganzoo.create_dataset("grid25")
    expected = {(float(i), float(j)) for i in range(-4, 5, 2) for j in range(-4, 5, 2)}
    assert {tuple(c) for c in grid.centers.tolist()} == expected and grid.std == 0.05


@pytest.mark.parametrize("options", [{"radius": 0.0}, {"num_modes": 0}, {"std": -1.0}])
def test_bad_ring_options_are_refused(options):
    with pytest.raises(ganzoo.GanzooError):
        ganzoo.create_dataset("ring8", **options)


# --- reverse KL -------------------------------------------------------------------------------


def test_reverse_kl_matches_a_hand_computation():
    data = ganzoo.create_dataset("ring8-pacgan")
    # 60 high-quality samples at mode 0, 30 at mode 1, 10 at mode 5, and 50 far from every mode.
    counts = {0: 60, 1: 30, 5: 10}
    samples = torch.cat([data.centers[m].repeat(n, 1) for m, n in counts.items()] + [torch.zeros(50, 2)])
    result = mode_coverage(samples, data.centers, data.std)
    p = [0.6, 0.3, 0.1]
    by_hand = sum(pi * math.log(pi / (1 / 8)) for pi in p)  # KL(p_gen || uniform over 8)
    assert result["reverse_kl"] == pytest.approx(by_hand, rel=1e-12)
    entropy = -sum(pi * math.log(pi) for pi in p)  # PacGAN's code stores this entropy
    assert result["reverse_kl"] == pytest.approx(math.log(8) - entropy, rel=1e-12)
    assert result["modes_covered"] == 3 and result["high_quality_pct"] == pytest.approx(100 * 100 / 150)


def test_reverse_kl_uses_the_true_mode_weights():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    samples = torch.cat([centers[0].repeat(75, 1), centers[1].repeat(25, 1)])
    result = mode_coverage(samples, centers, 0.1, weights=torch.tensor([3.0, 1.0]))
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


# --- PacGAN's networks ------------------------------------------------------------------------


def test_pacgan_mlp_layers_and_parameter_count():
    G, D, config = ganzoo.create_architecture("pacgan-mlp")
    assert config["latent_dim"] == 2
    maxouts = [m for m in D.modules() if type(m).__name__ == "Maxout"]
    assert [(m.linear.in_features, m.linear.out_features, m.pieces) for m in maxouts] == [
        (2, 1000, 5),
        (200, 1000, 5),
        (200, 1000, 5),
    ]
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 4 and all(n.num_features == 400 and n.momentum == 0.05 for n in norms)
    # G: 2*400 + 3*400*400 (no biases before batch norm) + 4*2*400 (BN scale, shift) + 400*2 + 2.
    assert sum(p.numel() for p in G.parameters()) == 800 + 3 * 160_000 + 3200 + 802
    # D: 3 maxout layers (2->1000, 200->1000, 200->1000, with biases) and the 200->1 output.
    assert sum(p.numel() for p in D.parameters()) == 3000 + 2 * 201_000 + 201
    assert torch.all(G.net[0].weight.std() < 0.03) and torch.all(D.head.bias == 0)


def test_maxout_takes_the_max_over_each_units_pieces():
    _, D, _ = ganzoo.create_architecture("pacgan-mlp.test")
    layer = D.body[0]
    x = torch.randn(7, 2)
    pieces = layer.linear(x).view(7, layer.out_features, layer.pieces)
    assert torch.equal(layer(x), pieces.max(dim=-1).values)
    assert D(x).shape == (7,)


def test_pacgan_mlp_packs_and_trains_defaults_from_the_paper():
    entry = ganzoo.plugin.api.architecture_entry("pacgan-mlp")
    assert entry.train_defaults["batch_size"] == 100 and entry.train_defaults["g_lr"] == 1e-4
    # the first reading of blocks' beta1 = 0.8 (see reproduce-2d-long)
    assert entry.train_defaults["betas"] == (0.2, 0.999)
    _, D, _ = ganzoo.create_architecture("pacgan-mlp", pack=3)
    assert D.inner.body[0].linear.in_features == 6 and D(torch.randn(12, 2)).shape == (4,)


@pytest.mark.parametrize("m", [2, 3])
def test_per_group_batch_norm_equals_m_separate_passes_of_the_generator(m):
    """bn_groups=m: G's output and its running statistics are those of m separate passes over
    the interleaved groups (sample j in group j mod m), as PacGAN's code runs G once per pack slot."""
    torch.manual_seed(0)
    grouped, _, _ = ganzoo.create_architecture("pacgan-mlp.test", bn_groups=m)
    separate = copy.deepcopy(grouped)
    separate.bn_groups = 1
    z = torch.randn(10 * m, 2)
    out = grouped(z)
    passes = [separate(z[k::m]) for k in range(m)]  # one call per group, in group order
    expected = torch.empty_like(out)
    for k, part in enumerate(passes):
        expected[k::m] = part
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    for a, b in zip(grouped.buffers(), separate.buffers()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # m updates of the running statistics
    # A pack of m consecutive samples holds one sample of every group.
    assert torch.equal(out.view(10, m, 2)[:, 0], passes[0])
    # One pass over the whole batch normalises with other statistics.
    assert not torch.allclose(out, copy.deepcopy(separate)(z))
    # Gradients flow through every group; evaluation (running statistics) needs no grouping.
    out.sum().backward()
    assert all(p.grad is not None for p in grouped.parameters())
    grouped.eval()
    separate.eval()
    torch.testing.assert_close(grouped(z[:7]), separate(z[:7]), rtol=0, atol=0)
    grouped.train()
    with pytest.raises(ganzoo.GanzooError, match="multiple of"):
        grouped(torch.randn(10 * m + 1, 2))


# --- Unrolled GAN -----------------------------------------------------------------------------


def _hand_unrolled_generator_grad(theta, real, z, w, b, lr, betas, eps, k, rmsprop_alpha=None):
    """G(z) = theta * z, D(x) = w.x + b, the non-saturating loss, and k Adam steps of D (RMSprop
    steps with `rmsprop_alpha`) from a fresh optimiser, every gradient of D written out by
    hand (no autograd inside the unroll)."""
    theta = theta.clone().requires_grad_(True)
    fake = theta * z
    (beta1, beta2), m_w, v_w, m_b, v_b = betas, torch.zeros(2), torch.zeros(2), torch.zeros(()), torch.zeros(())
    for t in range(1, k + 1):
        # L_D = mean softplus(-(w.x_r + b)) + mean softplus(w.x_f + b)
        s_r = torch.sigmoid(-(real @ w + b))  # d softplus(-l)/dl = -sigmoid(-l)
        s_f = torch.sigmoid(fake @ w + b)
        g_w = -(s_r[:, None] * real).mean(0) + (s_f[:, None] * fake).mean(0)
        g_b = -s_r.mean() + s_f.mean()
        if rmsprop_alpha is not None:
            alpha = rmsprop_alpha
            v_w, v_b = alpha * v_w + (1 - alpha) * g_w**2, alpha * v_b + (1 - alpha) * g_b**2
            w, b = w - lr * g_w / (v_w.sqrt() + eps), b - lr * g_b / (v_b.sqrt() + eps)
            continue
        m_w, v_w = beta1 * m_w + (1 - beta1) * g_w, beta2 * v_w + (1 - beta2) * g_w**2
        m_b, v_b = beta1 * m_b + (1 - beta1) * g_b, beta2 * v_b + (1 - beta2) * g_b**2
        w = w - lr * (m_w / (1 - beta1**t)) / ((v_w / (1 - beta2**t)).sqrt() + eps)
        b = b - lr * (m_b / (1 - beta1**t)) / ((v_b / (1 - beta2**t)).sqrt() + eps)
    g_loss = F.softplus(-(fake @ w + b)).mean()
    (grad,) = torch.autograd.grad(g_loss, theta)
    return grad


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
@pytest.mark.parametrize("k", [1, 3])
def test_unrolled_gradient_equals_a_hand_unrolled_computation(k, optimizer):
    torch.manual_seed(0)
    real, z = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    theta = torch.tensor([0.7, -1.3], dtype=torch.float64)
    D = ganzoo.Discriminator((2,))
    D.linear = torch.nn.Linear(2, 1).double()
    D.forward = lambda x, labels=None: D.linear(x).squeeze(1)
    lr, betas, eps = 0.05, (0.5, 0.9), 1e-8
    alpha = 0.9 if optimizer == "rmsprop" else None
    d_opt = (
        torch.optim.RMSprop(D.parameters(), lr=lr, alpha=alpha, eps=eps)
        if alpha is not None
        else torch.optim.Adam(D.parameters(), lr=lr, betas=betas, eps=eps)
    )
    w0, b0 = D.linear.weight.detach()[0].clone(), D.linear.bias.detach()[0].clone()

    theta_ours = theta.clone().requires_grad_(True)
    fake = theta_ours * z
    judge = unrolled_discriminator(D, d_opt, ganzoo.create_loss("non-saturating"), [], real, None, fake, None, k)
    F.softplus(-judge(fake)).mean().backward()

    expected = _hand_unrolled_generator_grad(theta, real, z, w0, b0, lr, betas, eps, k, alpha)
    assert torch.allclose(theta_ours.grad, expected, rtol=1e-10, atol=1e-12)
    # The look-ahead changes G's gradient (the second-order term is there) ...
    plain = _hand_unrolled_generator_grad(theta, real, z, w0, b0, lr, betas, eps, 0, alpha)
    assert not torch.allclose(expected, plain)
    # ... and nothing of D: its weights and its optimiser are untouched.
    assert torch.equal(D.linear.weight.detach()[0], w0) and not d_opt.state


@pytest.mark.parametrize("weight_decay,t", [(0.0, 1.0), (0.0, 7.0), (0.1, 3.0)])
def test_the_unrolled_adam_steps_hand_written_backward_matches_finite_differences(weight_decay, t):
    """The unroll's Adam step is one autograd node with its backward written out; gradcheck
    holds it against finite differences in every input that carries G's gradient (the
    weights, their gradient and both moments), with and without weight decay."""
    torch.manual_seed(0)
    p, g, m = (torch.randn(4, 3, dtype=torch.float64, requires_grad=True) for _ in range(3))
    v = (torch.rand(4, 3, dtype=torch.float64) + 0.1).requires_grad_(True)
    step = lambda p, g, m, v: _AdamStep.apply(p, g, m, v, 0.05, 0.5, 0.9, 1e-8, weight_decay, t)  # noqa: E731
    assert torch.autograd.gradcheck(step, (p, g, m, v))
    # Where v' is 0 (a weight whose gradient has always been 0) the step is finite and G's
    # gradient through it carries no NaN.
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    out, _, _ = _AdamStep.apply(zero, zero, zero.detach(), zero.detach(), 0.05, 0.5, 0.9, 1e-8, 0.0, 1.0)
    out.sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_unrolled_start_from_the_optimisers_state_and_survive_dead_units():
    """After real D steps the unroll continues D's Adam moments; maxout pieces that never win
    have zero gradient (sqrt(0) in Adam) and must not turn G's gradient into NaN."""
    cfg = resolve(TrainConfig(arch="pacgan-mlp.test", data="ring8-pacgan", batch_size=20, unroll_steps=2, device="cpu"))
    t = build_training(cfg, open_dataset(cfg), torch.device("cpu"))
    for _ in range(3):
        d_loss, g_loss = train_step(t)
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert all(torch.isfinite(p).all() for p in t.G.parameters())
    assert int(t.d_opt.state[next(t.D.parameters())]["step"]) == 3  # unrolling took no real D step


def test_unroll_steps_is_part_of_the_experiment(tmp_path):
    run = tmp_path / "run"
    ganzoo.train(
        TrainConfig(
            arch="mlp.test", data="ring8", steps=4, eval_every=4, eval_samples=100, unroll_steps=2, device="cpu"
        ),
        run,
        progress=False,
    )
    with pytest.raises(ganzoo.GanzooError, match="unroll_steps"):
        ganzoo.train(
            TrainConfig(
                arch="mlp.test", data="ring8", steps=8, eval_every=4, eval_samples=100, unroll_steps=3, device="cpu"
            ),
            run,
            resume=True,
            progress=False,
        )
    with pytest.raises(ganzoo.GanzooError, match="unroll-steps"):
        resolve(TrainConfig(unroll_steps=-1))


def test_simultaneous_update_takes_both_gradients_at_the_same_weights():
    """PacGAN's algorithm: one batch, one G forward; D steps on its loss's gradient and G on
    its own, both at the weights before the step (in the alternating step G's is at D's
    new weights). Checked against the two gradients taken by hand on copies of the models."""
    cfg = resolve(
        TrainConfig(
            arch="pacgan-mlp.test",
            data="ring8-pacgan",
            batch_size=20,
            update="simultaneous",
            g_lr=0.05,
            d_lr=0.05,
            device="cpu",
        )
    )  # large steps: D0 and D1 far apart
    t = build_training(cfg, open_dataset(cfg), torch.device("cpu"))
    train_step(t)  # past Adam's first step, whose size does not depend on the gradient
    hand = copy.deepcopy(t)
    real = hand.batches.next()[0]
    fake = hand.G(hand.G.sample_latent(20, torch.device("cpu"), hand.latent_rng))
    d_loss = F.softplus(-hand.D(real)).mean() + F.softplus(hand.D(fake)).mean()
    g_loss = F.softplus(-hand.D(fake)).mean()
    d_grads = torch.autograd.grad(d_loss, list(hand.D.parameters()), retain_graph=True)
    g_grads = torch.autograd.grad(g_loss, list(hand.G.parameters()))
    for p, g in [*zip(hand.D.parameters(), d_grads), *zip(hand.G.parameters(), g_grads)]:
        p.grad = g
    hand.d_opt.step()
    hand.g_opt.step()

    train_step(t)
    for ours, theirs in [*zip(t.D.parameters(), hand.D.parameters()), *zip(t.G.parameters(), hand.G.parameters())]:
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-7)
    assert torch.equal(t.G.net[1].running_mean, hand.G.net[1].running_mean)  # G's batch norm moved once

    with pytest.raises(ganzoo.GanzooError, match="n-d is 2"):
        resolve(TrainConfig(arch="mlp.test", data="ring8", update="simultaneous", n_d=2))
    with pytest.raises(ganzoo.GanzooError, match="unroll-steps do not go together"):
        resolve(TrainConfig(arch="mlp.test", data="ring8", update="simultaneous", unroll_steps=2))
    with pytest.raises(ganzoo.GanzooError, match="Unknown update 'sim'"):
        resolve(TrainConfig(arch="mlp.test", data="ring8", update="sim"))
    with pytest.raises(ganzoo.GanzooError, match="does not run under torchrun"):
        build_training(cfg, open_dataset(cfg), torch.device("cpu"), Ranks(world=2))


# --- the suite, its report beside the papers ------------------------------------------------


def test_reproduce_2d_suite_has_the_papers_rows_seeds_and_data():
    from ganzoo.bench.suite import expand, load_suite
    from ganzoo.report.papers import load_references, papers_file_for

    suite = load_suite("reproduce-2d")
    cells = expand(suite, {})
    by_block = {}
    for c in cells:
        by_block.setdefault(c.block, set()).add((c.data, c.seed))
    assert {"gan", "pacgan2", "pacgan3", "pacgan4", "unrolled", "ganzoo-best", "ganzoo-best-grid"} <= set(by_block)
    # ganzoo's best settings: the rings in one block, the grid (a wider G) in another.
    by_block["ganzoo-best"] |= by_block.pop("ganzoo-best-grid")
    for block, cells_of in by_block.items():
        assert {d for d, _ in cells_of} == {"ring8-pacgan", "ring8", "grid25"}, block
        for data in ("ring8-pacgan", "ring8", "grid25"):
            seeds = len({s for d, s in cells_of if d == data})
            assert seeds >= (5 if block in ("gan", "ganzoo-best") else 3), (block, data)
    packs = {c.block: c.train.get("arch_options", {}).get("pack", 1) for c in cells}
    assert (packs["pacgan2"], packs["pacgan3"], packs["pacgan4"]) == (2, 3, 4)
    # PacGAN's batch of 100 counts packs: pack m shows D 100 * m samples of each kind.
    assert all(c.train["batch_size"] == 100 * packs[c.block] for c in cells if c.block.startswith("pacgan"))
    assert {c.train.get("unroll_steps") for c in cells if c.block == "unrolled"} == {5}
    # PacGAN's code steps both players from one batch; the Unrolled GAN alternates.
    assert {c.train.get("update") for c in cells if c.block == "gan" or c.block.startswith("pacgan")} == {
        "simultaneous"
    }
    assert {c.train.get("update") for c in cells if c.block == "unrolled"} == {None}
    references = load_references(papers_file_for("reproduce-2d"))
    assert {(r["block"], r["data"]) for r in references} <= {(c.block, c.data) for c in cells}


def test_the_long_suite_is_reproduce_2d_rows_with_only_the_schedule_changed():
    """`reproduce-2d-long` shows where the GAN and PacGAN rows' curves go: it must train
    exactly those rows, so that its curves explain the short suite's numbers; its only other
    rows are GAN and PacGAN2 under the other reading of PacGAN's Adam beta1."""
    from ganzoo.bench.suite import expand, load_suite
    from ganzoo.report.papers import load_papers, papers_file_for

    schedule = ("steps", "eval_every", "log_every")
    short = {(c.block, c.arch, c.loss, c.data, c.seed): c for c in expand(load_suite("reproduce-2d"), {})}
    long_cells = expand(load_suite("reproduce-2d-long"), {})
    rows = ("gan", "pacgan2", "pacgan3", "pacgan4")
    assert {(c.block, c.data) for c in long_cells} == {
        (b, d) for b in rows + ("gan-beta1-0.8", "pacgan2-beta1-0.8") for d in ("ring8-pacgan", "grid25")
    }
    seeds = {b: sorted({c.seed for c in long_cells if c.block == b}) for b in rows}
    assert seeds == {"gan": [0, 1, 2, 3, 4], "pacgan2": [0, 1, 2, 3, 4], "pacgan3": [0, 1, 2], "pacgan4": [0, 1, 2]}
    for cell in long_cells:
        block = cell.block.removesuffix("-beta1-0.8")
        twin = short[block, cell.arch, cell.loss, cell.data, min(cell.seed, 2)]
        train = {k: v for k, v in cell.train.items() if k not in schedule}
        if block != cell.block:
            assert train.pop("betas") == [0.8, 0.999]  # the other reading of blocks' beta1 = 0.8
        assert train == {k: v for k, v in twin.train.items() if k not in schedule}
        assert cell.train["steps"] == 20 * twin.train["steps"] == 100_000
    # ... and its report sets the same published rows beside them, and PacGAN's GAN and PacGAN2
    # rows beside both readings of beta1.
    long_papers, short_papers = (
        load_papers(papers_file_for("reproduce-2d-long")),
        load_papers(papers_file_for("reproduce-2d")),
    )
    assert long_papers.references[: long_papers.inherited] == short_papers.references
    assert long_papers.protocols == short_papers.protocols and long_papers.margins == short_papers.margins
    own = long_papers.references[long_papers.inherited :]
    assert {(r["block"], r["data"]) for r in own} == {
        (b, d) for b in ("gan-beta1-0.8", "pacgan2-beta1-0.8") for d in ("ring8-pacgan", "grid25")
    }
    for r in own:  # the same published numbers as the row it reads differently
        twin = next(
            t
            for t in short_papers.references
            if (t["block"], t["data"], t["source"]) == (r["block"].removesuffix("-beta1-0.8"), r["data"], r["source"])
        )
        assert r["values"] == twin["values"] and r.get("protocol_overrides") == twin.get("protocol_overrides")


def _tiny_block(name: str, extra: str = "", batch_size: int = 20) -> str:
    return f"""
[[block]]
name = "{name}"
architectures = ["pacgan-mlp.test"]
losses = ["non-saturating"]
data = ["ring8-pacgan"]
seeds = [0, 1]
steps = 6
eval_every = 3
batch_size = {batch_size}
eval_samples = 100
metrics = ["mode-coverage"]
{extra}
"""


TINY_SUITE = (
    'name = "tiny-reproduce-2d"\ndescription = "PacGAN\'s protocol in miniature"\n'
    + _tiny_block("gan", 'train = { update = "simultaneous" }')
    + _tiny_block("pacgan2", 'arch_options = { pack = 2 }\ntrain = { update = "simultaneous" }', batch_size=40)
    + _tiny_block("unrolled", "train = { unroll_steps = 2 }")
)

TINY_PAPERS = """
[margins.ring8-pacgan]
modes_covered = 0.5

[protocols.pacgan]
runs = 10
"train.steps" = { value = 400000, effect = "convergence" }
"arch.name" = "pacgan-mlp.test"
"train.update" = "simultaneous"

[[reference]]
block = "gan"
data = "ring8-pacgan"
metric = "mode-coverage"
protocol = "pacgan"
source = "PacGAN Table 1 (GAN)"
values = { modes_covered = [6.3, 0.5], high_quality_pct = [98.2, 0.2], reverse_kl = [0.45, 0.09] }

[[reference]]
block = "unrolled"
data = "ring8-pacgan"
metric = "mode-coverage"
protocol = "pacgan"
source = "somewhere, no error bar"
values = { modes_covered = [7.6] }
"""


@pytest.mark.slow
def test_tiny_reproduce_2d_end_to_end(tmp_path):
    from conftest import run_cli

    suite, papers, out = tmp_path / "tiny.toml", tmp_path / "papers.toml", tmp_path / "results"
    suite.write_text(TINY_SUITE)
    papers.write_text(TINY_PAPERS)
    from ganzoo.bench.run import run_suite
    from ganzoo.bench.suite import load_suite

    run_suite(load_suite(str(suite)), out, overrides={"device": "cpu"}, echo=lambda *_: None)
    records = [r for r in ganzoo.util.files.read_jsonl(out / "results.jsonl")]
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)
    assert all("reverse_kl" in r["final"]["mode-coverage"] for r in records)
    result = run_cli("report", str(out), "--papers", str(papers))
    assert result.returncode == 0, result.stderr
    md = (out / "report.md").read_text()
    # Three rows, told apart by the options that differ (not merged into one pacgan-mlp row).
    rows = [line for line in md.splitlines() if line.startswith("| pacgan-mlp.test |")]
    settings = sorted(line.split(" | ")[2] for line in rows)
    assert settings == [
        "batch_size=20, unroll_steps=2",
        "batch_size=20, update=simultaneous",
        "batch_size=40, pack=2, update=simultaneous",
    ], settings
    # ganzoo's numbers beside the papers', each line with the engine's verdict and its reasons:
    # 6 steps with 3 evaluations cannot show a plateau, and the unrolled row alternates.
    beside = [
        line
        for line in md.splitlines()
        if line.startswith("| ") and ("PacGAN Table 1 (GAN)" in line or "no error bar" in line)
    ]
    assert len(beside) == 4
    judged = [line for line in beside if "no ganzoo value" not in line]  # reverse KL: no seed had an HQ sample
    assert judged and all("not comparable" in line and "fewer than 3 evaluations" in line for line in judged)
    unrolled = next(line for line in beside if "no error bar" in line)
    assert "train.update differs (simultaneous in the paper, alternating here)" in unrolled
    assert "6.3 ± 0.5 (n=10)" in md and "(n=2" in md
    # a plateau in 6 steps would not stand for 400,000 either: the schedule rule says so too
    assert "train.steps: paper 400,000, here 6 (not comparable: the paper's is 66,667 times the run's" in md
    assert all("a plateau in the run is not carried over more than 4 times its length" in line for line in judged)
    html_page = (out / "report.html").read_text()
    assert "Beside the papers" in html_page and "unroll_steps=2" in html_page
