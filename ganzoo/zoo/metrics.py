"""ganzoo's own metrics, registered through the `ganzoo_register_metrics` hook like a
plugin's: mode coverage on data with known modes; FID, KID, precision/recall and the
Inception Score through torch-fidelity; class coverage and Stacked MNIST modes read
off a digit classifier."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo.core.metrics import Column, Curve, Metric, MetricContext, offers
from ganzoo.evaluation import class_coverage as cc
from ganzoo.evaluation import density_coverage as dc
from ganzoo.evaluation import mode_coverage as mc
from ganzoo.evaluation.digits import extractor_name
from ganzoo.evaluation.extractors import DINOV2, INCEPTION, resolve_extractor
from ganzoo.evaluation.fidelity import MAX_REAL_SAMPLES, REFERENCE_SELECTION, extract_features, fidelity_metrics
from ganzoo.plugin.hookspecs import hookimpl

if TYPE_CHECKING:  # for annotations only: at run time evaluation.plan would import matplotlib with the plugins
    from ganzoo.evaluation.plan import EvalPlan


class ModeCoverage(Metric):
    """VEEGAN's and PacGAN's protocol: modes covered, high-quality share, reverse KL."""

    needs = ("modes",)
    num_samples = mc.NUM_SAMPLES
    during_training = True
    columns = (
        Column("modes_covered", "modes", 1, 1),
        Column("high_quality_pct", "HQ %", 1, 1),
        Column("reverse_kl", "reverse KL", 3, -1),
    )
    curves = (Curve("modes_covered", "modes covered"), Curve("high_quality_pct", "high-quality samples, %"))
    resolutions = {"modes_covered": 1, "high_quality_pct": 100 / mc.NUM_SAMPLES}
    margins = {"modes_covered": "5%", "high_quality_pct": 5.0, "reverse_kl": 0.1}

    def compute(self, context: MetricContext) -> dict:
        data: Any = context.dataset  # it offers "modes": centers, std and mode_weights, which Dataset does not declare
        results = mc.mode_coverage(context.sample(), data.centers, data.std, weights=data.mode_weights)
        described = {
            "name": data.name,
            "num_classes": data.num_classes,
            "num_modes": int(data.centers.shape[0]),
            "sample_shape": list(data.sample_shape),
            "std": float(data.std),
        }
        return {
            "results": results,
            "protocol": {**mc.protocol(context.num_samples), "data": described, **context.common_protocol()},
        }


def real_count(plan: EvalPlan, default: int) -> int:
    """Real images a metric compares with: the user's count (--eval-real-samples), else
    `default`; never more than the real split holds."""
    chosen = plan.settings.real_samples
    return min(default if chosen is None else chosen, len(plan.reference))


class FidelityMetric(Metric):
    """One of torch-fidelity's metrics on the extractor's features. Every fidelity metric
    of an evaluation with the same sample counts comes from one shared pass of features."""

    needs = ("images",)
    uses = ("reference", "extractor")
    num_samples = 10_000

    def real_samples(self, context: MetricContext, generated: int) -> int:
        """Real images compared with: the user's count, else the split (at most 50,000)."""

        return real_count(context.plan, MAX_REAL_SAMPLES)

    def compute(self, context: MetricContext) -> dict:
        plan: EvalPlan = context.plan
        sizes = (context.num_samples, self.real_samples(context, context.num_samples))
        key = ("fidelity", *sizes)
        if key not in context.shared:
            group = []
            for name, metric in plan.instances.items():
                if isinstance(metric, FidelityMetric):
                    n = plan.settings.count_for(metric)
                    if (n, metric.real_samples(context, n)) == sizes:
                        group.append(name)
            assert plan.extractor is not None, "plan_evaluation prepares the extractor of every metric that uses it"
            records = fidelity_metrics(
                context.generator,
                plan.reference,
                group,
                extractor=plan.extractor,
                num_samples=sizes[0],
                real_samples=sizes[1],
                split=plan.settings.real_split,
                seed=context.sample_seed,
                generator_kind=context.generator_kind,
            )
            context.shared[key] = {record["metric"]: record for record in records}
        return context.shared[key][self.name]


class FID(FidelityMetric):
    columns = (Column("fid", "FID", 2, -1),)
    curves = (Curve("fid", "FID"),)
    margins = {"fid": "5%"}


class KID(FidelityMetric):
    columns = (Column("kid_mean", "KID", 4, -1),)


class PrecisionRecall(FidelityMetric):
    """Kynkaanniemi et al. 2019 compare equal counts of real and generated samples."""

    columns = (Column("precision", "precision", 3, 1), Column("recall", "recall", 3, 1))

    def real_samples(self, context: MetricContext, generated: int) -> int:
        return real_count(context.plan, generated)


