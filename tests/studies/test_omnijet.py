"""OmniJet-alpha (arXiv:2403.05618): VQ-VAE tokens, GPT-style generation, transfer to tagging."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from colliderflow.data import jet_constituents as jc
from colliderflow.errors import InputError
from colliderflow.studies import omnijet as oj
from colliderflow.studies.omnijet import backbone, data, publish, tokenizer, transfer
from colliderflow.study import run_job

from ..conftest import study_config


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("omnijet") / "jets.h5"
    jc.write_jets(p, jc.generate_toy(160, 32, seed=5, classes=("q", "g", "W", "t")), "toy")
    return p


# ------------------------------------------------------------------ tokenizer
def test_vq_codebook_round_trip():
    """Constituents drawn around 6 distinct points: a 6-code VQ-VAE gives each
    point its own code and decodes every code back onto its point."""
    rng = np.random.default_rng(0)
    centres = np.array([[np.log(200.0), 0.0, 0.0], [np.log(50.0), 0.1, -0.05], [np.log(10.0), -0.2, 0.1],
                        [np.log(3.0), 0.3, 0.3], [np.log(100.0), -0.1, -0.2], [np.log(1.5), 0.05, 0.35]])
    lab = rng.integers(0, 6, 3000)
    f = (centres[lab] + rng.normal(0, 0.003, (3000, 3))).astype(np.float32)
    torch.set_num_threads(1)
    model, hp, _ = tokenizer.train_tokenizer(f, codebook_size=6, latent_dim=2, hidden=32, beta=0.25, decay=0.9,
                                             epochs=25, batch_size=128, lr=5e-3, seed=0)
    tok = model.tokenize(centres.astype(np.float32))
    assert len(set(tok.tolist())) == 6, "each point has its own code"
    back = model.detokenize(tok)
    np.testing.assert_allclose(back, centres, atol=0.08 * np.abs(centres).max())
    # a code decodes to the same features however often it is looked up; tokens of decoded codes are stable
    assert np.array_equal(model.tokenize(back), tok)
    stats = tokenizer.codebook_stats(model.tokenize(f), 6)
    assert stats["codes_used"] == 6 and 5.0 < stats["perplexity"] <= 6.0


def test_tokenize_decode_keeps_padding_and_multiplicity(toy_file):
    jets = data.load_jets(toy_file, ["q", "g"], 16)
    model = tokenizer.make_vqvae(codebook_size=8, latent_dim=2, hidden=8)
    model.train()
    f, m = data.to_features(jets["constituents"])
    model(model.standardise(f[m]))  # initialises the codebook
    tok = tokenizer.tokenize_jets(model, jets["constituents"])
    assert tok.shape == jets["constituents"].shape[:2]
    np.testing.assert_array_equal(tok >= 0, jc.constituent_mask(jets["constituents"]))
    rec = tokenizer.decode_tokens(model, tok)
    np.testing.assert_array_equal(jc.constituent_mask(rec), tok >= 0)
    assert np.all(np.diff(rec[..., 0], axis=1) <= 0), "decoded constituents sorted by pT"
    back = data.to_constituents(*data.to_features(jets["constituents"]))
    np.testing.assert_allclose(back, jets["constituents"], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ sequences and generation
def test_sequences_start_stop_layout():
    tok = np.array([[3, 1, -1, -1], [0, 2, 2, 1], [-1, -1, -1, -1]])
    inp, mask, tgt = backbone.sequences(tok, n_codes=4)
    assert inp[:, 0].tolist() == [4, 4, 4], "start token first"
    assert inp[0].tolist() == [4, 3, 1, 5, 5] and mask[0].tolist() == [True, True, True, False, False]
    assert tgt[0].tolist() == [3, 1, 4, -100, -100], "stop (= n_codes) after the last token"
    assert tgt[1].tolist() == [0, 2, 2, 1, 4] and mask[1].all()
    assert tgt[2].tolist() == [4, -100, -100, -100, -100]
    with pytest.raises(InputError, match="tokens"):
        backbone.sequences(np.array([[1, -1, 2]]), 4)


class _Scripted(torch.nn.Module):
    """Stand-in next-token model: code (position mod n_codes) until ``stop_at``
    tokens, then the stop token (never, if stop_at is None)."""

    def __init__(self, n_codes=5, n_max=10, stop_at=None):
        super().__init__()
        self.n_codes, self.n_max, self.stop_at = n_codes, n_max, stop_at
        self.start, self.pad, self.stop = n_codes, n_codes + 1, n_codes

    def forward(self, tokens, mask):
        b, length = tokens.shape
        logits = torch.full((b, length, self.n_codes + 1), -1e9)
        n_done = length - 1
        k = self.stop if self.stop_at is not None and n_done >= self.stop_at else n_done % self.n_codes
        logits[:, -1, k] = 0.0
        return logits


def test_stop_token_ends_generation():
    out = backbone.generate(_Scripted(stop_at=3), 7, seed=0, batch_size=4)
    assert out.shape == (7, 10)
    np.testing.assert_array_equal(out[:, :3], np.tile([0, 1, 2], (7, 1)))
    assert np.all(out[:, 3:] == -1), "nothing after the stop token"
    full = backbone.generate(_Scripted(stop_at=None), 3, seed=0)
    assert np.all(full >= 0), "without a stop token generation ends at n_max"
    empty = backbone.generate(_Scripted(stop_at=0), 3, seed=0)
    assert np.all(empty == -1)


def test_gpt_learns_variable_multiplicity():
    """Sequences of 2..7 tokens (a staircase of codes): the trained backbone
    generates varying lengths and matches the multiplicity distribution better
    than the unigram baseline (W1, 50 % margin)."""
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(1)
    n_max, k = 8, 6
    mult = rng.integers(2, 8, 600)
    tok = np.full((600, n_max), -1)
    for i, m in enumerate(mult):
        tok[i, :m] = np.minimum(np.arange(m) + rng.integers(0, 2, m), k - 1)
    torch.set_num_threads(1)
    model, hp, _ = backbone.train_gpt(tok, k, dim=16, heads=2, layers=1, emb_dim=16, epochs=15, batch_size=64, lr=5e-3,
                                patience=15, seed=0)
    gen = backbone.generate(model, 400, seed=3)
    g_mult = (gen >= 0).sum(1)
    base = (backbone.unigram_baseline(tok, k, 400, seed=4, data_multiplicity=False) >= 0).sum(1)
    assert g_mult.std() > 1.0 and set(np.unique(g_mult)) >= {2, 4, 6}
    w_gen, w_base = wasserstein_distance(g_mult, mult), wasserstein_distance(base, mult)
    assert w_gen < 0.5 * w_base, (w_gen, w_base)
    # learned structure: a token never goes below its position's staircase step
    pos = np.broadcast_to(np.arange(n_max), gen.shape)
    ok = gen >= 0
    assert np.mean(gen[ok] >= np.minimum(pos[ok], k - 1)) > 0.9


def test_unigram_baseline_multiplicity():
    tok = np.full((1000, 200), -1)  # n_max far above the mean: the cap does not bias the mean
    tok[:, :5] = 1
    tok[:500, 5:10] = 2
    iid = backbone.unigram_baseline(tok, 3, 4000, seed=0, data_multiplicity=True)
    assert set(np.unique((iid >= 0).sum(1))) == {5, 10}
    uni = backbone.unigram_baseline(tok, 3, 4000, seed=0, data_multiplicity=False)
    m = (uni >= 0).sum(1)
    assert abs(m.mean() - 7.5) < 0.5 and m.std() > 3, "geometric with the data's mean"
    assert set(np.unique(uni[uni >= 0])) == {1, 2}


# ------------------------------------------------------------------ published models
def test_publish_tiny_models(toy_file, tmp_path):
    """Tokenizer -> backbone -> publish on a tiny toy: the three ONNX models
    reproduce torch in onnxruntime, the cards declare the inputs/outputs, the
    published token ids are the tokenizer's, and a different batch size (the
    batch axis is dynamic) gives torch's outputs."""
    import onnxruntime as ort

    torch.set_num_threads(1)
    tokenizer.run_tokenizer(toy_file, tmp_path / "tok/vqvae.pt", tmp_path / "tok/tokens.npz",
                            tmp_path / "tok/tokenizer.json", ["q", "g"], 16, 0.25, 16, 3, 16, 0.25, 0.9, 2, 128,
                            3e-3, 0)
    backbone.run_backbone(tmp_path / "tok/vqvae.pt", tmp_path / "tok/tokens.npz", tmp_path / "bb/gpt.pt",
                          tmp_path / "bb/samples.npz", tmp_path / "bb/generation.json", 16, 2, 1, 16, 1, 64, 3e-3, 1,
                          10, 1.0, 0)
    paths = (tmp_path / "tok/vqvae.pt", tmp_path / "tok/tokens.npz", tmp_path / "tok/tokenizer.json",
             tmp_path / "bb/gpt.pt", tmp_path / "bb/generation.json")
    rec = publish.publish(*paths, tmp_path / "pub", "jets.h5", "toy", n_val=40)
    assert set(rec) == {"tokenizer", "decoder", "backbone"}
    for name, r in rec.items():
        assert r["exported"] and r["passed"] and r["max_abs_diff"] < 1e-5, (name, r)
    cards = {n: json.loads((tmp_path / "pub" / n / "model_card.json").read_text()) for n in rec}
    assert set(cards["tokenizer"]["inputs"]) == {"features"}
    assert set(cards["tokenizer"]["outputs"]) == {"token", "latent", "reconstruction"}
    assert set(cards["decoder"]["inputs"]) == {"token"} and set(cards["decoder"]["outputs"]) == {"features"}
    assert set(cards["backbone"]["inputs"]) == {"tokens", "mask"} and set(cards["backbone"]["outputs"]) == {"logits"}
    assert cards["backbone"]["inputs"]["tokens"]["dtype"] == "int64"
    assert cards["backbone"]["training_data"]["classes"] == ["q", "g"]

    vq, gpt = tokenizer.load_tokenizer(paths[0]), backbone.load_gpt(paths[3])
    mods = publish.export_modules(vq, gpt)
    d = tokenizer.load_tokens(paths[1])
    f, m = data.to_features(d["constituents"][d["test"]])
    feats = f[m][:7]
    sess = {n: ort.InferenceSession(str(tmp_path / "pub" / n / "model.onnx"), providers=["CPUExecutionProvider"])
            for n in rec}
    tok, latent, rec_f = sess["tokenizer"].run(None, {"features": feats})
    np.testing.assert_array_equal(tok, vq.tokenize(feats))  # the published token ids are the tokenizer's
    with torch.no_grad():
        ref = [t.numpy() for t in mods["tokenizer"](torch.as_tensor(feats))]
    np.testing.assert_allclose(latent, ref[1], atol=1e-5)
    np.testing.assert_allclose(rec_f, vq.detokenize(tok), atol=1e-5)
    (dec,) = sess["decoder"].run(None, {"token": tok})
    np.testing.assert_allclose(dec, rec_f, atol=1e-5)
    inp, mask, _ = backbone.sequences(d["tokens"][d["test"]][:3], gpt.n_codes)
    (logits,) = sess["backbone"].run(None, {"tokens": inp, "mask": mask.astype(np.float32)})
    with torch.no_grad():
        ref = gpt(torch.as_tensor(inp), torch.as_tensor(mask)).numpy()
    assert logits.shape == (3, gpt.n_max + 1, gpt.n_codes + 1)
    np.testing.assert_allclose(logits[mask], ref[mask], atol=1e-5)
    with pytest.raises(InputError, match="n_val"):
        publish.publish(*paths, tmp_path / "pub0", "jets.h5", "toy", n_val=0)


