package dev.oppu.trainer;

import dev.oppu.model.LoraConfig;
import dev.oppu.trainer.optim.AdamW;
import java.util.List;

/**
 * Default hyperparameters for the default (small) base model. OPPU's values are for a 7B model (lr 1e-4, batch 16,
 * r 8); the measurements behind the ones that differ are in TRAINING.md.
 */
public final class TrainerDefaults {
  private TrainerDefaults() {}

  public static final double USER_LR = 1e-3;
  public static final double TASK_LR = 1e-3;

  /** Per-user LoRA (OPPU step 2): r 8, alpha 8, dropout 0.05 on q_proj, v_proj; 2 epochs; batch 16. */
  public static UserAdapterUpdater.Settings user() {
    return new UserAdapterUpdater.Settings(LoraConfig.oppuUser(),
        new AdapterTraining.Config(2, 16, AdamW.Config.oppu(USER_LR)),
        1, 256, 48, 50, 0.1, 4, 10, 0.05, 42);
  }

  /** Task LoRA (OPPU step 1): r 8, alpha 8, dropout 0.05 on q, k, v; 1 epoch over the non-evaluated users. */
  public static TaskAdaptation.Config task(int k, boolean addProfile) {
    return new TaskAdaptation.Config(new LoraConfig(8, 8, 0.05, List.of("q_proj", "k_proj", "v_proj"), false),
        new AdapterTraining.Config(1, 16, AdamW.Config.oppu(TASK_LR)), k, addProfile, 256, 48, 42);
  }
}
