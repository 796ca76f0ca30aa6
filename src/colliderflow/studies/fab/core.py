"""FAB: flow annealed importance sampling bootstrap on a differentiable matrix
element (Kofler, Stimper, Mikhasenko, Kagan, Heinrich; PAPERS.md item 17).

Target: the Dalitz plot of D0 -> K- pi+ pi0 with three interfering vector
resonances (rho+(770) in pi+pi0, K*-(892) in K-pi0, K*0bar(892) in K-pi+),
relativistic Breit-Wigners with Zemach spin factors, complex couplings and a
non-resonant term. ``|A|^2`` is a torch function of the invariant masses
squared (zero outside the kinematic boundary); the unit square (u, v) maps
onto the Dalitz region (s12 linear in u, s23 linear in v between the
boundaries at that s12), and the flows live on R^2 through the normal CDF u = Phi(x),
so their support and the target's coincide.

Four ways of learning a sampler, compared at equal numbers of target
evaluations (every point at which |A|^2 is computed, gradients included):

- FAB: annealed importance sampling (AIS) from the flow q towards p^2/q (the
  alpha=2 divergence optimum) with HMC transitions (colliderflow.nn.hmc),
  a prioritised replay buffer (sampling probability proportional to the AIS
  weight; weights re-adjusted by q_old/q_new after each update),
- reverse KL: E_q[log q - log p] with reparameterised flow samples,
- forward KL: maximum likelihood on exact target samples drawn by
  accept-reject (every proposal and the envelope scan are counted),
- VEGAS (vegas 6.4.1): the adaptive map trained on the unit square; its map
  is the importance sampler.

Figures of merit from importance weights w = p/q of fresh samples:
sampling efficiency ESS/N = (sum w)^2 / (N sum w^2); unweighting efficiency
mean(w) / Q_q(w) with Q_q the ``unweight_quantile`` quantile of w (the
maximum with the top 1 - q fraction of weights clipped); integral estimate
mean(w) +- std(w)/sqrt(N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ... import health
from ...nn import hmc
from ...nn.flows import StandardizedFlow
from ...nn.train import seed_everything
from . import Config

METHODS = ("fab", "reverse_kl", "forward_kl", "vegas")
LABELS = {"fab": "FAB (alpha=2, buffer)", "reverse_kl": "reverse KL", "forward_kl": "forward KL (exact samples)",
          "vegas": "VEGAS"}

# D0 -> K-(1) pi+(2) pi0(3), GeV
M_D, M1, M2, M3 = 1.86484, 0.493677, 0.13957, 0.134977
# (name, channel (i, j), mass, width, |c|, arg c [deg])
RESONANCES = (
    ("rho(770)+", (2, 3), 0.77526, 0.1491, 1.0, 0.0),
    ("K*(892)-", (1, 3), 0.89166, 0.0508, 1.2, 163.0),
    ("K*(892)0bar", (1, 2), 0.89555, 0.0473, 1.0, -2.0),
)
NONRESONANT = (0.15, 31.0)


# ------------------------------------------------------------------ target
def dalitz_limits(s12: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(s23_min, s23_max) at ``s12`` (PDG kinematics, 1-2 rest frame); NaN outside the s12 range."""
    m12 = torch.sqrt(s12)
    e2 = (s12 - M1**2 + M2**2) / (2 * m12)
    e3 = (M_D**2 - s12 - M3**2) / (2 * m12)
    p2 = torch.sqrt(e2**2 - M2**2)
    p3 = torch.sqrt(e3**2 - M3**2)
    return (e2 + e3) ** 2 - (p2 + p3) ** 2, (e2 + e3) ** 2 - (p2 - p3) ** 2


S12_MIN, S12_MAX = (M1 + M2) ** 2, (M_D - M3) ** 2
S_SUM = M_D**2 + M1**2 + M2**2 + M3**2


