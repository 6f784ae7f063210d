# Builds fixtures/hf-llama-mha (and the rest of fixtures/ that transformers made) with Hugging Face transformers + PEFT (CPU math, float32).
# Needs Python with torch, transformers, peft, tokenizers and safetensors. Writes fixtures.tgz to $FIXTURES_OUT
# (default target/fixtures-build, inside the repository; run it from the repository root).
import os, json, sys, tarfile, glob, torch
from pathlib import Path
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
out = Path(os.environ.get("FIXTURES_OUT", "target/fixtures-build")); out.mkdir(parents=True, exist_ok=True); root = out / "work"; root.mkdir(exist_ok=True)
torch.use_deterministic_algorithms(True)

def build(name, seed, cfg_kw, lora_kw):
    torch.manual_seed(seed)
    d = root / name; d.mkdir(exist_ok=True)
    cfg = LlamaConfig(**cfg_kw, torch_dtype="float32")
    model = LlamaForCausalLM(cfg).eval()
    model.save_pretrained(d / "base", safe_serialization=True)
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, cfg.vocab_size, (3, 24), generator=g)
    attn = torch.ones_like(ids)
    with torch.no_grad():
        base_logits = model(ids).logits
    lcfg = LoraConfig(init_lora_weights=False, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM", **lora_kw)
    pm = get_peft_model(model, lcfg)
    pm.eval()
    with torch.no_grad():
        lora_logits = pm(ids).logits
    pm.save_pretrained(d / "adapter")
    # training reference: causal-LM loss with the first 10 positions masked (-100), grads of LoRA params
    labels = ids.clone(); labels[:, :10] = -100
    pm.train()
    out_ = pm(input_ids=ids, labels=labels)
    out_.loss.backward()
    grads = {n.replace("base_model.model.", "") + ".grad": p.grad.detach().clone() for n, p in pm.named_parameters() if p.requires_grad}
    # merged logits
    merged = pm.merge_and_unload().eval()
    with torch.no_grad():
        merged_logits = merged(ids).logits
    # greedy generation from the base model, 8 new tokens, from the first 6 tokens of each row
    base = LlamaForCausalLM.from_pretrained(d / "base").eval()
    with torch.no_grad():
        gen = base.generate(ids[:, :6], attention_mask=attn[:, :6], max_new_tokens=8, do_sample=False, pad_token_id=0)
    ref = {"input_ids": ids.to(torch.int64), "base_logits": base_logits, "lora_logits": lora_logits,
           "merged_logits": merged_logits, "loss": out_.loss.detach().reshape(1), "labels": labels.to(torch.int64),
           "greedy_ids": gen.to(torch.int64)}
    ref.update(grads)
    save_file({k: v.contiguous() for k, v in ref.items()}, d / "reference.safetensors")
    print(name, "loss", float(out_.loss), "grads", len(grads), "max|lora-base|", float((lora_logits - base_logits).abs().max()))

build("hf-llama-mha", 11, dict(vocab_size=512, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128, rms_norm_eps=1e-6,
      rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2),
      dict(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
# a small byte-level BPE tokenizer trained on local text, with reference encodings
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders
files = sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True))[:400]
tok = Tokenizer(models.BPE(unk_token=None))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tr = trainers.BpeTrainer(vocab_size=512, special_tokens=["<pad>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train(files, tr)
tok.save(str(root / "hf-llama-mha" / "tokenizer.json"))
samples = ["Which tag does this movie relate to among the following tags?", "description: A boy and his dog. tag: comedy",
           "Ünïcödé text — with dashes & symbols!", "  leading spaces\nand newlines\t tabs"]
json.dump([{"text": s, "ids": tok.encode(s).ids} for s in samples], open(root / "hf-llama-mha" / "tokenizer_reference.json", "w"), indent=1)
import transformers, peft
json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
          open(root / "VERSIONS.json", "w"))
with tarfile.open(out / "fixtures.tgz", "w:gz") as t:
    t.add(root, arcname="fixtures")
print("ok", transformers.__version__, peft.__version__)
