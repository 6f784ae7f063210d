#!/usr/bin/env python3
"""Reference values for what fixtures/families/ does not cover, computed in float64 numpy (no torch, no transformers).

The forward follows transformers' modeling code for llama / mistral / qwen2 / qwen3 (rotary embedding with the
default and llama3 inverse frequencies, RMSNorm, q/k/v biases, Qwen3's per-head q/k norm, grouped-query attention,
SwiGLU MLP) and its sliding-window mask (masking_utils.sliding_window_overlay: key j is visible to query i iff
i - window < j <= i). It is written from transformers' source, independently of the Java code it checks.

    python3 tools/family_reference.py check     # reproduces the four fixtures' base_logits (checks this forward)
    python3 tools/family_reference.py window    # writes fixtures/families/windowed/reference.safetensors

The window reference runs two fixture checkpoints under configs that turn a window on (the weights do not depend
on it): mistral with sliding_window 4 (every layer) and qwen2 with use_sliding_window, sliding_window 4 and
max_window_layers 1 (only layer 1 windowed, as Qwen2Config's layer_types rule says). For each, keys prefixed with
the family: input_ids [3, 20] (the fixture's), base logits, and greedy ids from the first 6 tokens, 14 new, so
generation runs far past the window.
Only numpy and the standard library are needed.
"""
import json
import math
import os
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FAMILIES = os.path.join(ROOT, "fixtures", "families")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    types = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(data[8 + n + s:8 + n + e], dtype=types[v["dtype"]]).reshape(v["shape"])
    return out