# ------------------------------------------------------------------ bad config
def test_bad_config_is_input_error(toy_file, tmp_path, capfd):
    with pytest.raises(InputError, match="class_names"):
        data.load_jets(toy_file, ["q", "top"], 16)
    with pytest.raises(InputError, match="n_constituents"):
        data.load_jets(toy_file, ["q"], 64)
    with pytest.raises(InputError, match="heads"):
        backbone.train_gpt(np.zeros((4, 3), int), 2, dim=10, heads=4, layers=1, emb_dim=4, epochs=1, batch_size=2,
                           lr=1e-3, patience=1, seed=0)
    with pytest.raises(InputError, match="tag_classes"):
        transfer.run_transfer(tmp_path / "gpt.pt", tmp_path / "t.npz", tmp_path / "o.json", ["q", "Z"], ["q", "g"],
                        [10], [0], 8, 1e-3, 1e-3, 1, 1, 1, 10, 0)
    # the step, run as a rule runs it: exit status 2 and one line naming the field
    cfg = study_config("omnijet") | {"classes": ["q", "Zprime"]}
    out = {k: str(tmp_path / f) for k, f in (("model", "vqvae.pt"), ("hparams", "vqvae.json"), ("tokens", "tokens.npz"),
                                             ("stats", "tokenizer.json"))}
    job = {"step": "omnijet.tokenizer", "cfg": cfg, "seed": 0, "tier": "test",
           "input": {"all": [str(toy_file)], "named": {"jets": str(toy_file)}},
           "output": {"all": list(out.values()), "named": out}, "log": str(tmp_path / "tokenizer.log")}
    assert run_job(job) == 2
    err = capfd.readouterr().err
    assert "class_names" in err and "Zprime" in err


