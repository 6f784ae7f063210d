package dev.oppu.cli;

import dev.oppu.model.LoraConfig;
import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.optim.AdamW;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * LoRA and optimizer overrides shared by the commands that train adapters ({@code adapt-task}, {@code run trainer},
 * {@code bench personalize}); each command supplies its own defaults ({@link dev.oppu.trainer.TrainerDefaults}).
 */
public final class AdapterTrainingOptions {

  @Option(names = "--epochs",
      description = "epochs per training run; alone, exactly that many, with --min-steps the fewest (default: the"
          + " command's)")
  Integer epochs;

  @Option(names = "--min-steps",
      description = "more epochs (up to --max-epochs) for runs that would take fewer optimizer steps (default: the"
          + " command's)")
  Integer minSteps;

  @Option(names = "--max-epochs", description = "epochs a run may grow to under --min-steps (default: the command's)")
  Integer maxEpochs;

  @Option(names = "--batch", description = "batch size (default: the command's)")
  Integer batch;

  @Option(names = "--lr", description = "peak learning rate (default: the command's)")
  Double lr;

  @Option(names = "--r",
      description = "LoRA rank; alpha is set equal to it unless --alpha is given (default: the command's)")
  Integer rank;

  @Option(names = "--alpha", description = "lora_alpha (default: --r when given, else the command's)")
  Double alpha;

  @Option(names = "--rslora", negatable = true,
      description = "rsLoRA, PEFT's use_rslora: scale by alpha / sqrt(r) instead of alpha / r (default: the command's)")
  Boolean rslora;

  @Option(names = "--targets", split = ",", description = "LoRA target modules, e.g. q_proj,v_proj (default: the command's)")
  List<String> targets;

  public LoraConfig lora(LoraConfig d) {
    if (rank == null && alpha == null && targets == null && rslora == null) {
      return d;
    }
    int r = rank != null ? rank : d.r();
    double a = alpha != null ? alpha : rank != null ? r : d.alpha();
    return new LoraConfig(r, a, d.dropout(), targets != null ? targets : d.targetModules(),
        rslora != null ? rslora : d.useRslora());
  }

  public AdapterTraining.Config training(AdapterTraining.Config d) {
    int e = epochs != null ? epochs : d.epochs();
    boolean fixed = epochs != null && minSteps == null; // --epochs N alone keeps its meaning: N epochs, no more
    int min = minSteps != null ? minSteps : fixed ? 0 : d.minSteps();
    int max = maxEpochs != null ? maxEpochs : fixed ? e : Math.max(e, d.maxEpochs());
    return new AdapterTraining.Config(e, batch != null ? batch : d.batchSize(),
        lr != null ? AdamW.Config.oppu(lr) : d.optimizer(), min, max);
  }
}
