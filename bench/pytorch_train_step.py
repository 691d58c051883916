#!/usr/bin/env python3
"""The PyTorch peer of bench/train_step's training step (benchmark only, never in the training path).

A nanoGPT-style GPT-2 (learned positions, pre-LayerNorm, GELU tanh, tied LM head, vocabulary padded
to a multiple of 128), one training step = forward, backward, AdamW; the same shapes as our
`bench/train_step`. Prints one JSON line per configuration:
  {"model": ..., "B": ..., "T": ..., "ms_per_step": ..., "tokens_per_s": ...}

Run it with Debian's python3-torch (/usr/bin/python3), twice:
  OPENBLAS_CORETYPE=SkylakeX GLIBC_TUNABLES=glibc.malloc.hugetlb=1 /usr/bin/python3 bench/pytorch_train_step.py
  /usr/bin/python3 bench/pytorch_train_step.py          # the environment's defaults
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, maxT, L, NH, C):
        super().__init__()
        self.V = V
        Vp = (V + 127) // 128 * 128
        self.wte = nn.Embedding(Vp, C)
        self.wpe = nn.Embedding(maxT, C)
        self.h = nn.ModuleList(Block(C, NH) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits[..., : self.V].reshape(-1, self.V), targets.reshape(-1))


CONFIGS = {
    "gpt2-124M": dict(V=50257, maxT=1024, L=12, NH=12, C=768, B=4, T=64),
    "char-baby": dict(V=256 + 8, maxT=64, L=4, NH=4, C=128, B=12, T=64),
}


def bench(name, steps, warmup):
    c = CONFIGS[name]
    torch.manual_seed(0)
    model = GPT(c["V"], c["maxT"], c["L"], c["NH"], c["C"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    x = torch.randint(0, c["V"], (c["B"], c["T"]))
    y = torch.randint(0, c["V"], (c["B"], c["T"]))
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    best = min(times)
    tokens = c["B"] * c["T"]
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "model": name, "B": c["B"], "T": c["T"], "ms_per_step": best * 1e3,
                      "median_ms_per_step": sorted(times)[len(times) // 2] * 1e3,
                      "tokens_per_s": tokens / best}), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=list(CONFIGS) + ["all"], default="all")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for name in CONFIGS if a.model == "all" else [a.model]:
        bench(name, a.steps, a.warmup)
