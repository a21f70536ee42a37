"""The preview PNG: a grid of mixed images, each box outlined where the pixels were pasted, two weighed labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from composer_cutmix import FMix, ResizeMix
from composer_cutmix.runner.cli import main
from composer_cutmix.runner.errors import DataNotFoundError
from composer_cutmix.runner.preview import BOX_COLOR, draw_mixed_batch, mix_preview_batch, preview_batch

ROOT = Path(__file__).resolve().parents[1]
CFG = {'train_data': {'name': 'synthetic', 'num_samples': 16, 'image_size': 20, 'channels': 1, 'num_classes': 10,
                      'augment': False},
       'algorithms': {'cutmix': {'alpha': 1.0, 'uniform_sampling': True}}}


def _pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert('RGB'))


def test_png_is_written_with_a_sane_size(tmp_path):
    out = tmp_path / 'sub' / 'mixed.png'
    img = preview_batch(CFG, n=8, out=out, seed=1)
    assert out.is_file()
    with Image.open(out) as png:
        assert png.format == 'PNG' and png.mode == 'RGB' and png.size == img.size
    scale = img.info['cutmix_scale']
    assert scale == 7  # 20 px images upscaled to >= 140 px so the captions fit
    w, h = img.size
    assert 8 * 140 < w < 8 * 170 and 140 + 2 * 17 < h < 300  # one row of 8 tiles, two caption lines


def test_box_outline_is_drawn_where_the_pixels_were_pasted():
    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(8, 1, 20, 20, generator=g), torch.randint(0, 10, (8,), generator=g)  # pixels in [0, 1]
    batch = mix_preview_batch((X, y), n=8, seed=2, uniform_sampling=True, num_classes=10)
    img = draw_mixed_batch(batch)
    px = _pixels(img)
    s = img.info['cutmix_scale']
    y0, x0, y1, x1 = batch.bboxes[0].tolist()
    assert 0 < (y1 - y0) * (x1 - x0) < 400
    for i in range(8):
        left, top, right, bottom = img.info['cutmix_boxes'][i]
        tl, tt = img.info['cutmix_tiles'][i]
        assert (left, top, right, bottom) == (tl + x0 * s, tt + y0 * s, tl + x1 * s - 1, tt + y1 * s - 1)
        # the outline: all four corners and the middle of each side are in the box colour
        for x, yy in [(left, top), (right, top), (left, bottom), (right, bottom), ((left + right) // 2, top),
                      (left, (top + bottom) // 2), (right, (top + bottom) // 2), ((left + right) // 2, bottom)]:
            assert tuple(px[yy, x]) == BOX_COLOR
        # inside the box the tile shows the partner image, outside it its own (upscaled, as 0-255 grey)
        j = int(batch.indices[i])
        assert torch.equal(batch.images[i, 0, y0:y1, x0:x1], X[j, 0, y0:y1, x0:x1])
        cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
        assert int(px[tt + cy * s + s // 2, tl + cx * s + s // 2, 0]) == round(float(X[j, 0, cy, cx]) * 255)
        oy, ox = next((r, c) for r in range(20) for c in range(20) if not (y0 <= r < y1 and x0 <= c < x1))
        assert int(px[tt + oy * s + s // 2, tl + ox * s + s // 2, 1]) == round(float(X[i, 0, oy, ox]) * 255)


def test_captions_give_both_labels_and_their_weights():
    batch = mix_preview_batch(CFG, n=8, seed=3)
    lam = float(batch.lam[0])
    area = (batch.bboxes[0, 2] - batch.bboxes[0, 0]) * (batch.bboxes[0, 3] - batch.bboxes[0, 1])
    assert lam == pytest.approx(1 - float(area) / 400)
    for i in range(8):  # the targets the captions describe are the ones CutMix produced
        j = int(batch.indices[i])
        expected = torch.zeros(10)
        expected[batch.labels[i]] += lam
        expected[batch.labels[j]] += 1 - lam
        assert torch.allclose(batch.targets[i], expected)
    img = draw_mixed_batch(batch)
    px = _pixels(img)
    tl, tt = img.info['cutmix_tiles'][0]
    th = 20 * img.info['cutmix_scale']
    caption = px[tt + th:tt + th + 34, tl:tl + th]
    white = (caption.min(axis=2) > 200).sum()
    red = ((caption[..., 0] > 200) & (caption[..., 1] < 100)).sum()
    assert white > 20 and red > 20  # own label in white, the partner's in the box colour


def test_elem_mode_draws_one_box_per_image():
    img = preview_batch({**CFG, 'algorithms': {'cutmix': {'mode': 'elem'}}}, n=8, seed=4)
    boxes = [b for b in img.info['cutmix_boxes'] if b is not None]
    tiles = img.info['cutmix_tiles']
    rel = {(b[0] - t[0], b[1] - t[1], b[2] - t[0], b[3] - t[1]) for b, t in zip(img.info['cutmix_boxes'], tiles) if b}
    assert len(boxes) >= 6 and len(rel) >= 4


def test_fashion_mnist_preview_uses_class_names():
    try:
        batch = mix_preview_batch(str(ROOT / 'yamls' / 'fashion_mnist.yaml'), n=4, seed=0)
    except DataNotFoundError as e:
        pytest.skip(f'Fashion-MNIST is not on this machine: {e}')
    assert batch.class_names[0] == 'T-shirt' and batch.images.shape == (4, 1, 28, 28)


def test_preview_from_a_plain_batch_and_the_cli(tmp_path, capsys):
    X, y = torch.rand(6, 3, 10, 10), torch.tensor([0, 1, 2, 0, 1, 2])
    img = preview_batch((X, y), n=6, class_names=['cat', 'dog', 'bird'])
    assert img.size[0] > 6 * 140
    out = tmp_path / 'cli.png'
    assert main(['preview', str(ROOT / 'yamls' / 'synthetic.yaml'), '--out', str(out), '--n', '4',
                 'train_data.augment=false']) == 0
    assert out.is_file() and 'wrote' in capsys.readouterr().out


# ------------------------------------------------------------------------- ResizeMix, FMix and RandomMix (issue 16)


def _grey_batch(n=8, side=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, side, side, generator=g), torch.randint(0, 10, (n,), generator=g)  # pixels in [0, 1]


def test_resizemix_box_holds_the_shrunken_partner_and_is_outlined():
    X, y = _grey_batch()
    batch = mix_preview_batch((X, y), n=8, seed=2, num_classes=10, algorithm=ResizeMix(scale=(0.3, 0.6)))
    img = draw_mixed_batch(batch)
    px, s = _pixels(img), img.info['cutmix_scale']
    y0, x0, y1, x1 = batch.bboxes[0].tolist()
    assert 6 <= y1 - y0 <= 12 and batch.title.startswith('ResizeMix: each partner shrunk into the box')
    assert img.info['mix_ops'] == ['resizemix'] * 8
    for i in range(8):
        j = int(batch.indices[i])
        small = F.interpolate(X[j:j + 1], size=(y1 - y0, x1 - x0), mode='bilinear', align_corners=False)[0]
        torch.testing.assert_close(batch.images[i, :, y0:y1, x0:x1], small, rtol=0, atol=1e-6)
        tl, tt = img.info['cutmix_tiles'][i]
        left, top, right, bottom = img.info['cutmix_boxes'][i]
        assert (left, top, right, bottom) == (tl + x0 * s, tt + y0 * s, tl + x1 * s - 1, tt + y1 * s - 1)
        for x, yy in [(left, top), (right, top), (left, bottom), (right, bottom)]:
            assert tuple(px[yy, x]) == BOX_COLOR


def test_fmix_draws_the_edge_of_the_partners_region():
    X, y = _grey_batch(n=4)
    batch = mix_preview_batch((X, y), n=4, seed=0, num_classes=10, algorithm=FMix())
    mask = batch.mask
    assert batch.title.startswith('FMix: one mask for the batch') and 0 < int(mask.sum()) < 400
    img = draw_mixed_batch(batch)
    px, s = _pixels(img), img.info['cutmix_scale']
    for i in range(4):
        j = int(batch.indices[i])
        assert torch.equal(batch.images[i], torch.where(mask, X[i], X[j]))
        tl, tt = img.info['cutmix_tiles'][i]
        for r in range(20):
            for c in range(20):
                centre = tuple(px[tt + r * s + s // 2, tl + c * s + s // 2])
                if mask[r, c]:  # own pixels are never painted
                    assert centre != BOX_COLOR
                    continue
                # a partner pixel with an own pixel above it: the top row of its upscaled square is the edge
                if r > 0 and mask[r - 1, c]:
                    assert tuple(px[tt + r * s, tl + c * s + s // 2]) == BOX_COLOR
                neighbours = [mask[a, b] for a, b in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                              if 0 <= a < 20 and 0 <= b < 20]
                if not any(neighbours):  # deep in the partner's region: no edge
                    assert centre != BOX_COLOR


def test_random_mix_preview_names_the_op_of_each_batch(tmp_path, capsys):
    ops = {'mixup': {'alpha': 0.8}, 'cutmix': {}, 'resizemix': {}, 'fmix': {}}
    cfg = {**CFG, 'algorithms': {'random_mix': {'ops': ops, 'probs': [0.1, 0.1, 0.1, 0.1]}}}  # scaled to sum to 1
    names = {'mixup': 'MixUp', 'cutmix': 'CutMix', 'resizemix': 'ResizeMix', 'fmix': 'FMix'}
    img = preview_batch(cfg, n=4, batches=6)
    picked = [grid[0] for grid in img.info['mix_ops_per_grid']]
    assert set(picked) == set(names), picked
    for seed, op in enumerate(picked):  # grid b is drawn with seed b
        title = mix_preview_batch(cfg, n=4, seed=seed).title
        assert title.startswith(f'RandomMix picked {names[op]} for this batch. {names[op]}'), title
    out = tmp_path / 'random_mix.png'
    overrides = ['algorithms.cutmix=false', 'algorithms.random_mix.ops.fmix={}', 'train_data.augment=false']
    assert main(['preview', str(ROOT / 'yamls' / 'synthetic.yaml'), *overrides, '--out', str(out), '--n', '4']) == 0
    assert out.is_file() and 'wrote' in capsys.readouterr().out
