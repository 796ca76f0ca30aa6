"""BitNet linear layers: binary (BitLinear, arXiv:2310.11453) and ternary
1.58-bit (BitNet b1.58, arXiv:2402.17764) weights, trained through a
straight-through estimator (STE) on latent full-precision weights.

Forward pass of :class:`BitLinear` (shapes: x (..., in), W (out, in))::

    x  -> LayerNorm(x) (no affine; ``norm=False`` skips it)
       -> absmax per token: x_q = clamp(round(x Q / g), -Q, Q - 1) g / Q,
          g = max |x| over the last axis, Q = 2^(act_bits - 1)
          (``act_bits=None`` keeps activations in float)
    W  -> binary:  W_q = beta  * sign(W - mean W),          beta  = mean |W|
          ternary: W_q = gamma * clamp(round(W / gamma), -1, 1), gamma = mean |W|
    y  =  x_q W_q^T + b        (bias kept in float)

Both quantisers use the STE ``q = w + (Q(w) - w).detach()``: the forward pass
sees the quantised value, the gradient reaches the latent float weight
unchanged. A masked layer (zuko's ``MaskedLinear``, autoregressive flows)
keeps its mask: masked entries are structural zeros, the scale is taken
over the unmasked entries. Per-token activation statistics would mix the
inputs an autoregressive mask keeps apart, so flows swap with ``norm=False,
act_bits=None`` (weight-only quantisation).

Mode ``"full"`` keeps float weights and activations behind the same
LayerNorm: the full-precision reference with the quantised network's
architecture. :func:`swap_linear` replaces the ``nn.Linear`` layers of a
model in place; :func:`freeze` gives the inference (export) copy with the
quantised weights as constants; :func:`weight_bits` counts the weight memory (float32 = 32
bits, binary = 1 bit, ternary = log2(3) = 1.58 bits per weight (5 weights
per byte, 1.6 bits, is the packing reached in practice), + one float32
scale per quantised layer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("binary", "ternary")
#: "full": float weights and activations behind the same LayerNorm, the
#: full-precision reference with the architecture of the quantised network
LAYER_MODES = ("full", *MODES)
#: bits per stored weight: information content of the allowed values
BITS_PER_WEIGHT = {"full": 32.0, "binary": 1.0, "ternary": math.log2(3.0)}
FLOAT_BITS = 32
EPS = 1e-8


def quantize_weight(w: torch.Tensor, mode: str, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(levels, scale)``: levels in {-1, +1} (binary) or {-1, 0, +1}
    (ternary), 0 where ``mask`` is False; the quantised weight is
    ``scale * levels``. No gradient flows through this function."""
    if mode not in MODES:
        raise ValueError(f"unknown quantisation mode '{mode}' (known {list(MODES)})")
    w = w.detach()
    m = torch.ones_like(w, dtype=torch.bool) if mask is None else mask.bool()
    n = m.sum().clamp(min=1)
    scale = ((w.abs() * m).sum() / n).clamp(min=EPS)
    if mode == "binary":
        alpha = (w * m).sum() / n
        levels = torch.where(w - alpha >= 0, 1.0, -1.0)
    else:
        levels = torch.clamp(torch.round(w / scale), -1.0, 1.0)
    return levels * m, scale


