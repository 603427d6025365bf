"""The fused LM-head loss (`distill.fused_head.FusedLinearLoss`, SFT's cross-entropy here) on SmolLM2's 49152 x 576
head, 880 label rows (a B8 GSM8K batch's responses), chunks of 256 rows, forward + backward: the head multiplied from
oneDNN's prepacked copy (`core.fastpath.prepacked`, what it does on a CPU whose matmuls run in fp32) vs the weight as
is (MKL's GEMM), interleaved A/B repetitions in one process; the losses and gradients of both compared."""

import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_lines, ab_result, interleaved, machine_info


def main(n=880, chunk=256, reps=5):
    import torch
    from capdistill.distill import fused_head as fh

    g = torch.Generator().manual_seed(0)
    V, H = 49152, 576
    W = (torch.randn(V, H, generator=g) * 0.02).requires_grad_()
    h = torch.randn(n, H, generator=g).requires_grad_()
    lab, w = torch.randint(0, V, (n,), generator=g), torch.full((n,), 1.0 / n)
    decide = fh.packable

    def run(packed: bool):
        "(label rows per second, (loss, grad h, grad W)) of one forward + backward."
        fh.packable = decide if packed else (lambda *a: False)
        W.grad = h.grad = None
        t0 = time.perf_counter()
        loss, _ = fh.FusedLinearLoss.apply(h, W, w, fh.ce_rows, chunk, None, lab)
        loss.backward()
        dt = time.perf_counter() - t0
        fh.packable = decide
        return n / dt, (loss.detach(), h.grad.clone(), W.grad.clone())

    run(True), run(False)  # warm up
    speed, outs = interleaved({'plain': lambda: run(False), 'prepacked': lambda: run(True)}, reps)
    ab = ab_result(speed)
    s = {k: n / v for k, v in ab['tok_s'].items()}  # median seconds per forward + backward
    diff = [float((a - b).abs().max()) for a, b in zip(outs['plain'], outs['prepacked'])]
    res = {**ab, 's': s, 'ratio': s['plain'] / s['prepacked'], 'packs_here': decide(W),
           'max_diff': {'loss': diff[0], 'grad_h': diff[1], 'grad_W': diff[2]},
           'rows': n, 'chunk': chunk, 'reps': reps, 'gflop': 3 * 2 * n * V * H / 1e9}
    print(f"fused LM-head cross-entropy, 49152 x 576 head, {n} rows, chunks of {chunk}, fp32, forward + backward"
          f" ({machine_info()}); label rows per second:")
    print('\n'.join(ab_lines(speed)))
    print(f"  prepacked / plain: {res['ratio']:.2f}x faster ({s['prepacked'] * 1e3:.0f} vs {s['plain'] * 1e3:.0f} ms,"
          f" {res['gflop'] / s['prepacked']:.0f} vs {res['gflop'] / s['plain']:.0f} GFLOP/s); max abs difference:"
          f" loss {diff[0]:.1e}, grad h {diff[1]:.1e}, grad W {diff[2]:.1e}")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