def write_safetensors(path, tensors):
    names = sorted(tensors)
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    blobs = []
    for k in names:
        a = np.ascontiguousarray(tensors[k])
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[k] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def inv_freq(cfg, head_dim):
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    theta = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
    inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind == "linear":
        inv = inv / rope["factor"]
    elif kind == "llama3":  # modeling_rope_utils._compute_llama3_parameters
        factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
        old = rope["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        llama = np.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * llama / factor + smooth * llama
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        inv = np.where(medium, smoothed, llama)
    elif kind != "default":
        raise SystemExit("rope type " + kind)
    return inv


def windows(cfg):
    """The sliding window of each layer (None: full attention), as the configuration classes decide it."""
    layers = cfg["num_hidden_layers"]
    kind = cfg["model_type"]
    if kind == "mistral":
        w = cfg.get("sliding_window", 4096)
        return [w] * layers
    if kind in ("qwen2", "qwen3"):
        w = cfg.get("sliding_window", 4096) if cfg.get("use_sliding_window", False) else None
        types = cfg.get("layer_types") or [
            "sliding_attention" if w is not None and i >= cfg.get("max_window_layers", 28) else "full_attention"
            for i in range(layers)]
        return [w if t == "sliding_attention" else None for t in types]
    return [None] * layers


def rms_norm(x, w, eps):
    return w * (x / np.sqrt((x * x).mean(-1, keepdims=True) + eps))


def forward(cfg, w, ids):
    """Logits [B, T, V] of ids [B, T] (no padding), float64."""
    ids = np.asarray(ids)
    b, t = ids.shape
    h_dim = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    d = cfg.get("head_dim") or h_dim // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    g = {k: v.astype(np.float64) for k, v in w.items()}
    pos = np.arange(t, dtype=np.float64)
    freqs = pos[:, None] * inv_freq(cfg, d)[None, :]
    emb = np.concatenate([freqs, freqs], -1)
    cos, sin = np.cos(emb), np.sin(emb)

    def rope(x):  # x [B, H, T, D]
        rot = np.concatenate([-x[..., d // 2:], x[..., :d // 2]], -1)
        return x * cos + rot * sin

    def lin(x, name):
        y = x @ g[name + ".weight"].T
        if name + ".bias" in g:
            y = y + g[name + ".bias"]
        return y

    h = g["model.embed_tokens.weight"][ids]
    q_idx = np.arange(t)[:, None]
    k_idx = np.arange(t)[None, :]
    for layer, win in enumerate(windows(cfg)):
        p = "model.layers.%d." % layer
        x = rms_norm(h, g[p + "input_layernorm.weight"], eps)
        q = lin(x, p + "self_attn.q_proj").reshape(b, t, nh, d)
        k = lin(x, p + "self_attn.k_proj").reshape(b, t, nkv, d)
        v = lin(x, p + "self_attn.v_proj").reshape(b, t, nkv, d)
        if p + "self_attn.q_norm.weight" in g:
            q = rms_norm(q, g[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, g[p + "self_attn.k_norm.weight"], eps)
        q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))
        q, k = rope(q), rope(k)
        k = np.repeat(k, nh // nkv, axis=1)
        v = np.repeat(v, nh // nkv, axis=1)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
        visible = k_idx <= q_idx
        if win is not None:
            visible = visible & (k_idx > q_idx - win)
        scores = np.where(visible, scores, -np.inf)
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs = probs / probs.sum(-1, keepdims=True)
        out = (probs @ v).transpose(0, 2, 1, 3).reshape(b, t, nh * d)
        h = h + lin(out, p + "self_attn.o_proj")
        x = rms_norm(h, g[p + "post_attention_layernorm.weight"], eps)
        gate = lin(x, p + "mlp.gate_proj")
        h = h + lin(gate / (1 + np.exp(-gate)) * lin(x, p + "mlp.up_proj"), p + "mlp.down_proj")
    h = rms_norm(h, g["model.norm.weight"], eps)
    head = g.get("lm_head.weight", g["model.embed_tokens.weight"])
    return h @ head.T


def greedy(cfg, w, prompts, new):
    seqs = np.array(prompts)
    for _ in range(new):
        nxt = forward(cfg, w, seqs)[:, -1, :].argmax(-1)
        seqs = np.concatenate([seqs, nxt[:, None]], 1)
    return seqs


def load(family):
    base = os.path.join(FAMILIES, family, "base")
    with open(os.path.join(base, "config.json")) as f:
        cfg = json.load(f)
    return cfg, read_safetensors(os.path.join(base, "model.safetensors"))


def check():
    for family in ("llama3", "qwen2", "qwen3", "mistral"):
        cfg, w = load(family)
        ref = read_safetensors(os.path.join(FAMILIES, family, "reference.safetensors"))
        err = np.abs(forward(cfg, w, ref["input_ids"]) - ref["base_logits"]).max()
        g = greedy(cfg, w, ref["greedy_ids"][:, :6], ref["greedy_ids"].shape[1] - 6)
        print("%s: base_logits max abs err %.2e, greedy equal %s" % (family, err, (g == ref["greedy_ids"]).all()))


def window():
    out = {}
    variants = {
        "mistral": {"sliding_window": 4},
        "qwen2": {"use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1},
    }
    for family, change in variants.items():
        cfg, w = load(family)
        cfg.update(change)
        ref = read_safetensors(os.path.join(FAMILIES, family, "reference.safetensors"))
        ids = ref["input_ids"]
        logits = forward(cfg, w, ids)
        full = forward(load(family)[0], w, ids)
        print("%s windowed: logits move by %.3f from full attention" % (family, np.abs(logits - full).max()))
        out[family + "_base_logits"] = logits.astype(np.float32)
        out[family + "_input_ids"] = ids.astype(np.int64)
        out[family + "_greedy_ids"] = greedy(cfg, w, ids[:, :6], 14).astype(np.int64)
        gap = np.sort(forward(cfg, w, out[family + "_greedy_ids"][:, :-1])[:, 5:, :], -1)
        print("%s: smallest top-2 logit gap over greedy steps %.4f" % (family, (gap[..., -1] - gap[..., -2]).min()))
    target = os.path.join(FAMILIES, "windowed")
    os.makedirs(target, exist_ok=True)
    write_safetensors(os.path.join(target, "reference.safetensors"), out)
    print("wrote", os.path.relpath(os.path.join(target, "reference.safetensors"), ROOT))


if __name__ == "__main__":
    {"check": check, "window": window}[sys.argv[1] if len(sys.argv) > 1 else "check"]()
