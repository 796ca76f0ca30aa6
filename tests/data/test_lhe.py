"""The LHE reader (colliderflow.data.lhe, pylhe underneath) on a hand-written
event and on the real MG5 Z + 0/1/2-jet excerpt in ../shared/data (skipped
without it), the jet-radiation truth built from it, ELSA's truth drawn from it,
and bad input: one InputError naming the file and field."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from colliderflow.data import jet_radiation_toy as jrt
from colliderflow.data import lhe
from colliderflow.errors import InputError

Z_MLM = "lhe/pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz"

# one u g -> Z (-> e+ e-) u event: the parton at phi = 3 pi / 4, the lepton pair at -pi / 4 (back to back)
EVENT = """<LesHouchesEvents version="3.0">
<init>
2212 2212 6.5e3 6.5e3 0 0 0 0 3 1
1.0 0.1 1.0 1
</init>
<event>
 6 1 +1.0 91.0 0.0078 0.118
 2 -1 0 0 501 0 0 0 50 50 0 0 9
 21 -1 0 0 502 501 0 0 -40 40 0 0 9
 23 2 1 2 0 0 20 -20 10 94 91 0 9
 -11 1 3 3 0 0 10 -10 5 15 0 0 9
 11 1 3 3 0 0 10 -10 5 15 0 0 9
 2 1 1 2 502 0 -20 20 30 36.0555 0 0 9
</event>
</LesHouchesEvents>
"""


def test_reads_partons_relative_to_the_boson(tmp_path):
    f = tmp_path / "one.lhe"
    f.write_text(EVENT)
    ev = lhe.read_partons(f)
    assert ev["n_partons"].tolist() == [1] and ev["weights"].tolist() == [1.0]
    pt, eta, phi = ev["partons"][0, 0]
    assert pt == pytest.approx(math.hypot(20, 20)) and eta == pytest.approx(math.asinh(30 / pt))
    assert abs(phi) == pytest.approx(math.pi)  # recoils against the Z, whose phi is the reference
    assert ev["boson"][0, 1] == pytest.approx(-math.pi / 4)


@pytest.mark.parametrize("damage, field", [
    (lambda t: t.replace("-20 20 30 36.0555", "nan 20 30 36.0555"), "event 0: particle momentum"),
    (lambda t: t[:300], "events"),                      # truncated: pylhe's parse warning stops it
    (lambda t: "not an lhe file\n", "events"),
    (lambda t: t.replace("-20 20 30 36.0555", "0 0 30 30"), "event 0: parton pT"),
])
def test_bad_files_stop_with_one_line(tmp_path, damage, field):
    f = tmp_path / "bad.lhe"
    f.write_text(damage(EVENT))
    with pytest.raises(InputError) as e:
        lhe.read_partons(f)
    assert str(f) in str(e.value) and field in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError, match="not found"):
        lhe.read_partons(tmp_path / "missing.lhe")


@pytest.fixture(scope="module")
def z_mlm(shared_data):
    return shared_data / Z_MLM


def test_real_mg5_z_jets(z_mlm, tmp_path):
    ev = lhe.read_partons(z_mlm)
    # the excerpt's README: 10000 unweighted MG5 Z + 0/1/2-jet events
    assert np.bincount(ev["n_partons"]).tolist() == [5512, 2856, 1632]
    assert np.ptp(ev["weights"]) == 0
    n = ev["n_partons"]
    real = np.arange(4)[None, :] < n[:, None]
    assert ev["partons"][..., 0][real].min() > 5.0  # the run card's ptj = 5 GeV
    assert np.all(np.diff(ev["partons"][n == 2, :2, 0], axis=1) <= 0)  # pT-ordered
    # at LO, one parton recoils exactly against the lepton pair
    assert np.allclose(np.abs(ev["partons"][n == 1, 0, 2]), math.pi, atol=1e-6)
    # the jet-radiation truth: the toy's format, the measured ratio sigma(2)/sigma(1) as its truth
    out = tmp_path / "events.h5"
    jrt.from_lhe(z_mlm, out, pt_min=5.0, k=2)
    got = jrt.read_events(out, pt_min=5.0)
    assert got["attrs"]["ratio"] == pytest.approx(1632 / 2856) and got["attrs"]["source"].startswith("lhe:")
    assert np.array_equal(got["n_jets"], n)
    with pytest.raises(InputError, match="pt_min"):
        jrt.from_lhe(z_mlm, tmp_path / "no.h5", pt_min=8.0, k=2)
    assert not (tmp_path / "no.h5").exists()


def test_real_elsa_truth_is_drawn_without_replacement(z_mlm):
    from colliderflow.studies.elsa import Truth
    from colliderflow.studies.elsa import core as E
    from colliderflow.study import build_config

    from ..conftest import study_config

    cfg = build_config(E.Config, study_config("elsa"), "studies.elsa")
    cfg = dataclasses.replace(cfg, truth=Truth("lhe", str(z_mlm)), n_train=700, n_classifier=400, n_test=266)
    parts = E.truth_samples(cfg, 0)
    assert [len(p) for p in parts] == [700, 400, 266, 266]
    allx = np.concatenate(parts)
    assert len(np.unique(allx, axis=0)) == 1632  # disjoint: every 2-parton event once
    assert np.all(allx[:, 4] >= 0) and np.all(allx[:, 4] <= math.pi + 1e-6) and np.all(allx[:, 1] <= allx[:, 0])
    with pytest.raises(InputError, match="1632 events with 2 partons"):
        E.truth_samples(dataclasses.replace(cfg, n_test=300), 0)