def inside(s12: torch.Tensor, s23: torch.Tensor) -> torch.Tensor:
    """Boolean mask of points inside the kinematic boundary."""
    s12 = torch.as_tensor(s12, dtype=torch.float64)
    s23 = torch.as_tensor(s23, dtype=torch.float64)
    ok = (s12 > S12_MIN) & (s12 < S12_MAX)
    lo, hi = dalitz_limits(s12.clamp(S12_MIN * (1 + 1e-12), S12_MAX * (1 - 1e-12)))
    return ok & (s23 > lo) & (s23 < hi)


def _masses(channel: tuple[int, int]) -> tuple[float, float, float]:
    m = {1: M1, 2: M2, 3: M3}
    (i, j), k = channel, 6 - sum(channel)
    return m[i], m[j], m[k]


def amplitude(s12: torch.Tensor, s23: torch.Tensor) -> torch.Tensor:
    """Complex amplitude: non-resonant + sum_r c_r Z_r BW_r, float64/complex128."""
    s12 = torch.as_tensor(s12, dtype=torch.float64)
    s23 = torch.as_tensor(s23, dtype=torch.float64)
    s13 = S_SUM - s12 - s23
    s = {(1, 2): s12, (2, 3): s23, (1, 3): s13}
    a = torch.polar(torch.full_like(s12, NONRESONANT[0]), torch.full_like(s12, math.radians(NONRESONANT[1])))
    for _, ch, m0, g0, mag, phase in RESONANCES:
        mi, mj, mk = _masses(ch)
        i, j = ch
        k = 6 - i - j
        s_ik = s[tuple(sorted((i, k)))]
        s_jk = s[tuple(sorted((j, k)))]
        # Zemach tensor of a vector resonance in (ij) with spectator k
        zemach = s_jk - s_ik + (M_D**2 - mk**2) * (mi**2 - mj**2) / s[ch]
        bw = 1.0 / torch.complex(m0**2 - s[ch], -m0 * g0 * torch.ones_like(s12))
        c = mag * complex(math.cos(math.radians(phase)), math.sin(math.radians(phase)))
        a = a + c * zemach * bw * (m0 * g0)  # m0*g0 makes each peak O(|c|)
    return a


def density(s12: torch.Tensor | np.ndarray, s23: torch.Tensor | np.ndarray) -> torch.Tensor:
    """|A|^2 in the Dalitz plane, exactly zero outside the kinematic boundary (float64)."""
    s12 = torch.as_tensor(s12, dtype=torch.float64)
    s23 = torch.as_tensor(s23, dtype=torch.float64)
    ins = inside(s12, s23)
    val = amplitude(torch.where(ins, s12, torch.full_like(s12, 1.0)),
                    torch.where(ins, s23, torch.full_like(s23, 1.0))).abs() ** 2
    return torch.where(ins, val, torch.zeros_like(val))


