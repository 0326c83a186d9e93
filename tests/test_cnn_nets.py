"""The networks: shapes, sizes, the crops they accept, and one training step on real faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.cnn import nets
from models.cnn.names import ARCHITECTURES, MIN_CROP
from models.cnn.nets import build_net, count_parameters
from tests.stage_helpers import repo_params

# Measured once and written into count_parameters' docstring (7 classes, 1 input channel).
PARAMETERS = {
    "mini_xception": 56_951,
    "vgg": 20_032_327,  # VGG19-BN convolutions, one linear layer
    "resnet18": 11_171_271,
    "alexnet": 37_306_055,  # two 4096-unit layers hold 33.6M of them
    "lenet": 61_451,
    "resnet34": 21_279_431,
    "mobilenet_v2": 2_232_263,
    "vgg16": 14_721_351,
    "vgg_small": 1_165_159,
}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_nets_map_grey_crops_to_seven_logits(arch: str) -> None:
    torch.manual_seed(0)
    net = build_net(arch, n_classes=7).eval()
    for size in (repo_params().cnn.arch(arch).crop, MIN_CROP[arch]):
        with torch.inference_mode():
            assert net(torch.randn(2, 1, size, size)).shape == (2, 7)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_parameter_counts_are_the_documented_ones(arch: str) -> None:
    n = count_parameters(build_net(arch))
    assert n == PARAMETERS[arch]
    assert f"{n:,} for {arch}" in " ".join(nets.count_parameters.__doc__.split())


def test_the_deeper_variants_share_their_family_s_blocks() -> None:
    resnet18, resnet34 = build_net("resnet18"), build_net("resnet34")
    assert type(resnet18) is type(resnet34) and len(resnet34.blocks) == 3 + 4 + 6 + 3
    vggs = [build_net(arch) for arch in ("vgg", "vgg16", "vgg_small")]
    convs = [sum(isinstance(m, torch.nn.Conv2d) for m in n.modules()) for n in vggs]
    assert {type(n) for n in vggs} == {type(vggs[0])} and convs == [16, 13, 7]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_has_a_recipe_block_within_its_crop_limit(arch: str) -> None:
    cfg = repo_params().cnn.arch(arch)
    assert MIN_CROP[arch] <= cfg.crop <= 48


def test_the_minimum_crops_are_the_smallest_that_fill_the_dense_layers() -> None:
    # AlexNet's and LeNet-5's dense layers need their feature maps no smaller than 4x4 and 5x5.
    assert MIN_CROP["alexnet"] == 39 and MIN_CROP["lenet"] == 32
    alex = build_net("alexnet").eval()
    assert alex.features(torch.zeros(1, 1, 39, 39)).shape[-1] == 4
    assert alex.features(torch.zeros(1, 1, 38, 38)).shape[-1] == 3
    lenet = build_net("lenet").eval()
    assert lenet.features[:-1](torch.zeros(1, 1, 32, 32)).shape[-1] == 5
    assert lenet.features[:-1](torch.zeros(1, 1, 31, 31)).shape[-1] == 4


@pytest.fixture(autouse=True)
def _one_thread():
    # Two threads on a loaded 2-core machine spin against each other (10x slower than one).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def faces(real_faces) -> tuple[torch.Tensor, torch.Tensor]:
    """16 real FER2013 faces (float, standardised, (16, 1, 48, 48)) and their labels."""
    images, labels = real_faces
    x = torch.from_numpy(images[:16].astype(np.float32)).unsqueeze(1)
    return (x - x.mean()) / x.std(), torch.from_numpy(labels[:16].astype(np.int64))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_training_step_lowers_the_loss_on_real_faces(arch: str, faces) -> None:
    # Centre crops at the network's smallest side keep the deep networks' step to a second or so.
    side = MIN_CROP[arch]
    start = (48 - side) // 2
    x, y = faces[0][:, :, start : start + side, start : start + side], faces[1]
    cfg = repo_params().cnn.arch(arch)
    torch.manual_seed(0)
    net = build_net(arch, n_classes=7, dropout=0.0).train()  # no dropout: the same function twice
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    before = loss_fn(net(x), y)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = loss_fn(net(x), y)
    assert torch.isfinite(before) and after < before


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'resnet50'"):
        build_net("resnet50")