@pytest.mark.parametrize("where,value", [
    ("test_fraction", 1.5), ("tokenizer.decay", 1.5), ("temperature", 0.0), ("n_generate", 5),
    ("transfer.sizes", [5]), ("transfer.tag_classes", ["q"]), ("backbone.lr", -1.0),
])
def test_bad_single_values_fail_the_schema(where, value):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    cfg = study_config("omnijet")
    validate(study_config("omnijet"), str(oj.STUDY.schema))
    node = cfg
    *path, key = where.split(".")
    for k in path:
        node = node[k]
    node[key] = value
    with pytest.raises(WorkflowError):
        validate(cfg, str(oj.STUDY.schema))


# ------------------------------------------------------------------ smoke-tier outputs
def test_smoke_outputs(smoke_run):
    d = json.loads((smoke_run / "results/omnijet/metrics.json").read_text())
    assert d["study"] == "omnijet" and d["paper"] == "arXiv:2403.05618" and d["tier"] == "smoke"
    for f in ("generation.png", "generation.pdf", "transfer.png", "transfer.pdf"):
        assert (smoke_run / "results/omnijet" / f).stat().st_size > 1000
    m = d["metrics"]
    tok = m["tokenizer"]["test"]
    assert 0 < tok["usage_fraction"] <= 1 and tok["eta_std"] < tok["eta_spread"], "tokens resolve the angles"
    tr = m["transfer"]
    for mode in oj.MODES:
        accs = [a for v in tr["accuracy"][mode].values() for a in v]
        assert len(accs) == len(tr["sizes"]) * len(tr["seeds"]) and all(0 <= a <= 1 for a in accs)
    # holds follows the comparisons computed from the numbers written beside it
    assert d["holds"] == oj.verdict(m, None).holds
    assert [c["competitor"] for c in d["verdict"]["comparisons"]] == [c.competitor for c in oj.comparisons(m)]
    pub = m["published"]
    assert json.loads((smoke_run / "results/omnijet/published_check.json").read_text()) == pub
    for name in ("tokenizer", "decoder", "backbone"):
        assert pub[name]["exported"] and pub[name]["passed"] and pub[name]["max_abs_diff"] < 1e-5, (name, pub)
        for f in ("model.onnx", "model_card.json", "model_card.md", "validation.npz"):
            assert (smoke_run / "results/omnijet/published" / name / f).stat().st_size > 0


