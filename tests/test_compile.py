"""The apply half of mixing under torch.compile (one graph for every draw) and in a CUDA graph."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend

from composer_cutmix import Mixer, MixUpCutMix
from composer_cutmix.mixing import DrawTensors, MixParams, apply, apply_tensors, mix_step, mix_targets
from tests.helpers import N_CLASSES, make_trainer, tiny_data


@pytest.fixture
def counter():
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    yield CompileCounterWithBackend('aot_eager')
    torch._dynamo.reset()


def test_fifty_draws_compile_once_and_match_eager(counter):
    mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=10,
                  generator=torch.Generator().manual_seed(0))
    step = torch.compile(mixer.mix_step, backend=counter, fullgraph=True)
    g = torch.Generator().manual_seed(1)
    X = torch.rand(6, 3, 12, 10, generator=g)  # uint8 and half: the eager equality test below
    y = torch.randint(0, 10, (6,), generator=g)
    seen = {'ops': set(), 'lams': set(), 'boxes': set(), 'perms': set()}
    for _ in range(50):
        draw = mixer.draw_tensors(6, 12, 10)
        p = mixer.last_params
        Xm, ym = step(X, y, draw)
        assert torch.equal(Xm, apply(X, p))
        assert torch.equal(ym, mix_targets(y, p, 10, smoothing=0.1))
        seen['ops'].add(p.op), seen['lams'].add(p.lam), seen['perms'].add(tuple(p.indices.tolist()))
        seen['boxes'].add(p.bbox)
    assert seen.pop('ops') == {'cutmix', 'mixup'} and min(map(len, seen.values())) > 10  # the draws did vary
    assert counter.frame_count == 1  # one compile, no recompile (at most 2 are allowed)
    assert not torch._dynamo.utils.counters['graph_break']


def test_identity_and_per_sample_draws_match_eager():
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(7, 2, 9, 8, generator=g), torch.randint(0, 5, (7,), generator=g)
    X_cl = X.contiguous(memory_format=torch.channels_last)
    assert torch.equal(apply_tensors(X, DrawTensors.identity(7)), X)
    assert torch.equal(mix_step(X, y, DrawTensors.identity(7), 5)[1], mix_targets(y, None, 5))
    for mode, cutmix_alpha in (('elem', 1.0), ('elem', 0.0), ('batch', 1.0)):
        mixer = Mixer(mixup_alpha=0.8 if cutmix_alpha == 0 or mode == 'batch' else 0.0, cutmix_alpha=cutmix_alpha,
                      mode=mode, num_classes=5, generator=torch.Generator().manual_seed(3))
        for _ in range(4):
            p = mixer.draw(7, 9, 8)
            for Z in (X, X_cl, (X.abs() * 30).to(torch.uint8), X.half()):
                assert torch.equal(apply_tensors(Z, p.as_tensors()), apply(Z, p)), (mode, p.op, Z.dtype)
            assert torch.equal(mix_step(X, y, p.as_tensors(), 5, smoothing=0.2)[1],
                               mix_targets(y, p, 5, smoothing=0.2))


def test_full_and_empty_boxes_match_eager():
    X = torch.randn(3, 1, 4, 5)
    for box in ((0, 0, 4, 5), (2, 2, 2, 5), (1, 0, 3, 5)):
        p = MixParams('cutmix', torch.tensor([2, 0, 1]), 0.5, box)
        assert torch.equal(apply_tensors(X, p.as_tensors()), apply(X, p))


def test_trainer_compiles_the_model_once_with_mixing(counter):
    X, y = tiny_data(n=32)
    trainer = make_trainer(X, y, [MixUpCutMix(N_CLASSES, label_smoothing=0.1)], max_duration='4ba',
                           compile_config={'backend': counter})
    trainer.fit()
    assert counter.frame_count == 1  # the model's forward, compiled on the first batch, never again
    assert not torch._dynamo.utils.counters['graph_break']


def test_the_compile_benchmarks_whole_training_step_is_one_graph():
    """benchmarks/compile_step.py's step (mix, forward, soft cross-entropy; backward and SGD after it), small and
    with a backend that needs no C++ build: one graph for every draw of both ops, no break, the eager step's loss."""
    from benchmarks.compile_step import measure

    r = measure(batch=6, steps=8, size=8, depth=8, backend='aot_eager')
    assert r['ops_drawn'] == ['cutmix', 'mixup'] and r['graphs_compiled'] == 1 and r['graph_breaks'] == 0
    assert r['first_loss_difference'] < 1e-5 and r['max_loss_difference'] < 1e-3


@pytest.mark.gpu
def test_cuda_graph_replays_each_draw():
    """One step (mix a draw held in static tensors, then a tiny model) captured once, replayed per draw."""
    dev = torch.device('cuda')
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10)).to(dev)
    mixer = Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=10, generator=torch.Generator().manual_seed(0))
    static_x = torch.rand(8, 3, 16, 16, device=dev)
    static_y = torch.randint(0, 10, (8,), device=dev)
    static_draw = mixer.draw_tensors(8, 16, 16).to(dev)

    def step():
        Xm, ym = mixer.mix_step(static_x, static_y, static_draw)
        return model(Xm), ym

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.no_grad():
        for _ in range(3):  # warm up on a side stream before capture, as the CUDA graph docs ask
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        static_out, static_targets = step()
    for _ in range(6):
        draw = mixer.draw_tensors(8, 16, 16)
        p = mixer.last_params
        static_draw.copy_(draw.to(dev))
        graph.replay()
        with torch.no_grad():
            expected_x = apply(static_x, p)
            expected = model(expected_x)
        torch.testing.assert_close(static_out, expected)
        assert torch.equal(static_targets, mix_targets(static_y, p, 10, smoothing=mixer.label_smoothing))
