#!/usr/bin/env python3
"""Tiny random LLaVA checkpoints, sample photographs and transformers reference dumps for `erank mm`.

Needs the venv from tools/setup_venv.sh (torch, transformers 5.x, pillow, scikit-image).
Run:  .venv/bin/python tools/make_llava_fixtures.py
Writes tests/fixtures/llava/:
  images/       photographs from scikit-image (cropped small): PNG (RGB, grey, RGBA) and JPEG
  pairs.jsonl   {"image": "images/...", "text": ...} (paths relative to the file)
  model/        LlavaForConditionalGeneration as transformers 5 saves it (language_model.model.*,
                language_model.lm_head.weight, vision_tower.* (no vision_model.), multi_modal_projector.*),
                the processor in processor_config.json
  model-prefixed/ the same weights under the names transformers 4.52-4.57 wrote
                (model.language_model.*, model.vision_tower.vision_model.*, model.multi_modal_projector.*,
                lm_head.weight) and a top-level preprocessor_config.json, as llava-hf repos have
  pixels.safetensors   CLIPImageProcessorPil / LlavaImageProcessorPil outputs, per image and variant
                       ("<variant>.<image>" float32 [3, H, W]); variants in metadata["variants"]
  ref.safetensors      per pair i and rotation r in {0, 90} (clockwise):
      vision.<r>.<i>   float32 [L+1, P+1, dv]  vision tower hidden_states (CLS first)
      proj.<r>.<i>     float32 [P, dt]         multi_modal_projector output
      lm_image.<r>.<i> / lm_text.<i> / lm_both.<r>.<i>  float32 [N, dt] LM last hidden state
      ids_image.<i> / ids_text.<i> / ids_both.<i>       int32 [N] the processor's input ids
      erank.<r>        float64 [n_pairs, 5]  eRank1..5, the published eRank function (float64)
Every forward runs alone (batch 1), eager attention, float32.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import PIL
import skimage
import skimage.data
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Tokenizer
from tokenizers.processors import TemplateProcessing
from transformers import (CLIPImageProcessorPil, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                          LlavaForConditionalGeneration, LlavaImageProcessorPil, LlavaProcessor,
                          PreTrainedTokenizerFast)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "llava"
TEMPLATE = "USER: <image>\n{text} ASSISTANT:"
SIZE = 56  # image_size of the tiny tower: 4 x 4 patches of 14 pixels


def images():
    """name -> PIL image, saved under images/ (small crops keep the fixture small)."""
    astro = skimage.data.astronaut()  # 512 x 512 RGB
    chelsea = skimage.data.chelsea()  # 300 x 451 RGB
    coffee = skimage.data.coffee()  # 400 x 600 RGB
    camera = skimage.data.camera()  # 512 x 512 grey
    rgba = np.dstack([astro[100:260:2, 140:340:2], np.linspace(0, 255, 100, dtype=np.uint8)[None, :].repeat(80, 0)])
    out = {
        "astronaut.png": Image.fromarray(astro[20:220, 150:330]),  # 200 x 180
        "chelsea.jpg": Image.fromarray(chelsea[40:280, 60:380]),  # 240 x 320, saved as JPEG
        "coffee.png": Image.fromarray(coffee[100:250:1, 150:370]),  # 150 x 220
        "camera_grey.png": Image.fromarray(camera[100:196, 200:330]),  # 96 x 130, mode L
        "astronaut_rgba.png": Image.fromarray(rgba, "RGBA"),  # 80 x 100, alpha ramp
        "coffee_tiny.png": Image.fromarray(coffee[150:174, 200:241]),  # 24 x 41: upsampling
    }
    return out


def tokenizer():
    tok = Tokenizer.from_file(str(ROOT / "tests" / "fixtures" / "tokenizer" / "bpe-metaspace" / "tokenizer.json"))
    tok.post_processor = TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    tok.add_special_tokens(["<image>"])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=4096)


def image_processor(**kw):
    args = dict(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE})
    args.update(kw)
    return CLIPImageProcessorPil(**args)


def perturb(model):
    """Every parameter drawn anew so that each code path (biases, norm gains) shows in the output."""
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "layrnorm" in name:
                if name.endswith("weight"):
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name or "class_embedding" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif "position_embedding" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)


def erank_published(R):
    """The Diff-eRank code's normalize -> cal_cov -> cal_erank, in float64."""
    R = R.double()
    R = R - R.mean(dim=0)
    R = R / torch.norm(R, p=2, dim=1, keepdim=True)
    A = R.T @ R / R.shape[0]
    s = torch.linalg.svdvals(A / torch.trace(A))
    return float(torch.exp(-torch.nansum(s * torch.log(s))))


