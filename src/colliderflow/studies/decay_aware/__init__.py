"""Decay-aware multi-task event classification (arXiv:2212.08759): a set
encoder with an auxiliary same-parent head vs a BDT, an MLP and the same
network without the auxiliary loss, AUC vs training-set size."""

from __future__ import annotations

from dataclasses import dataclass

from ...eventclass import EncoderConfig
from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    encoder: EncoderConfig
    signal: str
    background: str
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    target_steps: int
    max_epochs: int
    aux_weight: float
    bdt_trees: int
    aux_margin: float


def comparisons(m: dict, cfg: Config) -> list:
    """The paper's claim as comparisons over the paired seeds (every model of
    a seed trains on the same balanced subset): at the smallest training size
    the multi-task network against the BDT on engineered features (the
    paper's headline competitor), the plain MLP, and the same set network
    without the auxiliary loss (the null control: does the decay structure
    help?); the auxiliary head must learn the pairing (balanced accuracy
    above chance by ``aux_margin``, error over seeds). At the largest size the
    BDT comparison is shown for context."""
    from ...verdict import Comparison, mean_se

    small, large = str(m["sizes"][0]), str(m["sizes"][-1])
    a = m["auc"]
    vals = lambda model, size: a[model][size]["values"]  # noqa: E731
    why = "superiority beyond 2 SE of the paired per-seed AUC differences (the paper: the multi-task net is best "
    out = [Comparison.paired("BDT (engineered features)", f"test AUC at N={small}", vals("multitask", small),
                             vals("bdt", small), k=2, reason=why + "at small training sets, the BDT its benchmark)"),
           Comparison.paired("plain MLP (flat objects)", f"test AUC at N={small}", vals("multitask", small),
                             vals("mlp", small), k=2, reason=why + "at small training sets)"),
           Comparison.paired("same set network, no auxiliary head", f"test AUC at N={small}",
                             vals("multitask", small), vals("set", small), k=2, null=True,
                             reason="null control: the gain must come from learning the decay structure, not "
                                    "from the set architecture")]
    bacc = m["aux_head"][large]["balanced_accuracy_values"]
    mean, se = mean_se(bacc)
    out.append(Comparison.estimate(f"chance + {cfg.aux_margin}", f"aux-head balanced pair accuracy at N={large}",
                                   mean, None, se, n=len(bacc), over="seeds", margin=0.5 + cfg.aux_margin, k=2,
                                   reason=f"the auxiliary head must learn which objects share a parent (aux_margin "
                                          f"{cfg.aux_margin} above the balanced chance 0.5)"))
    out.append(Comparison.paired("BDT (engineered features)", f"test AUC at N={large}", vals("multitask", large),
                                 vals("bdt", large), k=2, required=False,
                                 reason="context: the paper's advantage is claimed at small training sets"))
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    small = str(metrics["sizes"][0])
    a = metrics["auc"]
    return Verdict.of(comparisons(metrics, cfg),
                      key_metric={"name": f"multi-task minus BDT AUC at N={small}",
                                  "value": round(a["multitask"][small]["mean"] - a["bdt"][small]["mean"], 4)})


STUDY = Study(
    name="decay_aware",
    paper="arXiv:2212.08759",
    title="Decay-aware multi-task event classification",
    claim="an auxiliary head learning the decay structure (which objects share a parent) gives a "
          "classifier that outperforms a BDT and a plain MLP, most at small training sets",
    config=Config,
    steps=(Step("train", inputs=("toy",), outputs=("metrics", "png", "pdf", "model", "model_json"), env="torch",
                gpu=True, mem_mb=8000, runtime=120,
                doc="train BDT, MLP, set and multi-task nets per size and seed; plot, judge"),),
    figures=("auc_vs_size",),
    category="arXiv:2212.08759 decay-aware network",
    verdict=verdict,
)
