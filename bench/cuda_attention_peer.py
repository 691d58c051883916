#!/usr/bin/env python3
"""The PyTorch peer of bench_cuda_ops' attention cases: causal scaled-dot-product attention in bf16
through torch's SDPA, with the cuDNN backend where this torch has it and the flash backend (always
timed too, as the second reference), on the same shapes as our kernels (GPT-2 124M: B=16, T=1024,
NH=12, HS=64).

FLOP count (the one bench_cuda_ops uses): a causal forward does QKᵀ and PV on half the (T,T)
scores, 2 matmuls · 2 FLOPs · B·NH·T·T·HS / 2 = 2·B·NH·T²·HS; the backward does 2.5× the forward
(5 matmuls of the same size against 2). Time: CUDA events, median of --reps calls after --warmup.

    python3 bench/cuda_attention_peer.py --out attention_peer.json
"""
import argparse
import json
import statistics
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the JSON here (it is printed too)")
    ap.add_argument("--shapes", default="16,1024,12,64", help="B,T,NH,HS;B,T,NH,HS;...")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    result = {"peer": "pytorch_sdpa", "torch": torch.__version__, "device": None, "results": []}
    if not torch.cuda.is_available():
        result["error"] = "no CUDA device visible to torch"
        emit(result, args.out)
        return 1
    result["device"] = torch.cuda.get_device_name(0)

    backends = [("flash", SDPBackend.FLASH_ATTENTION)]
    if hasattr(SDPBackend, "CUDNN_ATTENTION"):
        backends.insert(0, ("cudnn", SDPBackend.CUDNN_ATTENTION))

    def time_ms(fn):
        for _ in range(args.warmup):
            fn()
        times = []
        for _ in range(args.reps):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        return statistics.median(times)

    for shape in args.shapes.split(";"):
        B, T, NH, HS = (int(x) for x in shape.split(","))
        fwd_flops = 2.0 * B * NH * T * T * HS
        gen = torch.Generator(device="cuda").manual_seed(0)
        q, k, v = (torch.randn(B, NH, T, HS, device="cuda", dtype=torch.bfloat16, generator=gen).requires_grad_()
                   for _ in range(3))
        dout = torch.randn(B, NH, T, HS, device="cuda", dtype=torch.bfloat16, generator=gen)
        for name, backend in backends:
            base = {"backend": name, "B": B, "T": T, "NH": NH, "HS": HS}
            try:
                with sdpa_kernel([backend]):
                    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                    ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
                    result["results"].append({**base, "pass": "forward", "ms": ms, "tflops": fwd_flops / ms / 1e9})
                    ms = time_ms(lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True))
                    result["results"].append(
                        {**base, "pass": "backward", "ms": ms, "tflops": 2.5 * fwd_flops / ms / 1e9})
            except RuntimeError as e:  # the backend refuses this shape / device / build
                result["results"].append({**base, "pass": "forward+backward", "error": str(e).splitlines()[0][:200]})
    emit(result, args.out)
    return 0


def emit(result, path):
    text = json.dumps(result, indent=1)
    print(text)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