def absmax_quantize(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Absmax ``bits``-bit fake quantisation per token (last axis), no STE:
    ``clamp(round(x Q / g), -Q, Q - 1) g / Q``, g = max |x|, Q = 2^(bits - 1)."""
    q = 2 ** (bits - 1)
    g = x.abs().amax(dim=-1, keepdim=True).clamp(min=EPS)
    return torch.clamp(torch.round(x * q / g), -q, q - 1) * g / q


def quantize_activations(x: torch.Tensor, bits: int) -> torch.Tensor:
    """:func:`absmax_quantize` with STE (the gradient passes unchanged)."""
    return x + (absmax_quantize(x.detach(), bits) - x).detach()


class BitLinear(nn.Linear):
    """Drop-in ``nn.Linear`` with binary or ternary weights (see module doc).

    ``weight`` is the latent full-precision weight that the optimiser
    updates; :meth:`quantized` gives the (levels, scale) used in the forward
    pass. ``mask`` (out, in) bool, optional: fixed connectivity.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, mode: str = "ternary",
                 act_bits: int | None = 8, norm: bool = True, mask: torch.Tensor | None = None) -> None:
        super().__init__(in_features, out_features, bias)
        if mode not in LAYER_MODES:
            raise ValueError(f"unknown quantisation mode '{mode}' (known {list(LAYER_MODES)})")
        if act_bits is not None and not 2 <= int(act_bits) <= 16:
            raise ValueError(f"act_bits must be in 2..16 or None, got {act_bits}")
        self.mode, self.act_bits = mode, act_bits
        self.norm = nn.LayerNorm(in_features, elementwise_affine=False) if norm else nn.Identity()
        self.register_buffer("mask", None if mask is None else mask.bool().clone())

    def quantized(self) -> tuple[torch.Tensor, torch.Tensor]:
        return quantize_weight(self.weight, self.mode, self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.mode == "full":
            return F.linear(x, self.weight if self.mask is None else self.weight * self.mask, self.bias)
        if self.act_bits is not None:
            x = quantize_activations(x, int(self.act_bits))
        levels, scale = self.quantized()
        w = self.weight + (scale * levels - self.weight).detach()  # STE
        return F.linear(x, w, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}, act_bits={self.act_bits}, masked={self.mask is not None}"


class FrozenBitLinear(nn.Module):
    """Inference copy of a trained :class:`BitLinear` for export (ONNX): the
    weight is the quantised ``scale * levels`` itself (a buffer, so an exported
    graph stores only those values: {-s, 0, +s} per ternary layer, {-s, +s}
    binary), the LayerNorm and the absmax activation quantisation stay as
    run-time operations. Same outputs as the layer in eval mode up to float
    rounding (the STE adds ``w + (q - w)``)."""

    def __init__(self, layer: BitLinear) -> None:
        super().__init__()
        self.mode, self.act_bits = layer.mode, layer.act_bits
        self.norm = layer.norm
        with torch.no_grad():
            if layer.mode == "full":
                w, scale = layer.weight if layer.mask is None else layer.weight * layer.mask, torch.tensor(1.0)
            else:
                levels, scale = layer.quantized()
                w = scale * levels
        # stored as (in, out): x @ weight keeps the buffer as it is in the graph (no folded transpose)
        self.register_buffer("weight", w.detach().T.contiguous().clone())
        self.register_buffer("scale", scale.detach().clone().reshape(()))
        self.register_buffer("bias", None if layer.bias is None else layer.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.mode != "full" and self.act_bits is not None:
            x = absmax_quantize(x, int(self.act_bits))
        y = torch.matmul(x, self.weight)
        return y if self.bias is None else y + self.bias


def freeze(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with every :class:`BitLinear`
    replaced by its :class:`FrozenBitLinear` (the export form); the model
    itself is left as it is."""
    import copy

    frozen = copy.deepcopy(model).eval()
    for name, module in list(frozen.named_modules()):
        if isinstance(module, BitLinear):
            _replace(frozen, name, FrozenBitLinear(module))
    return frozen


@torch.no_grad()
def rounding_margin(model: nn.Module, *inputs, token_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per sample (first axis): how close the model's absmax activation
    quantisers come to a rounding tie, ``min | frac(|u|) - 1/2 | / max(|u|, 1)``
    over every quantised activation u (in quantisation steps) of every
    :class:`BitLinear` / :class:`FrozenBitLinear` with ``act_bits``; inf if
    there is none. Two float implementations (torch, onnxruntime) sum in a
    different order, so an activation within a few float32 ulps of a tie
    can round to the other level there. ``token_mask`` (batch, tokens):
    activations of masked tokens (batch, tokens, features) do not count."""
    found = []

    def hook(module: BitLinear | FrozenBitLinear, args: tuple[torch.Tensor, ...]) -> None:
        if module.mode == "full" or module.act_bits is None:
            return
        z = module.norm(args[0])
        g = z.abs().amax(dim=-1, keepdim=True).clamp(min=EPS)
        u = (z * 2 ** (int(module.act_bits) - 1) / g).abs()
        d = ((u - u.floor()) - 0.5).abs() / u.clamp(min=1.0)
        if token_mask is not None and d.dim() == token_mask.dim() + 1:
            d = torch.where(token_mask.bool()[..., None], d, torch.inf)
        found.append(d.reshape(len(d), -1).amin(1))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules()
               if isinstance(m, (BitLinear, FrozenBitLinear))]
    try:
        model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return torch.stack(found, 1).amin(1) if found else torch.full((len(inputs[0]),), torch.inf)


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def swap_linear(model: nn.Module, mode: str, keep: Iterable[str] = (), act_bits: int | None = 8,
                norm: bool = True) -> list[str]:
    """Replace every ``nn.Linear`` of ``model`` (subclasses included, e.g.
    zuko's masked layers, whose mask is kept) by a :class:`BitLinear` with
    the same weights, in place; returns the swapped module names.

    ``keep``: module names left in full precision (BitNet keeps the input
    embedding and the output head in float). Linear layers owned by
    ``nn.MultiheadAttention`` are left alone: it reads their weights directly
    and never calls their forward. ``mode="full"`` gives the float reference
    with the same LayerNorm in front of the same layers.
    """
    if mode not in LAYER_MODES:
        raise ValueError(f"unknown quantisation mode '{mode}' (known {list(LAYER_MODES)})")
    keep = set(keep)
    unknown = keep - {name for name, _ in model.named_modules()}
    if unknown:
        raise ValueError(f"keep names no module: {sorted(unknown)}")
    swapped = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.MultiheadAttention):
            keep |= {f"{name}.{child}" if name else child for child, _ in module.named_children()}
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or isinstance(module, BitLinear) or name in keep:
            continue
        mask = getattr(module, "mask", None)
        new = BitLinear(module.in_features, module.out_features, module.bias is not None, mode=mode,
                        act_bits=act_bits, norm=norm, mask=mask if isinstance(mask, torch.Tensor) else None)
        new = new.to(module.weight.device, module.weight.dtype)
        with torch.no_grad():
            new.weight.copy_(module.weight)
            if module.bias is not None:
                new.bias.copy_(module.bias)
        _replace(model, name, new)
        swapped.append(name)
    return swapped


def weight_bits(model: nn.Module) -> dict:
    """Memory of the trained parameters in bits.

    Weights of binary / ternary :class:`BitLinear` layers count
    ``BITS_PER_WEIGHT[mode]`` each plus one float32 scale per layer; every
    other parameter (biases, layers kept in float) counts 32 bits. ``full_bits`` is the same model
    with every parameter in float32, ``ratio`` = full_bits / total_bits.
    """
    quant_w, quant_bits, n_layers = 0, 0.0, 0
    bit_params = set()
    for module in model.modules():
        if isinstance(module, BitLinear) and module.mode in MODES:
            n = module.weight.numel()
            quant_w += n
            quant_bits += n * BITS_PER_WEIGHT[module.mode] + FLOAT_BITS
            n_layers += 1
            bit_params.add(id(module.weight))
    n_params = sum(p.numel() for p in model.parameters())
    float_params = sum(p.numel() for p in model.parameters() if id(p) not in bit_params)
    total = quant_bits + FLOAT_BITS * float_params
    full = FLOAT_BITS * n_params
    return {"total_bits": float(total), "full_bits": float(full), "ratio": float(full / total) if total else 1.0,
            "n_params": int(n_params), "quantised_weights": int(quant_w), "float_params": int(float_params),
            "quantised_layers": int(n_layers)}
