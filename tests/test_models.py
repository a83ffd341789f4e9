"""The model registry: offline pretrained weights that really classify, honest errors, one front door."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch
from PIL import Image
from skimage.data import coffee
from timm.data import ImageNetInfo

from engine.errors import UserError, WeightsUnavailable
from engine.models import BuiltModel, available_offline, build, get_spec, list_models
from engine.models import weights as weights_mod
from engine.preprocess import MAX_SIDE, preprocess

OFFLINE_MODELS = {
    "tf_efficientnet_lite0",
    "tf_efficientnet_lite1",
    "tf_efficientnet_lite2",
    "mobilenetv2_100",
}
ESPRESSO = ImageNetInfo().label_names().index("n07920052")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test may reach the network or read the developer's own weight cache."""
    monkeypatch.setenv("KONSTRUKTOR_OFFLINE", "1")
    monkeypatch.setenv("KONSTRUKTOR_WEIGHTS_DIR", str(tmp_path / "weight-cache"))


def probabilities(built: BuiltModel, image: Image.Image) -> torch.Tensor:
    x = torch.from_numpy(preprocess(image, built.preprocess))[None]
    with torch.inference_mode():
        return built.model.eval()(x).softmax(-1)[0]


def tensors_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------- pretrained weights that work offline


# Measured: lite0 0.951, lite1 0.544, lite2 0.885, mobilenetv2_100 0.992 (lite1 is less sure but still top-1).
@pytest.mark.parametrize(
    ("name", "min_p"),
    [
        ("tf_efficientnet_lite0", 0.8),
        ("tf_efficientnet_lite1", 0.45),
        ("tf_efficientnet_lite2", 0.8),
        ("mobilenetv2_100", 0.8),
    ],
)
def test_offline_imagenet_weights_see_espresso_in_the_coffee_photo(name, min_p):
    built = build(name, 1000)
    p = probabilities(built, Image.fromarray(coffee()))
    assert built.pretrained
    assert "installed package" in built.weights_source
    assert int(p.argmax()) == ESPRESSO
    assert float(p[ESPRESSO]) > min_p


def test_mobilenetv2_mapped_onto_timm_gives_the_same_logits_as_torchvision():
    from torchvision.models import mobilenet_v2

    reference = mobilenet_v2()
    reference.load_state_dict(torch.load(weights_mod.package_file("mobilenetv2_100"), weights_only=True))
    ours = build("mobilenetv2_100", 1000).model
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        assert torch.allclose(ours.eval()(x), reference.eval()(x), atol=1e-4)


def test_the_package_file_passed_as_user_weights_is_renamed_and_loaded():
    from_package = build("tf_efficientnet_lite0", 1000)
    from_file = build(
        "tf_efficientnet_lite0",
        1000,
        pretrained=False,
        weights=weights_mod.package_file("tf_efficientnet_lite0"),
    )
    assert from_file.pretrained and from_file.weights_source.startswith("your weights file")
    assert tensors_equal(from_package.model, from_file.model)


# ---------------------------------------------------------------- shapes, embeddings, layer groups


@pytest.mark.parametrize(
    ("name", "pretrained"),
    [
        ("tf_efficientnet_lite0", True),
        ("mobilenetv2_100", True),
        ("resnet18", False),
        ("vit_tiny_patch16_224", False),
        ("convnext_atto", False),
    ],
)
def test_a_three_class_model_has_three_logits_an_embedding_and_complete_layer_groups(name, pretrained):
    built = build(name, 3, pretrained=pretrained)
    model = built.model.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        assert model(x).shape == (2, 3)
        assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, built.embed_dim)
    grouped = [id(p) for group in built.layer_groups for p in group]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # every parameter exactly once
    assert {id(p) for p in built.layer_groups[-1]} == {id(p) for p in model.get_classifier().parameters()}
    assert len(built.layer_groups) >= 4 and all(built.layer_groups)
    assert model.get_classifier().out_features == 3
    if pretrained:
        assert built.weights_source.endswith("new classifier for 3 classes")


