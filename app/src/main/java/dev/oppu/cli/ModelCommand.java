package dev.oppu.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.model.ModelCheck;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code oppu model ...}: tools around the base model. */
@Command(name = "model", subcommands = {ModelCommand.Check.class}, description = {"Model tools.",
    "Models run in float32 on CPU (bf16/fp16 checkpoints are converted as they load): a 24 GiB machine holds "
        + "models up to about 1B parameters (TinyLlama-1.1B takes 4.4 GB)."})
public final class ModelCommand {

  /** {@code oppu model check}: our model against tensors computed by transformers and PEFT. */
  @Command(name = "check", description = "Compare the model (and an adapter) with a reference safetensors file "
      + "(input_ids, base/lora/merged_logits, labels, loss, LoRA gradients, greedy_ids; or a left-padded one with "
      + "attention_mask, position_ids, logits, greedy_ids, lora_greedy_ids); prints one JSON object.")
  static final class Check implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Hugging Face checkpoint directory")
    Path model;

    @Option(names = "--adapter", description = "PEFT LoRA adapter directory")
    Path adapter;

    @Option(names = "--reference", required = true, description = "reference .safetensors file")
    Path reference;

    @picocli.CommandLine.Mixin
    DeviceOptions device = new DeviceOptions();

    @Option(names = "--prompt-length", defaultValue = "0",
        description = "prompt length of greedy_ids (default: inferred from input_ids)")
    int promptLength;

    @Override
    public Integer call() throws Exception {
      device.check();
      for (Path p : adapter == null ? new Path[] {model, reference} : new Path[] {model, reference, adapter}) {
        if (!Files.exists(p)) {
          throw new IllegalArgumentException(p + " does not exist");
        }
      }
      Map<String, Object> result = ModelCheck.run(model, adapter, reference, promptLength, device.djlDevice());
      System.out.println(new ObjectMapper().writeValueAsString(result));
      return 0;
    }
  }
}