def test_smoke_generation_beats_trivial_baseline(smoke_run):
    """Physics: generated jets' multiplicity and mass are closer (W1) to the
    held-out jets than the unigram baseline's, by more than 3 (multiplicity)
    and 2 (mass) bootstrap standard deviations of the difference."""
    from scipy.stats import wasserstein_distance

    with np.load(smoke_run / "results/omnijet/backbone/samples.npz") as z:
        obs = {k: data.observables(z[k]) for k in ("real", "generated", "unigram")}
    gen = json.loads((smoke_run / "results/omnijet/backbone/generation.json").read_text())
    rng = np.random.default_rng(0)
    for o, k_sigma in (("multiplicity", 3.0), ("mass", 2.0)):
        w_g = wasserstein_distance(obs["generated"][o], obs["real"][o])
        w_b = wasserstein_distance(obs["unigram"][o], obs["real"][o])
        assert w_g == pytest.approx(gen["w1"]["generated"][o], rel=1e-6)
        diffs = []
        for _ in range(30):
            r, g, b = (rng.choice(obs[k][o], len(obs[k][o])) for k in ("real", "generated", "unigram"))
            diffs.append(wasserstein_distance(b, r) - wasserstein_distance(g, r))
        assert w_b - w_g > k_sigma * np.std(diffs), (o, w_g, w_b, np.std(diffs))