def unit_to_dalitz(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Map (n, 2) points of the unit square to (s12, s23, jacobian d(s12,s23)/d(u,v))."""
    u = torch.as_tensor(u, dtype=torch.float64)
    s12 = S12_MIN + u[:, 0] * (S12_MAX - S12_MIN)
    lo, hi = dalitz_limits(s12.clamp(S12_MIN * (1 + 1e-12), S12_MAX * (1 - 1e-12)))
    return s12, lo + u[:, 1] * (hi - lo), (S12_MAX - S12_MIN) * (hi - lo)


def dalitz_to_unit(s12: torch.Tensor | np.ndarray, s23: torch.Tensor | np.ndarray) -> torch.Tensor:
    s12 = torch.as_tensor(s12, dtype=torch.float64)
    s23 = torch.as_tensor(s23, dtype=torch.float64)
    lo, hi = dalitz_limits(s12)
    return torch.stack([(s12 - S12_MIN) / (S12_MAX - S12_MIN), (s23 - lo) / (hi - lo)], 1)


def density_unit(u: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Target on the unit square: |A|^2 times the Jacobian; zero outside [0, 1]^2 (float64).
    Its integral over the square is the phase-space integral of |A|^2 in (s12, s23)."""
    u = torch.as_tensor(u, dtype=torch.float64)
    ins = ((u > 0) & (u < 1)).all(1)
    uc = torch.where(ins[:, None], u, torch.full_like(u, 0.5))
    s12, s23, jac = unit_to_dalitz(uc)
    return torch.where(ins, density(s12, s23) * jac, torch.zeros_like(jac))


def to_unit(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """R^2 -> unit square, u = Phi(x) (normal CDF): a flat density in u is a standard normal in x."""
    return torch.special.ndtr(torch.as_tensor(x, dtype=torch.float64)).clamp(1e-300, 1 - 1e-16)


def from_unit(u: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.special.ndtri(torch.as_tensor(u, dtype=torch.float64).clamp(1e-300, 1 - 1e-16))


def log_density_latent(x: torch.Tensor) -> torch.Tensor:
    """log target on R^2 where the flows live: density_unit(Phi(x)) |dPhi/dx|. Gaussian tails, so a
    zuko flow (Gaussian base, identity outside the spline box) can cover all of the phase space."""
    x64 = x.to(torch.float64)
    log_jac = (-0.5 * x64**2 - 0.5 * math.log(2 * math.pi)).sum(1)
    return (torch.log(density_unit(to_unit(x64))) + log_jac).to(x.dtype)


class CountingTarget:
    """``log_density_latent`` that counts the points it is evaluated at."""

    def __init__(self) -> None:
        self.n_evals = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.n_evals += len(x)
        return log_density_latent(x)

    def unit(self, u: torch.Tensor | np.ndarray) -> torch.Tensor:
        self.n_evals += len(u)
        return density_unit(u)


# ------------------------------------------------------------- figures of merit
def weight_metrics(log_w: np.ndarray, quantile: float) -> dict:
    """ESS/N, unweighting efficiency mean(w)/Q_quantile(w), integral and its error from log weights."""
    log_w = np.asarray(log_w, dtype=np.float64)
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    n = len(log_w)
    shift = np.max(log_w)
    w = np.exp(log_w - shift)
    ess = float(w.sum() ** 2 / (n * (w**2).sum()))
    unw = float(w.mean() / np.quantile(w, quantile))
    integral = float(w.mean() * math.exp(shift))
    err = float(w.std(ddof=1) * math.exp(shift) / math.sqrt(n))
    return {"ess_per_n": ess, "unweighting_eff": min(unw, 1.0), "integral": integral, "integral_err": err}


@dataclass
class Curve:
    evals: list
    metrics: list

    def add(self, n: float, m: dict) -> None:
        self.evals.append(int(n))
        self.metrics.append(m)

    def as_dict(self) -> dict:
        out = {"evals": self.evals}
        for k in ("ess_per_n", "unweighting_eff", "integral", "integral_err"):
            out[k] = [m[k] for m in self.metrics]
        return out


def _flow(cfg: Config, seed: int) -> StandardizedFlow:
    """A fresh flow, initialised on the CPU (the same weights on every device), then moved to the
    selected device (:func:`colliderflow.nn.device.select`), where it trains; the trainers hand it back
    on the CPU."""
    from ...nn.device import select

    torch.manual_seed(seed)
    f = cfg.flow
    return StandardizedFlow(2, kind="nsf", transforms=f.transforms, hidden=tuple(f.hidden), bins=f.bins).to(select())


def _device(flow: StandardizedFlow) -> torch.device:
    return flow.x_mean.device


def _generator(seed: int, dev: torch.device) -> torch.Generator:
    """A seeded generator on ``dev``: the draws stay where the flow trains."""
    return torch.Generator(device=dev).manual_seed(seed)


def evaluate_flow(flow: StandardizedFlow, n: int, quantile: float) -> dict:
    with torch.no_grad():
        x = flow.sample(n)
        lq = flow.log_prob(x)
        lp = log_density_latent(x.double())
    return weight_metrics((lp - lq.double()).cpu().numpy(), quantile)


def checkpoints(cfg: Config) -> np.ndarray:
    return np.geomspace(cfg.budget / cfg.budget_range, cfg.budget, cfg.checkpoints)


#: 1 - ESS/N is estimated from n_eval fresh samples at each checkpoint: a flow that never moves
#: shows differences of ~0.002 (best of 3 checkpoints, 4000 samples); a trained one gains > 0.05
HEALTH_MIN_IMPROVEMENT = 0.02


class _Tracker:
    """Evaluates the flow each time the target-evaluation count passes a checkpoint."""

    def __init__(self, cfg: Config, target: CountingTarget) -> None:
        self.todo = list(checkpoints(cfg))
        self.curve = Curve([], [])
        self.cfg, self.target = cfg, target
        self.initial: float = float("nan")
        self.steps = 0
        self.device = torch.device("cpu")

    def start(self, flow: StandardizedFlow) -> None:
        """1 - ESS/N of the untrained flow (its own torch stream: training draws as before)."""
        self.device = _device(flow)
        dev = _device(flow)
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            flow.eval()
            self.initial = 1.0 - evaluate_flow(flow, self.cfg.n_eval, self.cfg.unweight_quantile)["ess_per_n"]
            flow.train()

    def health(self) -> dict:
        """Training health in the loss 1 - ESS/N of flow samples (fab has no validation set)."""
        loss = [1.0 - m["ess_per_n"] for m in self.curve.metrics] or [self.initial]
        return {**health.record(self.initial, min(loss), loss[-1], self.steps, HEALTH_MIN_IMPROVEMENT,
                                criterion=f"1 - ESS/N of flow samples falls by >= {HEALTH_MIN_IMPROVEMENT:g} "
                                          "from the untrained flow's"), "device": str(self.device)}

    def done(self) -> bool:
        return not self.todo

    def __call__(self, flow: StandardizedFlow) -> None:
        if self.todo and self.target.n_evals >= self.todo[0]:
            while self.todo and self.target.n_evals >= self.todo[0]:
                self.todo.pop(0)
            flow.eval()
            self.curve.add(self.target.n_evals, evaluate_flow(flow, self.cfg.n_eval, self.cfg.unweight_quantile))
            flow.train()


# ------------------------------------------------------------------ trainers
def train_reverse_kl(cfg: Config, seed: int) -> tuple[Curve, StandardizedFlow]:
    target = CountingTarget()
    flow = _flow(cfg, seed)
    opt = torch.optim.Adam(flow.parameters(), lr=cfg.flow.lr)
    track = _Tracker(cfg, target)
    track.start(flow)
    while not track.done():
        x, lq = flow.rsample_and_log_prob(cfg.batch_size)
        lp = target(x)
        ok = torch.isfinite(lp)
        loss = (lq[ok] - lp[ok]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
        opt.step()
        track.steps += 1
        track(flow)
    health.add("reverse_kl", track.health())
    return track.curve, flow.cpu()


def envelope(target: CountingTarget, grid: int, safety: float) -> float:
    """Accept-reject envelope: ``safety`` times the maximum of the target on a grid (evaluations counted)."""
    g = (torch.arange(grid, dtype=torch.float64) + 0.5) / grid
    uu = torch.cartesian_prod(g, g)
    return float(target.unit(uu).max()) * safety


def exact_samples(target: CountingTarget, n: int, m_env: float, gen: torch.Generator,
                  chunk: int = 4096) -> tuple[torch.Tensor, int]:
    """``n`` exact target samples on the unit square by accept-reject; returns (u, envelope violations)."""
    out, viol, have = [], 0, 0
    while have < n:
        u = torch.rand((chunk, 2), generator=gen, dtype=torch.float64)
        p = target.unit(u)
        viol += int((p > m_env).sum())
        keep = torch.rand(chunk, generator=gen, dtype=torch.float64) * m_env < p
        out.append(u[keep])
        have += int(keep.sum())
    return torch.cat(out)[:n], viol


def train_forward_kl(cfg: Config, seed: int) -> tuple[Curve, StandardizedFlow, dict]:
    target = CountingTarget()
    gen = torch.Generator().manual_seed(seed + 1)  # exact samples and batches drawn on the CPU (float64 target)
    flow = _flow(cfg, seed)
    dev = _device(flow)
    opt = torch.optim.Adam(flow.parameters(), lr=cfg.flow.lr)
    m_env = envelope(target, cfg.forward_kl.envelope_grid, cfg.forward_kl.envelope_safety)
    track = _Tracker(cfg, target)
    track.start(flow)
    data, viol, proposals0 = [], 0, target.n_evals
    while not track.done():
        u, v = exact_samples(target, cfg.fab.ais_batch, m_env, gen, chunk=cfg.fab.ais_batch * 4)
        viol += v
        data.append(from_unit(u).float().to(dev))  # the pool resident on the device
        pool = torch.cat(data)
        for _ in range(cfg.fab.updates_per_batch):
            idx = torch.randint(len(pool), (cfg.batch_size,), generator=gen).to(dev)
            loss = -flow.log_prob(pool[idx]).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
            opt.step()
            track.steps += 1
        track(flow)
    health.add("forward_kl", track.health())
    flow.cpu()
    n_exact = sum(len(d) for d in data)
    info = {"n_exact_samples": n_exact, "acceptance": n_exact / max(target.n_evals - proposals0, 1),
            "envelope_violations": viol, "envelope": m_env}
    return track.curve, flow, info


def ais(flow: StandardizedFlow, target: CountingTarget, x: torch.Tensor, log_q: torch.Tensor, log_p: torch.Tensor,
        betas: np.ndarray, step: torch.Tensor, n_leapfrog: int, gen: torch.Generator) -> tuple[torch.Tensor,
        torch.Tensor, np.ndarray]:
    """Annealed importance sampling from q to p^2/q with one HMC transition per
    intermediate density pi_b = q^(1-2b) p^(2b). Returns (x, log_w, mean acceptance per transition)."""
    log_w = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    acc = []
    for j in range(1, len(betas)):
        b, b0 = float(betas[j]), float(betas[j - 1])
        log_w = log_w + (b - b0) * 2.0 * (log_p.double() - log_q.double())

        def log_pi(y: torch.Tensor, b: float = b) -> torch.Tensor:
            return (1 - 2 * b) * flow.log_prob(y) + 2 * b * target(y)

        x, lpi, _, p_acc = hmc.hmc_step(log_pi, x, step[j - 1], n_leapfrog, gen)
        acc.append(p_acc.mean())
        with torch.no_grad():
            log_q = flow.log_prob(x)
        log_p = (lpi - (1 - 2 * b) * log_q) / (2 * b)  # the target at x, from the cached pi value
    return x, log_w, torch.stack(acc).double().cpu().numpy()  # one host sync per AIS batch


def train_fab(cfg: Config, seed: int) -> tuple[Curve, StandardizedFlow, dict]:
    fc = cfg.fab
    target = CountingTarget()
    flow = _flow(cfg, seed)
    dev = _device(flow)
    gen = _generator(seed + 2, dev)
    opt = torch.optim.Adam(flow.parameters(), lr=cfg.flow.lr)
    betas = np.linspace(0.0, 1.0, fc.n_intermediate + 1)
    step = np.full(fc.n_intermediate, fc.step_size)
    buf_x = torch.empty((0, 2), device=dev)  # the replay buffer resident on the device
    buf_lw = torch.empty(0, dtype=torch.float64, device=dev)
    buf_lq = torch.empty(0, device=dev)
    track = _Tracker(cfg, target)
    track.start(flow)
    accs = []
    while not track.done():
        with torch.no_grad():
            x0 = flow.sample(fc.ais_batch)
            lq0 = flow.log_prob(x0)
        lp0 = target(x0)
        x, lw, acc = ais(flow, target, x0, lq0, lp0, betas, torch.as_tensor(step, device=dev), fc.n_leapfrog, gen)
        accs.append(acc)
        step = np.clip(step * np.exp(0.5 * (acc - fc.target_accept)), 1e-3, 2.0)
        ok = torch.isfinite(lw)
        with torch.no_grad():
            lq = flow.log_prob(x[ok])
        buf_x = torch.cat([buf_x, x[ok].detach()])[-fc.buffer_size:]
        buf_lw = torch.cat([buf_lw, lw[ok]])[-fc.buffer_size:]
        buf_lq = torch.cat([buf_lq, lq])[-fc.buffer_size:]
        if len(buf_x) >= fc.min_buffer:
            for _ in range(fc.updates_per_batch):
                prob = torch.softmax(buf_lw - buf_lw.max(), 0)
                idx = torch.multinomial(prob, min(cfg.batch_size, len(prob)), replacement=False, generator=gen)
                lq_new = flow.log_prob(buf_x[idx])
                loss = -lq_new.mean()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
                opt.step()
                track.steps += 1
                # w ~ p^2/q: re-weight the sampled points for the updated flow
                with torch.no_grad():
                    lq_up = flow.log_prob(buf_x[idx])
                adjust = (buf_lq[idx] - lq_up).double().clamp(max=fc.max_log_w_adjust)
                buf_lw[idx] = buf_lw[idx] + adjust
                buf_lq[idx] = lq_up
        track(flow)
    health.add("fab", track.health())
    flow.cpu()
    info = {"hmc_accept": np.mean(accs, 0).tolist(), "step_size": step.tolist(), "n_intermediate": fc.n_intermediate,
            "untrained_ess_per_n": 1.0 - track.initial}
    return track.curve, flow, info


def train_vegas(cfg: Config, seed: int) -> tuple[Curve, object, dict]:
    import gvar
    import vegas

    target = CountingTarget()

    @vegas.lbatchintegrand
    def f(u: np.ndarray) -> np.ndarray:
        return target.unit(torch.from_numpy(np.ascontiguousarray(u))).numpy()

    gvar.ranseed(seed)  # vegas draws from gvar.RNG (its own numpy Generator, seeded from entropy), not np.random
    integ = vegas.Integrator([[0.0, 1.0], [0.0, 1.0]])
    todo = list(checkpoints(cfg))
    curve = Curve([], [])
    rng = np.random.default_rng(seed + 3)
    while todo:
        integ(f, nitn=1, neval=cfg.vegas.neval_per_iteration, alpha=cfg.vegas.alpha)
        if target.n_evals >= todo[0]:
            while todo and target.n_evals >= todo[0]:
                todo.pop(0)
            curve.add(target.n_evals, evaluate_vegas(integ, cfg.n_eval, cfg.unweight_quantile, rng))
    return curve, integ, {}


def vegas_sample(integ: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of the unit square from the VEGAS map and their Jacobians (the map's 1/q)."""
    y = rng.uniform(size=(n, 2))
    x = np.empty_like(y)
    jac = np.empty(n)
    integ.map.map(y, x, jac)
    return x, jac


def evaluate_vegas(integ: Any, n: int, quantile: float, rng: np.random.Generator) -> dict:
    x, jac = vegas_sample(integ, n, rng)
    p = density_unit(torch.from_numpy(x)).numpy()
    with np.errstate(divide="ignore"):
        return weight_metrics(np.log(p) + np.log(jac), quantile)


# ------------------------------------------------------------------ study
def at_evals(curve: dict, key: str, n: float) -> float:
    """``key`` of a curve interpolated (in log evaluations) at ``n`` target evaluations."""
    return float(np.interp(np.log(n), np.log(curve["evals"]), curve[key]))


def run_study(cfg: Config, seed: int, samples: bool = True) -> dict:
    """Train the four samplers with one seed; returns curves, per-method extras and (``samples``) the
    flows' samples for the figures."""
    seed_everything(seed)
    out = {"curves": {}, "info": {}}
    c, flow_fab, out["info"]["fab"] = train_fab(cfg, seed)
    out["curves"]["fab"] = c.as_dict()
    c, flow_rkl = train_reverse_kl(cfg, seed)
    out["curves"]["reverse_kl"] = c.as_dict()
    c, _, out["info"]["forward_kl"] = train_forward_kl(cfg, seed)
    out["curves"]["forward_kl"] = c.as_dict()
    c, integ, _ = train_vegas(cfg, seed)
    out["curves"]["vegas"] = c.as_dict()
    out["integ"] = integ
    if samples:
        with torch.no_grad():
            out["samples"] = {"fab": to_unit(flow_fab.sample(cfg.n_plot)).numpy(),
                              "reverse_kl": to_unit(flow_rkl.sample(cfg.n_plot)).numpy()}
    return out


def run_seeds(cfg: Config, seed: int) -> dict:
    """The four samplers for ``cfg.seeds`` paired seeds (seed, seed + 1, ...); the reference integral (a long
    VEGAS run after the first seed's training, not counted) and exact target samples for the plot."""
    import vegas

    runs = [run_study(cfg, seed + k, samples=k == 0) for k in range(cfg.seeds)]
    first = runs[0]
    ref = first["integ"](vegas.lbatchintegrand(
        lambda u: density_unit(torch.from_numpy(np.ascontiguousarray(u))).numpy()),
        nitn=cfg.vegas.reference_iterations, neval=cfg.vegas.neval_per_iteration * 4)
    tgt = CountingTarget()
    gen = torch.Generator().manual_seed(seed + 4)
    u, _ = exact_samples(tgt, cfg.n_plot, envelope(tgt, 100, 1.5), gen)
    return {"curves": first["curves"], "seed_curves": [r["curves"] for r in runs],
            "info": [r["info"] for r in runs], "seeds": [seed + k for k in range(cfg.seeds)],
            "reference": {"integral": float(ref.mean), "integral_err": float(ref.sdev)},
            "samples": {"target": u.numpy(), **first["samples"]}}


def equal_evals(curves: dict) -> float:
    """The largest number of target evaluations every method reached."""
    return float(min(curves[m]["evals"][-1] for m in METHODS))


def summarise(res: dict, cfg: Config) -> dict:
    """Per seed and method at equal target evaluations (the largest budget every method reached): ESS/N,
    unweighting efficiency, and the integral's relative error |I - I_ref| / I_ref; the untrained flow's ESS/N
    (the null); the first seed's curves for the figure."""
    ref = res["reference"]
    per_seed = {m: {k: [] for k in ("ess_per_n", "unweighting_eff", "integral_rel_error")} for m in METHODS}
    per_seed["untrained_flow"] = {"ess_per_n": [i["fab"]["untrained_ess_per_n"] for i in res["info"]]}
    n_eq = []
    for curves in res["seed_curves"]:
        n = equal_evals(curves)
        n_eq.append(n)
        for m in METHODS:
            for k in ("ess_per_n", "unweighting_eff"):
                per_seed[m][k].append(at_evals(curves[m], k, n))
            integral = float(np.interp(np.log(n), np.log(curves[m]["evals"]), curves[m]["integral"]))
            per_seed[m]["integral_rel_error"].append(abs(integral - ref["integral"]) / ref["integral"])
    curves = res["curves"]
    pulls = {m: (curves[m]["integral"][-1] - ref["integral"])
             / math.hypot(curves[m]["integral_err"][-1], ref["integral_err"]) for m in METHODS}
    mean = {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in per_seed.items()}
    return {
        "seeds": res["seeds"],
        "equal_evals": n_eq,
        "per_seed": per_seed,
        "at_equal_evals": mean,
        "ess_margin": cfg.ess_margin,
        "curves": curves,
        "reference_integral": ref,
        "integral_pull_final": pulls,
        "info": res["info"],
        "unweighting_definition": f"mean(w) / quantile_{cfg.unweight_quantile}(w)",
        "sampling_efficiency_definition": "(sum w)^2 / (N sum w^2), N = n_eval fresh samples",
    }


# ------------------------------------------------------------------ figures
def plot_efficiency(res: dict, cfg: Config, path: str | Path, rlabel: str = "") -> list:
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, axes = plt.subplots(1, 3, figsize=(24, 7.5))
    colors = {"fab": "C3", "reverse_kl": "C0", "forward_kl": "C2", "vegas": "C1"}
    ref = res["reference"]
    for m in METHODS:
        c = res["curves"][m]
        axes[0].plot(c["evals"], c["ess_per_n"], "o-", color=colors[m], label=LABELS[m])
        axes[1].plot(c["evals"], c["unweighting_eff"], "o-", color=colors[m], label=LABELS[m])
        axes[2].errorbar(c["evals"], np.array(c["integral"]) / ref["integral"],
                         np.array(c["integral_err"]) / ref["integral"], fmt="o-", color=colors[m], label=LABELS[m],
                         capsize=3)
    axes[2].axhline(1.0, color="k", ls="--", lw=1)
    axes[2].set_ylim(0.8, 1.2)
    for ax, yl in zip(axes, ("sampling efficiency ESS/N",
                             f"unweighting efficiency\n(mean w / $Q_{{{cfg.unweight_quantile}}}$ w)",
                             "integral / reference")):
        ax.set_xscale("log")
        ax.set_xlabel("target evaluations")
        ax.set_ylabel(yl)
        plotting.label(ax)
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylim(0, 1.05)
    axes[0].legend(fontsize=15, loc="upper left", title=rlabel, title_fontsize=15)
    fig.tight_layout()
    return plotting.save(fig, path)


def plot_dalitz(res: dict, path: str | Path, rlabel: str = "") -> list:
    import hist
    import matplotlib.pyplot as plt
    import mplhep

    from ... import plotting

    plotting.style()
    keys = [("target", "target |A|$^2$ (accept-reject)"), ("fab", "FAB flow"), ("reverse_kl", "reverse-KL flow")]
    fig, axes = plt.subplots(1, 3, figsize=(27, 8))
    for ax, (k, title) in zip(axes, keys):
        s12, s23, _ = unit_to_dalitz(torch.from_numpy(res["samples"][k]))
        h = hist.Hist(hist.axis.Regular(60, 0.3, 3.0, label=r"$m^2(K^-\pi^+)$ [GeV$^2$]"),
                      hist.axis.Regular(60, 0.0, 2.2, label=r"$m^2(\pi^+\pi^0)$ [GeV$^2$]"))
        h.fill(s12.numpy(), s23.numpy())
        mplhep.hist2dplot(h, ax=ax, cbar=False, cmin=1)
        g = torch.linspace(S12_MIN * 1.0001, S12_MAX * 0.9999, 300, dtype=torch.float64)
        lo, hi = dalitz_limits(g)
        ax.plot(g.numpy(), lo.numpy(), "k-", lw=1)
        ax.plot(g.numpy(), hi.numpy(), "k-", lw=1)
        ax.text(0.97, 0.95, f"{title}\n{rlabel}", transform=ax.transAxes, ha="right", va="top", fontsize=18)
        plotting.label(ax)
    fig.tight_layout()
    return plotting.save(fig, path)


def report(cfg: Config, seed: int, outdir: str | Path, tier: str = "default") -> dict:
    """The whole study: train, curves.json, figures; returns the metrics (the step writes metrics.json)."""
    from ...io import write_json

    outdir = Path(outdir)
    res = run_seeds(cfg, seed)
    metrics = summarise(res, cfg)
    write_json(outdir / "curves.json", {"curves": res["seed_curves"], "seeds": res["seeds"],
                                        "reference": res["reference"]})
    rl = f"{tier} tier, {cfg.budget:.0e} evaluations, first of {cfg.seeds} seeds"
    plot_efficiency(res, cfg, outdir / "efficiency.png", rl)
    plot_dalitz(res, outdir / "dalitz.png", rl)
    return {**metrics, "reduced_vs_paper": cfg.reduced_vs_paper}
