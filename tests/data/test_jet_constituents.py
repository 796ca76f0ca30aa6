"""The fine-grained jet-class toy and the shared jet-constituent format
(colliderflow.data.jet_constituents) used by the jet foundation-model studies."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.data import jet_constituents as jc
from colliderflow.errors import InputError


@pytest.fixture(scope="module")
def fine():
    return jc.generate_toy(2200, 64, seed=5, classes=jc.FINE_CLASSES)


def test_fine_classes_prong_structure(fine):
    c, lab = fine["constituents"], fine["labels"]
    obs = jc.jet_observables(c)
    med = {k: np.median(obs["mass"][lab == i]) for i, k in enumerate(fine["class_names"])}
    mult = {k: obs["multiplicity"][lab == i].mean() for i, k in enumerate(fine["class_names"])}
    # 2-prong resonances ordered by their mass, each within 30 % (+ radiation) of it
    assert med["X2p40"] < med["W"] < med["H"] < med["X2p300"]
    for name, m in (("H", 125.0), ("X2p300", 300.0)):
        assert 0.9 * m < med[name] < 1.3 * m, (name, med[name])
    # heavier, more-pronged jets are heavier and busier than light-quark jets
    assert med["X3p400"] > med["X2p300"] and med["X4p400"] > med["X2p300"]
    assert mult["X4p400"] > mult["t"] > mult["W"] > mult["q"]
    # jets carry their pT: summed constituent pT near the generated 1 TeV
    assert 850 < np.median(obs["pt"]) < 1100


def test_four_vectors_massless_and_masked(fine):
    c = fine["constituents"][:50]
    p4 = jc.four_vectors(c)
    m2 = p4[..., 0] ** 2 - (p4[..., 1:] ** 2).sum(-1)
    np.testing.assert_allclose(m2, 0.0, atol=1e-6 * p4[..., 0].max() ** 2)
    mask = jc.constituent_mask(c)
    assert np.all(p4[~mask] == 0) and np.all(p4[mask][:, 0] > 0)
    np.testing.assert_allclose(np.hypot(p4[..., 1], p4[..., 2]), c[..., 0], rtol=1e-5)


def test_mask_roundtrip_and_select_classes(tmp_path, fine):
    p = tmp_path / "jets.h5"
    jc.write_jets(p, fine, "toy")
    back = jc.read_jets(p)
    assert back["mask"].dtype == bool and np.array_equal(back["mask"], fine["constituents"][..., 0] > 0)
    sub = jc.select_classes(back, ["t", "q"])
    assert sub["class_names"] == ["t", "q"] and set(np.unique(sub["labels"])) == {0, 1}
    assert len(sub["labels"]) == 400 and sub["mask"].shape == (400, 64)
    t_orig = back["constituents"][back["labels"] == back["class_names"].index("t")]
    assert np.array_equal(sub["constituents"][sub["labels"] == 0], t_orig)
    with pytest.raises(InputError, match="class_names"):
        jc.select_classes(back, ["Hbb"])
    with pytest.raises(InputError, match="unknown toy class"):
        jc.generate_toy(20, 8, classes=("q", "Y"))


@pytest.mark.real
def test_jetclass_hbb_excerpt(shared_data):
    hbb = jc.read_part_excerpt(shared_data / "jets_part_samples" / "jetclass_hbb", 64, ("QCD", "H"))
    assert set(np.unique(hbb["labels"])) == {1}, "the excerpt is all JetClass H->bb"
    m = jc.jet_observables(hbb["constituents"])["mass"]
    assert 100 < np.median(m) < 140, "H->bb jets peak near the Higgs mass"
