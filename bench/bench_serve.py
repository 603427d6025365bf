"""Teacher generation: capdistill's in-process batched generation (`HFEngine`, the default teacher engine) vs
`transformers serve` with continuous batching (transformers' own OpenAI-compatible server, the peer that ships with
it) on the same model, weights dtype (the fast path's), threads, prompts and greedy decoding: 16 GSM8K prompts,
48 new tokens; the server gets all 16 requests at once (`OpenAIEngine`, concurrency 16). Interleaved repetitions,
median completion tokens/s, and how often the two greedy texts agree."""

import argparse, http.client, json, os, signal, socket, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_lines, ab_result, gsm8k_pairs, interleaved, machine_info

N, NEW = 16, 48


def _port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _up(port) -> bool:
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
    try:
        c.request('GET', '/health')
        return c.getresponse().status == 200
    except OSError:
        return False
    finally:
        c.close()


def serve(model: str, dtype: str, port: int, log: Path) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).parent / 'transformers'), 'serve', model, '--device', 'cpu', '--host',
           '127.0.0.1', '--port', str(port), '--continuous-batching', '--dtype', dtype]
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'HF_HUB_DISABLE_TELEMETRY': '1'}
    proc = subprocess.Popen(cmd, stdout=log.open('wb'), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    t0 = time.monotonic()
    while not _up(port):
        if proc.poll() is not None or time.monotonic() - t0 > 180:
            raise RuntimeError(f"transformers serve did not come up; log tail:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    return proc


def timed(engine, prompts, cfg):
    t0 = time.perf_counter()
    gens = engine.generate(prompts, cfg, progress=False)
    return sum(g.completion_tokens for g in gens) / (time.perf_counter() - t0), [g.text for g in gens]


def main(reps=2):
    import tempfile
    from capdistill.core.fastpath import fast_path
    from capdistill.core.models import ensure_cached, load_model, load_tokenizer
    from capdistill.teachers.engines import GenerationConfig, HFEngine, OpenAIEngine

    model = str(ensure_cached('smollm2-135m-instruct'))
    dtype = fast_path().dtype
    prompts = [p for p, _ in gsm8k_pairs(N, seed=3)]
    cfg = GenerationConfig(max_new_tokens=NEW, temperature=0.0, batch_size=N)
    ours = HFEngine(*load_model(model, dtype=dtype, device='cpu'), 'in-process')
    port, log = _port(), Path(tempfile.mkdtemp()) / 'serve.log'
    proc = serve(model, dtype, port, log)
    try:
        peer = OpenAIEngine(f'http://127.0.0.1:{port}/v1', model, tokenizer=load_tokenizer(model), concurrency=N)
        timed(peer, prompts[:2], GenerationConfig(max_new_tokens=4, temperature=0.0))  # warm up both
        timed(ours, prompts[:2], GenerationConfig(max_new_tokens=4, temperature=0.0))
        speed, texts = interleaved({k: lambda e=e: timed(e, prompts, cfg) for k, e in (('serve', peer),
                                                                                    ('capdistill', ours))}, reps)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    res = ab_result(speed)
    res |= {'ratio': res['tok_s']['capdistill'] / res['tok_s']['serve'], 'dtype': dtype, 'n_prompts': N,
            'max_new_tokens': NEW, 'reps': reps,
            'greedy_agreement': sum(a == b for a, b in zip(texts['serve'], texts['capdistill'])) / N}
    print(f"teacher generation, SmolLM2-135M-Instruct ({dtype} weights), {N} prompts x {NEW} new tokens, greedy"
          f" ({machine_info()})")
    print(*ab_lines(speed), sep='\n')
    print(f"  capdistill (in-process batch) / transformers serve --continuous-batching: {res['ratio']:.2f}x;"
          f" greedy texts identical for {res['greedy_agreement']:.0%} of {N} prompts")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