def rotate_cw(img, deg):
    return img if deg == 0 else img.rotate(-deg, expand=True)


def prefixed_name(k):
    if k.startswith("language_model.model."):
        return "model.language_model." + k[len("language_model.model."):]
    if k == "language_model.lm_head.weight":
        return "lm_head.weight"
    if k.startswith("vision_tower."):  # transformers 5 flattens CLIPVisionModel's vision_model
        return "model.vision_tower.vision_model." + k[len("vision_tower."):]
    if k.startswith("multi_modal_projector."):
        return "model." + k
    raise ValueError(k)


def main():
    torch.manual_seed(0)
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "images").mkdir(parents=True)
    imgs = images()
    for name, im in imgs.items():
        if name.endswith(".jpg"):
            im.save(OUT / "images" / name, quality=90)
        else:
            im.save(OUT / "images" / name)
    (OUT / "images" / "corrupt.png").write_bytes((OUT / "images" / "coffee.png").read_bytes()[:300])
    Image.fromarray(skimage.data.coffee()[:8, :8]).save(OUT / "images" / "unsupported.bmp")
    texts = ["Describe the person in this picture and what they are wearing. The astronaut wears a white "
             "suit and holds a helmet in front of a flag.",
             "What animal is this? It is a cat with striped fur, looking straight at the camera.",
             "What is on the table? A cup of coffee on a saucer, with a spoon beside it."]
    pair_images = ["astronaut.png", "chelsea.jpg", "coffee.png"]
    with open(OUT / "pairs.jsonl", "w") as f:
        for im, t in zip(pair_images, texts):
            f.write(json.dumps({"image": "images/" + im, "text": t}) + "\n")

    # Pixels: the model's processor, a crop smaller than the resize, and LLaVA's pad-to-square.
    variants = {
        "clip": image_processor(),
        "crop": image_processor(size={"shortest_edge": 64}, crop_size={"height": 48, "width": 56}),
        "pad": LlavaImageProcessorPil(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE},
                                      do_pad=True),
    }
    pixels = {}
    for vname, proc in variants.items():
        for name in imgs:
            for deg in (0, 90, 270) if vname == "clip" else (0,):
                if vname != "clip" and name not in ("chelsea.jpg", "coffee.png", "camera_grey.png"):
                    continue
                im = rotate_cw(Image.open(OUT / "images" / name), deg)
                px = np.asarray(proc(im)["pixel_values"][0])
                pixels[f"{vname}{deg or ''}.{name}"] = torch.from_numpy(px).float().contiguous()
    save_file(pixels, str(OUT / "pixels.safetensors"),
              metadata={"variants": json.dumps({k: v.to_dict() for k, v in variants.items()}, default=str),
                        "pillow": PIL.__version__, "transformers": transformers.__version__})

    tok = tokenizer()
    image_id = tok.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                              image_size=SIZE, patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                              projection_dim=32, attention_dropout=0.0)
    text = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
                       tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                       rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_id,
                      image_seq_length=(SIZE // 14) ** 2, vision_feature_layer=-2,
                      vision_feature_select_strategy="default", projector_hidden_act="gelu")
    cfg._attn_implementation = "eager"
    model = LlavaForConditionalGeneration(cfg).eval()
    perturb(model)
    processor = LlavaProcessor(image_processor=image_processor(), tokenizer=tok, patch_size=14,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1)
    model.save_pretrained(OUT / "model")
    processor.save_pretrained(OUT / "model")
    # The layout of transformers 4.52-4.57: same config, tensors under model.*, and the image
    # processor in its own preprocessor_config.json.
    shutil.copytree(OUT / "model", OUT / "model-prefixed")
    from safetensors.torch import load_file
    sd = load_file(str(OUT / "model" / "model.safetensors"))
    assert all(k.startswith(("language_model.", "vision_tower.", "multi_modal_projector.")) for k in sd), list(sd)
    save_file({prefixed_name(k): v for k, v in sd.items()}, str(OUT / "model-prefixed" / "model.safetensors"),
              metadata={"format": "pt"})
    pc = json.loads((OUT / "model" / "processor_config.json").read_text())
    (OUT / "model-prefixed" / "preprocessor_config.json").write_text(json.dumps(pc.pop("image_processor"), indent=2))
    (OUT / "model-prefixed" / "processor_config.json").write_text(json.dumps(pc, indent=2))

    ref, meta = {}, {"transformers": transformers.__version__, "torch": torch.__version__,
                     "pillow": PIL.__version__, "skimage": skimage.__version__, "template": TEMPLATE,
                     "images": json.dumps(pair_images)}
    n_layers = vision.num_hidden_layers
    with torch.no_grad():
        for deg in (0, 90):
            er = []
            for i, (name, t) in enumerate(zip(pair_images, texts)):
                im = rotate_cw(Image.open(OUT / "images" / name), deg)
                pv = processor.image_processor(im, return_tensors="pt")["pixel_values"]
                vout = model.model.vision_tower(pv, output_hidden_states=True)
                hs = torch.stack([h[0] for h in vout.hidden_states])  # [L+1, P+1, dv]
                feat = vout.hidden_states[-2][:, 1:]
                proj = model.model.multi_modal_projector(feat)[0]
                ref[f"vision.{deg}.{i}"] = hs.contiguous()
                ref[f"proj.{deg}.{i}"] = proj.contiguous()
                assert torch.allclose(proj, model.model.get_image_features(pixel_values=pv).pooler_output[0]
                                      if hasattr(model.model.get_image_features(pixel_values=pv), "pooler_output")
                                      else model.model.get_image_features(pixel_values=pv)[0], atol=1e-6)

                def lm(ids, pixel_values=None):
                    out = model(input_ids=ids, pixel_values=pixel_values, output_hidden_states=True)
                    return out.hidden_states[-1][0]

                enc_img = processor(text="<image>", images=im, return_tensors="pt")
                h_img = lm(enc_img["input_ids"], enc_img["pixel_values"])
                enc_both = processor(text=TEMPLATE.format(text=t), images=im, return_tensors="pt")
                h_both = lm(enc_both["input_ids"], enc_both["pixel_values"])
                ids_text = tok(t, return_tensors="pt")["input_ids"]
                h_text = lm(ids_text)
                ref[f"lm_image.{deg}.{i}"] = h_img.contiguous()
                ref[f"lm_both.{deg}.{i}"] = h_both.contiguous()
                if deg == 0:
                    ref[f"lm_text.{i}"] = h_text.contiguous()
                    ref[f"ids_image.{i}"] = enc_img["input_ids"][0].int()
                    ref[f"ids_both.{i}"] = enc_both["input_ids"][0].int()
                    ref[f"ids_text.{i}"] = ids_text[0].int()
                img_rows = enc_img["input_ids"][0] == image_id
                er.append([erank_published(feat[0]), erank_published(proj), erank_published(h_img[img_rows]),
                           erank_published(h_text), erank_published(h_both)])
            ref[f"erank.{deg}"] = torch.tensor(er, dtype=torch.float64)
            e = np.array(er)
            print(f"rotation {deg}: mean eRank1..5 {e.mean(0).round(4).tolist()}")
    meta["vision_layers"] = str(n_layers)
    save_file(ref, str(OUT / "ref.safetensors"), metadata=meta)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
