/**
 * The base model of OPPU: a Llama-family decoder with PEFT-compatible LoRA on DJL's PyTorch engine (CPU, float32).
 * One decoder runs four families of checkpoints (Llama 3.x, Mistral, Qwen2/2.5, Qwen3); each is a small delta.
 *
 * <ul>
 *   <li>{@link dev.oppu.model.LlamaConfig}: the hyperparameters ({@code config.json}); {@code defaultSmall()} is the
 *       project's default base model shape.
 *   <li>{@link dev.oppu.model.Family}: what a family changes (q/k/v biases, Qwen3's q/k norm, a sliding window over
 *       some layers); anything else is refused at load. {@link dev.oppu.model.Rope}: default, linear and llama3
 *       rotary frequencies, from {@code rope_theta} + {@code rope_scaling} or {@code rope_parameters}.
 *   <li>{@link dev.oppu.model.LlamaModel}: {@code load(dir, manager)}, {@code save(dir)}, {@code random(config,
 *       seed, manager)}, {@code fingerprint()}, {@code forward(ids, mask, positions, loraBatch, kvCache, lastOnly,
 *       training)}, {@code merge/unmerge(adapter)}.
 *   <li>{@link dev.oppu.model.LoraConfig} and {@link dev.oppu.model.LoraAdapter}: {@code create(modelConfig, config,
 *       seed, manager)}, {@code loadPeft/savePeft}, {@code toBytes/fromBytes}, {@code parameters()} (live tensors by
 *       PEFT key, for an optimizer).
 *   <li>{@link dev.oppu.model.LoraBatch}: one adapter for all rows, or one (or none) per row, stacked for batched
 *       matmuls.
 *   <li>{@link dev.oppu.model.CausalLm}: {@code promptAnswerBatch}, {@code loss} and {@code lossAt} (the one
 *       training objective, equal to HF), {@code gradientCollector} (the only place a GradientCollector is opened,
 *       under the JVM-wide {@code GRADIENT_LOCK}), {@code lossAndGradients}, {@code continuationLogProbs}.
 *   <li>{@link dev.oppu.model.Generator}: batched KV-cache generation, per-row adapters, greedy or sampling.
 *   <li>{@link dev.oppu.model.TextTokenizer}: {@code tokenizer.json} through DJL's HuggingFace tokenizers.
 *   <li>{@link dev.oppu.model.Safetensors}: the file format (F32/F16/BF16 read as float32 tensor by tensor through
 *       a small staging buffer, sharded checkpoints): loading holds one float32 copy of the weights.
 *   <li>{@link dev.oppu.model.Scalars}: number operands for differentiable ops ({@code x.mul(Scalars.of(x, c))});
 *       DJL's {@code x.mul(c)} leaves backward reading a freed Java buffer.
 * </ul>
 *
 * <p>Memory: float32 only (DJL 0.36 aborts on bf16 arithmetic; fp16 matmul is ~100x slower), so a 24 GiB machine
 * holds models up to about 1 B parameters. Forward passes free their intermediates through {@code NDScope}; merging
 * must not run concurrently with forward passes on the same model.
 */
package dev.oppu.model;