class InceptionScore(FidelityMetric):
    columns = (Column("is_mean", "IS", 2, 1),)

    def check(self, plan) -> str | None:
        """IS needs a classifier whose classes are the data's own: the digit classifier on
        its own data, or Inception on colour images that are not stacked digits."""

        data, extractor = plan.dataset, plan.extractor
        if extractor.name == INCEPTION:
            fits = data.sample_shape[0] == 3 and "stacked-digits" not in offers(data)
        else:
            fits = "digit-classes" in offers(data) and extractor.classifier_data == data.digit_classifier
        if fits:
            return None
        return (
            f"The Inception Score needs a classifier whose classes are the data's own; {extractor.name} on "
            f"'{data.name}' is not one. Leave inception-score out."
        )


class FDDinov2(Metric):
    """FD-DINOv2 (Stein et al. 2023): the Frechet distance of DINOv2 ViT-L/14 features,
    whatever extractor the other metrics use. Not computed unless named: the network is a
    1.2 GB download (or a copy in torch's hub cache)."""

    needs = ("images",)
    uses = ("reference",)
    num_samples = 10_000
    by_default = False
    columns = (Column("fd_dinov2", "FD-DINOv2", 2, -1),)
    curves = (Curve("fd_dinov2", "FD-DINOv2"),)
    margins = {"fd_dinov2": "5%"}

    def prepare(self, plan) -> None:
        self.extractor = resolve_extractor(DINOV2)

    def compute(self, context: MetricContext) -> dict:
        plan: EvalPlan = context.plan
        real = real_count(plan, MAX_REAL_SAMPLES)
        (record,) = fidelity_metrics(
            context.generator,
            plan.reference,
            ["fid"],
            extractor=self.extractor,
            num_samples=context.num_samples,
            real_samples=real,
            split=plan.settings.real_split,
            seed=context.sample_seed,
            generator_kind=context.generator_kind,
        )
        return {
            "results": {"fd_dinov2": record["results"]["fid"]},
            "protocol": {**record["protocol"], "metric": self.name, "reference": "Stein et al. 2023"},
            "seconds": record["seconds"],
        }


class DensityCoverage(Metric):
    """Naeem et al. 2020 on the extractor's features (the layer precision/recall reads), as
    many real samples as generated, k = 5. Real features are computed once per run."""

    needs = ("images",)
    uses = ("reference", "extractor")
    num_samples = dc.NUM_SAMPLES
    columns = (Column("density", "density", 3, 0), Column("coverage", "coverage", 3, 1))

    def compute(self, context: MetricContext) -> dict:
        plan: EvalPlan = context.plan
        assert plan.extractor is not None, "plan_evaluation prepares the extractor of every metric that uses it"
        real = real_count(plan, context.num_samples)
        key = ("real-features", plan.extractor.weights_sha256, "prc", real)
        if key not in plan.cache:  # the same real images, so the same balls, at every evaluation of the run
            features = extract_features(plan.extractor, "prc", reference=plan.reference, real_samples=real)
            plan.cache[key] = (features, dc.real_radii(features))
        features, radii = plan.cache[key]
        generated = extract_features(
            plan.extractor,
            "prc",
            generator=context.generator,
            num_samples=context.num_samples,
            seed=context.sample_seed,
        )
        results = dc.density_coverage(features, generated, radii=radii)
        return {
            "results": results,
            "protocol": {
                "metric": self.name,
                "nearest_k": dc.NEAREST_K,
                "extractor": plan.extractor.describe(),
                "layer": plan.extractor.layer("prc"),
                "generated": {"num_samples": context.num_samples, **context.common_protocol()},
                "real": {
                    "data": plan.reference.name,
                    "split": plan.settings.real_split,
                    "num_samples": real,
                    "selection": REFERENCE_SELECTION,
                },
                "reference": "Naeem et al. 2020; radius = distance to the k-th nearest other real feature, strict <",
            },
        }


