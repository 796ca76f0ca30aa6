"""The shared verdict (colliderflow.verdict): comparisons that can fail."""

import json
import math

import numpy as np
import pytest

from colliderflow.metrics import summary_markdown
from colliderflow.study import Verdict
from colliderflow.verdict import Comparison, bootstrap_se, decide, mean_se

KM = {"name": "x", "value": 1.0}


def test_paired_superiority_needs_the_margin_in_standard_errors():
    # a consistent gain of ~0.1 over 5 paired seeds: 2 SE is far below it
    good = Comparison.paired("CATHODE", "max SIC", [1.10, 1.12, 1.08, 1.11, 1.09], [1.0] * 5,
                             reason="superiority at 2 SE")
    assert good.n == 5 and good.over == "paired seeds"
    assert good.effect == pytest.approx(0.1) and good.holds
    # the same mean gain inside the seed spread does not pass
    noisy = Comparison.paired("CATHODE", "max SIC", [1.5, 0.7, 1.3, 0.8, 1.2], [1.0] * 5, reason="2 SE")
    assert noisy.effect == pytest.approx(0.1) and not noisy.holds
    # the naive alternative equal to the competitor never passes a superiority test
    same = Comparison.paired("untransported", "AUC", [0.6, 0.7, 0.65], [0.6, 0.7, 0.65], reason="null")
    assert same.effect == 0 and not same.holds


def test_one_seed_concludes_nothing():
    c = Comparison.paired("scratch", "rejection", [5.0], [1.0], reason="2 SE")
    assert math.isinf(c.error) and not c.holds
    assert c.as_json()["error"] is None


def test_lower_is_better_and_noninferiority():
    # chi2 lower is better: method 1.0 vs competitor 1.5 is an effect of +0.5
    c = Comparison.paired("IBU", "chi2/ndf", [1.0, 1.1, 0.9], [1.5, 1.6, 1.4], higher_is_better=False, reason="x")
    assert c.effect == pytest.approx(0.5) and c.holds
    # non-inferiority: 0.01 worse within a 0.05 tolerance passes, 0.2 worse fails
    ok = Comparison.paired("float", "AUC", [0.89, 0.895, 0.885], [0.9, 0.905, 0.895], margin=-0.05, reason="tol")
    bad = Comparison.paired("float", "AUC", [0.7, 0.705, 0.695], [0.9, 0.905, 0.895], margin=-0.05, reason="tol")
    assert ok.holds and not bad.holds


def test_within_is_two_sided():
    close = Comparison.within("perfect template", "closure AUC", 0.505, 0.5, 0.005, tolerance=0.03, n=200,
                              over="bootstrap", reason="closure")
    far_low = Comparison.within("perfect template", "closure AUC", 0.45, 0.5, 0.005, tolerance=0.03, n=200,
                                over="bootstrap", reason="closure")
    wide = Comparison.within("perfect template", "closure AUC", 0.5, 0.5, 0.02, tolerance=0.03, n=200,
                             over="bootstrap", reason="closure")
    assert close.holds and not far_low.holds and not wide.holds


def test_a_margin_needs_its_reason_and_finite_numbers():
    with pytest.raises(ValueError, match="reason"):
        Comparison.paired("a", "b", [1, 2], [0, 1], reason="")
    with pytest.raises(ValueError, match="finite"):
        Comparison.paired("a", "b", [1, float("nan")], [0, 1], reason="r")
    with pytest.raises(ValueError, match="seeds"):
        Comparison.paired("a", "b", [1, 2, 3], [0, 1], reason="r")


def test_verdict_holds_is_the_conjunction_of_required_comparisons():
    yes = Comparison.paired("A", "s", [2, 2.1, 1.9], [1, 1, 1], reason="r")
    no = Comparison.paired("B", "s", [1, 1.1, 0.9], [1, 1, 1], reason="r")
    ctx_only = Comparison.paired("C", "s", [1, 1.1, 0.9], [1, 1, 1], reason="r", required=False)
    assert Verdict.of([yes, ctx_only], KM).holds
    assert not Verdict.of([yes, no], KM).holds
    assert not decide([ctx_only])  # nothing required: nothing shown
    with pytest.raises(ValueError, match="conjunction"):
        Verdict(holds=True, key_metric=KM, comparisons=(yes, no))


def test_bootstrap_se_matches_the_standard_error_of_a_mean():
    x = np.random.default_rng(1).normal(size=2000)
    se = bootstrap_se(np.mean, x, n=300, seed=2)
    assert se == pytest.approx(1 / math.sqrt(2000), rel=0.15)
    assert mean_se([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1 / math.sqrt(3)))


def test_summary_shows_effect_error_and_competitor():
    c = Comparison.paired("CATHODE", "max SIC", [3.0, 3.2, 2.8], [2.0, 2.1, 1.9], reason="r")
    v = Verdict.of([c], KM)
    doc = {"study": "s", "paper": "p", "title": "t", "key_metric": KM, "claim": "c", "holds": v.holds,
           "tier": "default", "metrics": {}, "verdict": json.loads(json.dumps(v.block("c", "holds")))}
    text = summary_markdown([doc])
    assert "vs CATHODE (max SIC): +1 +- 0.058, needs > 0 at 2 SE, 3 paired seeds: yes" in text
    doc_old = {**doc, "verdict": {"text": "holds", "claim": "c", "comparisons": []}}
    assert "(no comparison)" in summary_markdown([doc_old])