def test_efficientnet_groups_run_stem_stages_head_conv_then_classifier():
    built = build("tf_efficientnet_lite0", 5, pretrained=False)
    m = built.model
    names = {id(p): n for n, p in m.named_parameters()}
    first, head_conv = [[names[id(p)] for p in g] for g in (built.layer_groups[0], built.layer_groups[-2])]
    assert all(n.startswith(("conv_stem", "bn1")) for n in first)
    assert all(n.startswith(("conv_head", "bn2")) for n in head_conv)
    assert len(built.layer_groups) == 1 + len(m.blocks) + 1 + 1


def test_preprocess_config_is_plain_serialisable_data_and_image_size_keeps_crop():
    built = build("tf_efficientnet_lite1", 4, image_size=192)
    cfg = built.preprocess
    assert set(cfg) == {"input_size", "crop_pct", "interpolation", "mean", "std", "max_side"}
    assert json.loads(json.dumps(cfg)) == cfg
    assert cfg["input_size"] == 192 and cfg["max_side"] == MAX_SIDE
    assert cfg["crop_pct"] == pytest.approx(0.882)
    assert cfg["mean"] == [0.5, 0.5, 0.5] and cfg["std"] == [0.5, 0.5, 0.5]
    mobilenet = build("mobilenetv2_100", 4).preprocess
    assert mobilenet["interpolation"] == "bilinear"
    assert mobilenet["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_a_vit_built_for_another_image_size_resamples_cached_position_embeddings(tmp_path):
    torch.save(
        build("vit_tiny_patch16_224", 1000, pretrained=False).model.state_dict(),
        tmp_path / "vit_tiny_patch16_224.pth",
    )
    built = build("vit_tiny_patch16_224", 2, image_size=160, cache_dir=tmp_path)
    assert built.pretrained and built.preprocess["input_size"] == 160
    with torch.inference_mode():
        assert built.model.eval()(torch.randn(1, 3, 160, 160)).shape == (1, 2)


# ---------------------------------------------------------------- no weights: say so, quickly, never pretend


def test_a_model_without_offline_weights_fails_fast_with_a_helpful_sentence(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried the network while KONSTRUKTOR_OFFLINE=1")

    monkeypatch.setattr(socket, "create_connection", no_network)
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable) as caught:
        build("efficientnet_b3", 3)
    assert time.monotonic() - start < 5
    message = str(caught.value)
    for part in (
        "efficientnet_b3",
        "tf_efficientnet_lite0/1/2 or mobilenetv2_100",
        "--weights FILE",
        "--mode scratch",
        "weight-cache",
    ):
        assert part in message


def test_scratch_training_needs_no_weights():
    built = build("efficientnet_b3", 3, pretrained=False)
    assert not built.pretrained and built.weights_source == "none (trained from scratch)"
    assert built.family == "timm" and built.name == "efficientnet_b3"


def test_a_model_timm_publishes_no_weights_for_says_so():
    with pytest.raises(WeightsUnavailable, match="timm publishes no ImageNet weights"):
        build("efficientnet_b6", 3)


def test_the_connectivity_probe_answers_within_seconds(monkeypatch):
    monkeypatch.delenv("KONSTRUKTOR_OFFLINE")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setattr(weights_mod, "HUB_HOST", server.getsockname())
        assert weights_mod.downloads_allowed()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setattr(weights_mod, "HUB_HOST", closed.getsockname())
        start = time.monotonic()
        assert not weights_mod.downloads_allowed()
        assert time.monotonic() - start < 3
    monkeypatch.setenv("KONSTRUKTOR_OFFLINE", "1")
    assert not weights_mod.downloads_allowed()


def test_hub_weights_are_cached_and_reused_offline(monkeypatch, tmp_path):
    """The online path, with timm's download replaced by a local model so the test stays offline."""
    monkeypatch.delenv("KONSTRUKTOR_OFFLINE")
    monkeypatch.setattr(weights_mod, "downloads_allowed", lambda: True)
    real_create = timm.create_model
    downloaded = {}

    def fake_create(name, pretrained=False, **kwargs):
        model = real_create(name, pretrained=False, **kwargs)
        if pretrained:
            downloaded["model"] = model
        return model

    monkeypatch.setattr(timm, "create_model", fake_create)
    online = build("resnet18", 1000, cache_dir=tmp_path)
    assert online.pretrained and "Hugging Face hub" in online.weights_source
    assert (tmp_path / "resnet18.pth").is_file()
    assert tensors_equal(online.model, downloaded["model"])

    monkeypatch.setenv("KONSTRUKTOR_OFFLINE", "1")
    offline = build("resnet18", 1000, cache_dir=tmp_path)
    assert "cache file" in offline.weights_source and tensors_equal(offline.model, online.model)


# ---------------------------------------------------------------- the weight cache and the user's own file


def test_a_file_in_the_weight_cache_beats_the_package(monkeypatch, tmp_path):
    mine = build("tf_efficientnet_lite0", 1000, pretrained=False)
    torch.save(mine.model.state_dict(), tmp_path / "tf_efficientnet_lite0.pth")
    monkeypatch.setenv("KONSTRUKTOR_WEIGHTS_DIR", str(tmp_path))
    assert available_offline("efficientnet_b3") is False
    built = build("tf_efficientnet_lite0", 1000)
    assert str(tmp_path) in built.weights_source and tensors_equal(built.model, mine.model)


def test_a_user_weights_file_round_trips_exactly_even_when_wrapped(tmp_path):
    trained = build("tf_efficientnet_lite0", 3, pretrained=False)
    torch.save({"epoch": 4, "state_dict": trained.model.state_dict()}, tmp_path / "mine.pt")
    loaded = build("tf_efficientnet_lite0", 3, weights=tmp_path / "mine.pt")
    assert loaded.pretrained and loaded.weights_source == f"your weights file {tmp_path / 'mine.pt'}"
    assert tensors_equal(loaded.model, trained.model)


def test_a_user_file_with_another_class_count_loads_the_backbone_only(tmp_path):
    source = build("mobilenetv2_100", 1000)
    torch.save(source.model.state_dict(), tmp_path / "imagenet.pth")
    built = build("mobilenetv2_100", 7, weights=tmp_path / "imagenet.pth")
    assert torch.equal(built.model.conv_stem.weight, source.model.conv_stem.weight)
    assert built.model.get_classifier().out_features == 7
    assert built.weights_source.endswith("new classifier for 7 classes")


@pytest.mark.parametrize("kind", ["garbage", "other-architecture", "missing"])
def test_an_unusable_user_weights_file_is_a_user_error(tmp_path, kind):
    path = tmp_path / "weights.pth"
    if kind == "garbage":
        path.write_bytes(b"this is not a checkpoint" * 100)
    elif kind == "other-architecture":
        torch.save(build("resnet18", 3, pretrained=False).model.state_dict(), path)
    with pytest.raises(UserError) as caught:
        build("tf_efficientnet_lite0", 3, weights=path)
    assert str(path) in str(caught.value)


# ---------------------------------------------------------------- the registry


def test_list_models_is_fast_and_flags_offline_weights_honestly():
    code = (
        "import sys, time; t = time.perf_counter(); from engine.models import list_models; "
        "specs = list_models(); print(time.perf_counter() - t, 'torch' in sys.modules, len(specs))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    seconds, imported_torch, count = out.stdout.split()
    assert float(seconds) < 1 and imported_torch == "False" and int(count) >= 17

    specs = {s.name: s for s in list_models("image-classification")}
    assert {n for n, s in specs.items() if s.pretrained_offline} == OFFLINE_MODELS
    others = {"efficientnet_lite0", "resnet18", "resnet50", "vit_tiny_patch16_224", "convnext_atto"}
    assert {f"efficientnet_b{i}" for i in range(8)} | others <= set(specs)
    assert all(s.description and s.weights_hint for s in specs.values())
    assert {s.family for s in specs.values()} == {"timm", "ultralytics"}
    for name in OFFLINE_MODELS:
        assert available_offline(name)
    assert not available_offline("efficientnet_b3")


def test_registered_sizes_match_timm():
    for spec in [s for s in list_models() if s.family == "timm"]:  # YOLO sizes: tests/test_yolo.py
        with torch.device("meta"):
            model = timm.create_model(spec.name, pretrained=False)
        measured = sum(p.numel() for p in model.parameters()) / 1e6
        assert spec.params_m == pytest.approx(measured, abs=0.001), spec.name
        assert spec.input_size == model.pretrained_cfg["input_size"][-1], spec.name


def test_aliases_and_unknown_names():
    assert get_spec("MobileNetV2").name == "mobilenetv2_100"
    assert get_spec("efficientnet-lite0").name == "tf_efficientnet_lite0"
    assert get_spec("efficientnet_lite0").name == "efficientnet_lite0"
    assert not get_spec("efficientnet_lite0").pretrained_offline
    with pytest.raises(UserError, match=r"efficientnet_b\d.*python -m engine models"):
        get_spec("efficientnet_b9")
    with pytest.raises(UserError):
        build("tf_efficientnet_lite0", 0)


def test_families_are_plain_data_read_without_torch():
    code = (
        "import json, sys; from engine.models import FAMILIES, get_family, get_spec; "
        "out = {name: {'offered': {s: list(get_family(name).offered_modes(get_spec(s))) for s in "
        "('tf_efficientnet_lite0', 'resnet18', 'yolo11n-cls') if get_spec(s).family == name}, "
        "'rate': list(get_family(name).rate_reference), 'requires': list(get_family(name).package_requirements), "
        "'batch': get_family(name).default_batch} for name in FAMILIES}; "
        "print(json.dumps({'families': out, 'torch': 'torch' in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1])
    report = json.loads(out.stdout)
    assert report["torch"] is False
    families = report["families"]
    assert families["timm"]["offered"] == {"tf_efficientnet_lite0": ["linear-probe", "fine-tune"], "resnet18": []}
    assert families["ultralytics"]["offered"] == {"yolo11n-cls": ["full"]}
    assert families["timm"]["rate"] == ["tf_efficientnet_lite0", 4.652, 224]
    assert families["ultralytics"]["rate"] == ["yolo11n-cls", 2.8, 224]
    assert families["timm"]["requires"] == ["timm>=1.0"] and families["ultralytics"]["requires"] == ["ultralytics>=8.3"]
    assert families["timm"]["batch"] == 32 and families["ultralytics"]["batch"] == 16


def test_every_model_says_which_tasks_it_serves_and_the_cli_lists_them():
    tasks = (("image-classification",), ("object-detection",), ("text-classification",))
    assert all(spec.tasks in tasks for spec in list_models())
    classifiers = [s.name for s in list_models("image-classification")]
    detectors = [s.name for s in list_models("object-detection")]
    texts = [s.name for s in list_models("text-classification")]
    assert not set(classifiers) & set(detectors) and not set(texts) & (set(classifiers) | set(detectors))
    assert set(classifiers) | set(detectors) | set(texts) == {s.name for s in list_models()}
    assert {"yolo11n", "fcos-mobilenetv2"} <= set(detectors) and "yolo11n-cls" in classifiers
    assert {"text-auto", "e5-small-multilingual", "use-multilingual", "minilm-l6", "tfidf-char"} == set(texts)
    out = subprocess.run([sys.executable, "-m", "engine", "models", "--json"], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    listed = json.loads(out.stdout)
    assert listed and {tuple(entry["tasks"]) for entry in listed} == set(tasks)


def test_an_unknown_family_is_a_user_error():
    from engine.models import get_family

    with pytest.raises(UserError, match="timm, ultralytics"):
        get_family("keras")
