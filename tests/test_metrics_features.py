"""Feature extractors: Inception-v3 from a local weights file (never downloaded), and the feature cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.metrics.features import cache_key, cached_features, get_extractor
from training.metrics.inception import InceptionWeightsError, build_inception


def _random_inception_state(classes: int, aux: bool = False) -> dict[str, torch.Tensor]:
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=aux, init_weights=False, num_classes=classes)
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory) -> str:
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("w") / "pt_inception-like.safetensors"
    save_file(_random_inception_state(1008), str(path))
    return str(path)


def test_inception_from_safetensors_gives_2048_features_and_probabilities(fid_weights):
    extractor = get_extractor(f"inception:{fid_weights}")
    assert extractor.info["variant"] == "tf-fid-2015-12-05" and extractor.info["classes"] == 1008
    feats, probs = extractor(torch.rand(2, 3, 64, 48) * 2 - 1)
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all()
    assert probs.shape == (2, 1008)
    assert torch.allclose(probs.sum(1), torch.ones(2), atol=1e-4)
    assert extractor.name.startswith("inception:tf-fid-2015-12-05:")


def test_tf_fid_variant_pools_like_tensorflow(fid_weights):
    # Mixed_7c max-pools and the A/C/E blocks ignore padding in their average pools; torchvision's do not.
    net, _ = build_inception(fid_weights)
    from torchvision.models.inception import InceptionA, InceptionE

    assert net.Mixed_7c.max_pool is True and net.Mixed_7b.max_pool is False
    for block, plain, channels in ((net.Mixed_7c, InceptionE(2048), 2048), (net.Mixed_5b, InceptionA(192, 32), 192)):
        plain.load_state_dict(block.state_dict())  # torchvision's block with the same weights
        plain.eval()
        x = torch.randn(1, channels, 8, 8)
        out, ref = block(x), plain(x)
        assert out.shape == ref.shape and not torch.allclose(out, ref)
        # Padding-free average pooling only changes the border; max pooling changes the interior too.
        interior_equal = torch.allclose(out[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5)
        assert interior_equal == isinstance(plain, InceptionA)


def test_inception_from_torch_save_of_torchvision_imagenet_weights(tmp_path):
    path = tmp_path / "inception_v3_google.pth"
    torch.save(_random_inception_state(1000, aux=True), path)  # AuxLogits keys are dropped on load
    net, info = build_inception(path)
    assert info["variant"] == "torchvision-imagenet" and info["classes"] == 1000
    assert net.fc.out_features == 1000


def test_missing_and_wrong_inception_files_give_clear_sentences(tmp_path):
    with pytest.raises(InceptionWeightsError, match="never downloads"):
        get_extractor(f"inception:{tmp_path / 'nope.pth'}")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a weights file at all")
    with pytest.raises(InceptionWeightsError, match="cannot be read as a plain weights file"):
        build_inception(junk)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(10, 2048)}, wrong)
    with pytest.raises(InceptionWeightsError, match="not an Inception-v3 weights file"):
        build_inception(wrong)
    with pytest.raises(ValueError, match="needs the weights file"):
        get_extractor("inception")
    with pytest.raises(ValueError, match="unknown feature extractor"):
        get_extractor("vgg")


def test_inception_file_with_pickled_objects_is_refused_without_running_them(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": Evil()}, path)
    with pytest.raises(InceptionWeightsError, match="cannot be read"):
        build_inception(path)


def test_feature_cache_computes_once_per_key(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.png").write_bytes(b"x")
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(3, 2), np.full((3, 4), 0.25, dtype=np.float32)

    key = cache_key(data, "atelier:abc", 3)
    f1, p1, hit1 = cached_features(key, compute, tmp_path / "cache")
    f2, p2, hit2 = cached_features(key, compute, tmp_path / "cache")
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    assert np.array_equal(f1, f2) and np.array_equal(p1, p2)
    cached_features(cache_key(data, "atelier:abc", 4), compute, tmp_path / "cache")
    assert len(calls) == 2  # another n is another key
    (data / "b.png").write_bytes(b"y")
    cached_features(cache_key(data, "atelier:abc", 3), compute, tmp_path / "cache")
    assert len(calls) == 3  # a changed dataset misses the cache
