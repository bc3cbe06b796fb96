#!/usr/bin/env python3
"""PyTorch twin of packages/core/src/bench/core-bench.ts (the reference workload of
docs/platform.md): GPT-2 style decoder, vocab 64, d 128, 4 layers, 4 heads, batch 16 x 64.

Prints human lines on stderr and one JSON line on stdout:
  {"train_tok_s": ..., "sample_tok_s": ..., "gemm_gflops": ..., "blas": [loaded BLAS .so paths],
   "train_tok_per_cpu_s": ..., "sample_tok_per_cpu_s": ... (per CPU-second of all threads), "torch": "<version>"}
Run with /usr/bin/python3, OPENBLAS_NUM_THREADS=2 (core-bench.ts sets it); uses 1 torch thread.
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)

V, D, L, H, MAXLEN = 64, 128, 4, 4, 72
B, T = 16, 64
PROMPT, NEW = 8, 64
HD = D // H


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D, eps=1e-5)
        self.c_attn = nn.Linear(D, 3 * D)
        self.c_proj = nn.Linear(D, D)
        self.ln_2 = nn.LayerNorm(D, eps=1e-5)
        self.c_fc = nn.Linear(D, 4 * D)
        self.mlp_proj = nn.Linear(4 * D, D)

    def forward(self, x, cache=None):
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q = q.view(b, t, H, HD).transpose(1, 2)
        k = k.view(b, t, H, HD).transpose(1, 2)
        v = v.view(b, t, H, HD).transpose(1, 2)
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        s = k.shape[2]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HD))
        past = s - t
        mask = torch.ones(t, s, dtype=torch.bool).tril(diagonal=past)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, D)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, D)
        self.wpe = nn.Embedding(MAXLEN, D)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(D, eps=1e-5)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, caches=None, past=0):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(past, past + t))
        for i, blk in enumerate(self.h):
            x = blk(x, None if caches is None else caches[i])
        return self.ln_f(x) @ self.wte.weight.t()


def bench_train(steps=8, warmup=3):
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    times = []
    cpu = []
    for i in range(steps + warmup):
        batch = torch.randint(0, V, (B, T + 1))
        t0 = time.perf_counter()
        c0 = time.process_time()
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return B * T / statistics.median(times), B * T / statistics.median(cpu)


@torch.no_grad()
def bench_sample(repeats=3):
    model = GPT().eval()
    times = []
    cpu = []
    for i in range(repeats + 1):
        g = torch.Generator().manual_seed(i)
        prompts = torch.randint(1, V, (B, PROMPT), generator=g)
        t0 = time.perf_counter()
        c0 = time.process_time()
        caches = [dict() for _ in range(L)]
        logits = model(prompts, caches, 0)[:, -1]
        pos = PROMPT
        for j in range(NEW):
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
            if j < NEW - 1:  # the last sampled token needs no forward pass
                logits = model(nxt, caches, pos)[:, -1]
                pos += 1
        if i > 0:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return B * NEW / statistics.median(times), B * NEW / statistics.median(cpu)


def bench_gemm(n=512, repeats=10):
    """GFLOP/s of an n^3 float32 GEMM: tells OpenBLAS (>50) from the reference BLAS (~5)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def blas_libraries():
    """BLAS/LAPACK shared objects loaded into this process (Linux), e.g. .../openblas-pthread/libblas.so.3."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({l.split()[-1] for l in f if "blas" in l.lower()})
    except OSError:
        return []


if __name__ == "__main__":
    gemm = bench_gemm()
    blas = blas_libraries()
    print(f"torch {torch.__version__}: GEMM 512^3 {gemm:.1f} GFLOP/s", file=sys.stderr)
    train, train_cpu = bench_train()
    print(f"torch {torch.__version__}: training {train:.0f} tok/s", file=sys.stderr)
    sample, sample_cpu = bench_sample()
    print(f"torch {torch.__version__}: KV sampling 16x64 {sample:.0f} tok/s", file=sys.stderr)
    print(json.dumps({"train_tok_s": train, "sample_tok_s": sample, "gemm_gflops": gemm, "blas": blas,
                      "train_tok_per_cpu_s": train_cpu, "sample_tok_per_cpu_s": sample_cpu, "torch": torch.__version__}))