class ClassifierMetric(Metric):
    """Classes of generated images, read off the data's digit classifier."""

    uses: tuple[str, ...] = ("classifier",)

    def classified(self, context: MetricContext, grey: bool):
        plan: EvalPlan = context.plan
        assert plan.classifier is not None, "plan_evaluation loads the digit classifier for every metric that uses it"
        model, info = plan.classifier
        model.to(context.generator.device)
        settings = plan.settings
        predicted, asked = cc.generated_classes(
            context.generator,
            model,
            context.num_samples,
            context.rng(),
            grey=grey,
            sampler_batch=settings.sampler_batch,
            float_images=settings.float_images,
        )
        classifier = {
            "name": extractor_name(info["dataset"]),
            "weights_sha256": info["sha256"],
            "test_accuracy": info["test_accuracy"],
        }
        return predicted, asked, classifier

    def protocol(self, context: MetricContext, classifier: dict, **specific) -> dict:
        settings = context.plan.settings
        sampler = (
            {"sampler_batch_norm": "batch statistics", "sampler_batch": settings.sampler_batch}
            if settings.sampler_batch
            else {"sampler_batch_norm": "running statistics"}
        )
        images = "float, as G makes them" if settings.float_images else "uint8-quantised, as real images are"
        return {
            "metric": self.name,
            "num_samples": context.num_samples,
            "classifier": classifier,
            "images": images,
            **sampler,
            **specific,
            **context.common_protocol(),
        }


class ClassCoverage(ClassifierMetric):
    needs = ("images", "digit-classes")
    uses = ("reference", "classifier")
    num_samples = cc.CLASS_COVERAGE_SAMPLES
    columns = (Column("classes_covered", "classes", 1, 1), Column("kl_real", "KL(classes‖real)", 3, -1))
    resolutions = {"classes_covered": 1}

    def compute(self, context: MetricContext) -> dict:
        predicted, asked, classifier = self.classified(context, grey=True)
        plan: EvalPlan = context.plan
        labels = plan.reference.labels
        results = cc.class_coverage(predicted[:, 0], labels, context.dataset.num_classes, asked)
        return {
            "results": results,
            "protocol": self.protocol(
                context,
                classifier,
                covered="at least one sample classified as the class",
                kl="KL(generated class histogram || real class distribution), nats",
                real={"data": plan.reference.name, "split": plan.settings.real_split, "num_labels": len(labels)},
                label_agreement="conditional generators: share classified as the label asked for",
            ),
        }


class StackedMNISTModes(ClassifierMetric):
    needs = ("images", "stacked-digits")
    num_samples = cc.STACKED_MNIST_SAMPLES
    columns = (Column("modes_covered", "modes /1000", 1, 1), Column("kl_uniform", "KL(modes‖U)", 3, -1))
    curves = (Curve("modes_covered", "modes covered (of 1,000)"),)
    resolutions = {"modes_covered": 1}
    margins = {"modes_covered": 50.0, "kl_uniform": 0.25}

    def compute(self, context: MetricContext) -> dict:
        predicted, _, classifier = self.classified(context, grey=False)
        return {
            "results": cc.stacked_mnist_modes(predicted),
            "protocol": self.protocol(
                context,
                classifier,
                mode="digits of the R, G, B channels, each classified apart: 100*r + 10*g + b",
                covered="at least one sample",
                kl="KL(generated mode histogram || uniform over 1,000), nats",
                reference="VEEGAN (Srivastava et al. 2017), PacGAN (Lin et al. 2018)",
            ),
        }


@hookimpl
def ganzoo_register_metrics(register):
    register(
        "mode-coverage",
        ModeCoverage,
        description="modes covered, % high quality, reverse KL (2,500 samples)",
        paper="Srivastava et al. 2017; Lin et al. 2018",
    )
    register(
        "fid", FID, description="Frechet distance of extractor features (torch-fidelity)", paper="Heusel et al. 2017"
    )
    register(
        "kid",
        KID,
        description="kernel (MMD) distance of extractor features (torch-fidelity)",
        paper="Binkowski et al. 2018",
    )
    register(
        "precision-recall",
        PrecisionRecall,
        description="k-NN precision and recall of features, k = 3",
        paper="Kynkaanniemi et al. 2019",
    )
    register(
        "inception-score",
        InceptionScore,
        description="exp E KL(p(y|x) || p(y)) of the extractor's classes",
        paper="Salimans et al. 2016",
    )
    register(
        "fd-dinov2",
        FDDinov2,
        description="Frechet distance of DINOv2 ViT-L/14 features (torch-fidelity)",
        paper="Stein et al. 2023",
    )
    register(
        "density-coverage",
        DensityCoverage,
        description="k-NN density and coverage of features, k = 5",
        paper="Naeem et al. 2020",
    )
    register("class-coverage", ClassCoverage, description="classes covered and their KL, by the digit classifier")
    register(
        "stacked-mnist-modes",
        StackedMNISTModes,
        description="Stacked MNIST modes of 1,000 and their KL",
        paper="Srivastava et al. 2017; Lin et al. 2018",
    )