# ------------------------------------------------------------------ verdict power
def _samples(generated_classes, seed=0):
    """Held-out toy jets, their 'reconstruction' (pT smeared 3 %), i.i.d.-like nulls (one-prong jets only)
    and a generated sample drawn from ``generated_classes``."""
    classes = ("q", "g", "W", "t")
    real = jc.generate_toy(400, 32, seed=seed + 1, classes=classes)["constituents"]
    rec = real.copy()
    rec[..., 0] *= np.random.default_rng(seed).normal(1, 0.03, rec.shape[:2])
    return {"real": real, "reconstructed": rec,
            "generated": jc.generate_toy(400, 32, seed=seed + 2, classes=generated_classes)["constituents"],
            "unigram": jc.generate_toy(400, 32, seed=seed + 3, classes=("q",))["constituents"],
            "iid_data_multiplicity": jc.generate_toy(400, 32, seed=seed + 4, classes=("g",))["constituents"]}


def _metrics(samples, finetuned, scratch):
    from colliderflow.studies.omnijet.report import generation_test

    acc = {"finetuned": {"30": finetuned}, "scratch": {"30": scratch}, "frozen": {"30": scratch}}
    return {"generation_test": generation_test(samples, n_boot=60, seed=0),
            "transfer": {"sizes": [30], "accuracy": acc,
                         "mean": {k: {"30": float(np.mean(v["30"]))} for k, v in acc.items()}}}


def test_verdict_passes_a_good_generator_and_transfer():
    """A generator drawing from the held-out jets' own classes, fine-tuning 8 points above scratch on
    every seed: every required comparison holds."""
    v = oj.verdict(_metrics(_samples(("q", "g", "W", "t")), [0.80, 0.83, 0.78], [0.70, 0.74, 0.71]), None)
    assert v.holds, [c.as_json() for c in v.comparisons if not c.holds]


def test_verdict_rejects_the_iid_token_null_as_generator():
    """Power: the i.i.d.-token null itself (one-prong jets) as the 'generator' fails the null comparisons
    and the reconstruction-floor tolerance, whatever the transfer does."""
    v = oj.verdict(_metrics(_samples(("q",)), [0.80, 0.83, 0.78], [0.70, 0.74, 0.71]), None)
    assert not v.holds
    failed = {c.competitor for c in v.comparisons if not c.holds}
    assert "i.i.d. tokens (unigram model)" in failed
    assert "tokenizer reconstruction floor (held-out jets tokenized and decoded)" in failed


def test_verdict_rejects_a_transfer_gain_within_seed_noise():
    """The old rule (mean fine-tuned >= mean scratch, no tolerance) passed a +0.003 gain with seed noise of
    +-0.04; the paired 2-SE test does not, and neither does no pre-training at all (identical accuracies)."""
    good = _samples(("q", "g", "W", "t"))
    v = oj.verdict(_metrics(good, [0.74, 0.70, 0.79], [0.70, 0.78, 0.74]), None)
    assert not v.holds and [c for c in v.comparisons if c.competitor == "training from scratch"][0].holds is False
    v = oj.verdict(_metrics(good, [0.7, 0.74, 0.71], [0.7, 0.74, 0.71]), None)
    assert not v.holds


@pytest.mark.real
def test_real_toplandscape_tokenizes(shared_data, tmp_path):
    """The real tier's input (TopLandscape excerpt, ParT format) goes through the
    same reader and tokenizer; tokenized top jets stay heavier than QCD jets."""
    d = jc.read_part_excerpt(shared_data / "jets_part_samples" / "toplandscape", 32, class_names=("QCD", "t"))
    jc.write_jets(tmp_path / "jets.h5", d, "file")
    jets = data.load_jets(tmp_path / "jets.h5", ["QCD", "t"], 32)
    f, m = data.to_features(jets["constituents"])
    torch.set_num_threads(1)
    model, _, _ = tokenizer.train_tokenizer(f[m], 64, 3, 32, 0.25, 0.95, 3, 256, 3e-3, 0)
    tok = tokenizer.tokenize_jets(model, jets["constituents"])
    np.testing.assert_array_equal(tok >= 0, m)
    mass = jc.jet_observables(tokenizer.decode_tokens(model, tok))["mass"]
    lab = jets["labels"]
    assert np.median(mass[lab == 1]) > np.median(mass[lab == 0]) + 40
