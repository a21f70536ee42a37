"""A training step with mixing, compiled by inductor against the same step run eagerly, on the CPU.

The step is what a plain PyTorch loop runs per batch: draw on the host (:meth:`Mixer.draw_tensors`, outside the
graph: the generator is the reproducibility contract), then mix the pixels, make the dense smoothed targets, run the
model, the soft cross-entropy, the backward pass and an SGD update. The compiled side wraps the mixing, the forward
and the loss in one ``torch.compile(fullgraph=True)`` function (inductor; the backward is compiled by AOT autograd);
the eager side runs the same function uncompiled. Both start from the same weights and see the same draws, so
their losses are compared too.

Reported: the first call (compile included), the median step over interleaved rounds (eager, compiled, eager, ...),
the compiled/eager ratio, and how many graphs were compiled over the run's varied draws (CutMix and MixUp, every
lam, box and permutation): one, if nothing about mixing makes the step recompile.

    python benchmarks/compile_step.py                       # (128, 3, 32, 32), CifarResNet-20, 60 steps, 1 thread
    python benchmarks/compile_step.py --batch 64 --steps 30 --json docs/compile_step.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

if __package__ in (None, ''):  # run as a file: the repository root on the path, as `python -m` would have it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import OtherLoad, positive_int, threads_line  # noqa: E402

__all__ = ['main', 'measure']


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()


def measure(batch: int = 128, steps: int = 60, size: int = 32, depth: int = 20, classes: int = 10,
            seed: int = 0, backend: str = 'inductor') -> dict:
    """Runs ``steps`` eager and ``steps`` compiled steps, interleaved; returns the figures."""
    from composer_cutmix import Mixer
    from composer_cutmix.runner.models import cifar_resnet

    torch.manual_seed(seed)
    nets = {'eager': cifar_resnet(depth, classes, in_channels=3), 'compiled': cifar_resnet(depth, classes,
                                                                                           in_channels=3)}
    nets['compiled'].load_state_dict(nets['eager'].state_dict())
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for k, m in nets.items()}
    mixers = {k: Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=classes,
                       generator=torch.Generator().manual_seed(seed + 1)) for k in nets}
    g = torch.Generator().manual_seed(seed + 2)
    data = [(torch.rand(batch, 3, size, size, generator=g), torch.randint(0, classes, (batch,), generator=g))
            for _ in range(4)]

    def forward(net):
        def step(X, y, draw):
            Xm, ym = mixers['eager'].mix_step(X, y, draw)  # the same apply for both sides (num_classes, smoothing)
            return soft_cross_entropy(net(Xm), ym)
        return step

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    fns = {'eager': forward(nets['eager']),
           'compiled': torch.compile(forward(nets['compiled']), backend=backend, fullgraph=True)}
    times: dict[str, list[float]] = {'eager': [], 'compiled': []}
    losses: dict[str, list[float]] = {'eager': [], 'compiled': []}
    first: dict[str, float] = {}
    ops = set()
    for i in range(steps + 1):
        X, y = data[i % len(data)]
        for key in (('eager', 'compiled') if i % 2 else ('compiled', 'eager')):
            draw = mixers[key].draw_tensors(batch, size, size)
            ops.add(mixers[key].last_params.op)
            t0 = time.perf_counter()
            loss = fns[key](X, y, draw)
            opts[key].zero_grad(set_to_none=True)
            loss.backward()
            opts[key].step()
            elapsed = time.perf_counter() - t0
            if i == 0:
                first[key] = elapsed
            else:
                times[key].append(elapsed)
            losses[key].append(float(loss))
    frames = torch._dynamo.utils.counters['stats']['unique_graphs']
    breaks = sum(torch._dynamo.utils.counters['graph_break'].values())
    eager_ms, compiled_ms = (statistics.median(times[k]) * 1e3 for k in ('eager', 'compiled'))
    drift = max(abs(a - b) for a, b in zip(losses['eager'], losses['compiled']))
    return {
        'batch': [batch, 3, size, size], 'model': f'CifarResNet-{depth}', 'backend': backend, 'steps': steps,
        'ops_drawn': sorted(ops),
        'eager_ms': eager_ms, 'compiled_ms': compiled_ms, 'compiled_vs_eager': compiled_ms / eager_ms,
        'first_call_s': first, 'graphs_compiled': frames, 'graph_breaks': breaks,
        'max_loss_difference': drift, 'first_loss': losses['eager'][0],
        'first_loss_difference': abs(losses['eager'][0] - losses['compiled'][0]),
    }


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--batch', type=positive_int, default=128)
    p.add_argument('--size', type=positive_int, default=32, help='image side (default 32)')
    p.add_argument('--depth', type=int, default=20, help='CifarResNet depth (6n+2; default 20)')
    p.add_argument('--steps', type=positive_int, default=60, help='timed steps per side (default 60)')
    p.add_argument('--threads', type=positive_int, default=1,
                   help='torch.set_num_threads(N) (default 1: with 2 threads, torch 2.7\'s inductor writes C++ for the '
                        'batch-norm backward that g++ refuses, "conflicting declaration tmp_acc0_arr")')
    p.add_argument('--json', metavar='PATH', help='also write the figures to this JSON file')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print('Mixing training step, torch.compile (inductor) vs eager, CPU')
    print(threads_line())
    load = OtherLoad()
    r = measure(args.batch, args.steps, args.size, args.depth)
    r['other_load'] = load.report()
    r['torch'] = torch.__version__
    print(f"batch {tuple(r['batch'])}, {r['model']}, {r['steps']} timed steps a side, ops drawn: "
          f"{', '.join(r['ops_drawn'])}")
    print(f"eager step    {r['eager_ms']:9.1f} ms (median)   first call {r['first_call_s']['eager']:.2f} s")
    print(f"compiled step {r['compiled_ms']:9.1f} ms (median)   first call {r['first_call_s']['compiled']:.2f} s "
          f"(compile included)")
    print(f"compiled / eager: {r['compiled_vs_eager']:.2f}x; graphs compiled over the run: {r['graphs_compiled']}; "
          f"graph breaks: {r['graph_breaks']}")
    print(f"loss difference, same weights and draws: {r['first_loss_difference']:.1e} at the first step, at most "
          f"{r['max_loss_difference']:.1e} over the run (the two copies drift apart by float rounding)")
    print(r['other_load'])
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1))
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
