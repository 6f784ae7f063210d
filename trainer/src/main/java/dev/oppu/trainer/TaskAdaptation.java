package dev.oppu.trainer;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.UserData;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.trainer.examples.ExampleBuilder;
import dev.oppu.trainer.examples.TokenEncoder;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.examples.Variant;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * OPPU step 1: a task LoRA trained on the NON-evaluated users' histories (one example per item, built per user exactly
 * as per-user examples are: with {@code k} items retrieved from that user's earlier items and/or their profile),
 * saved in PEFT layout; {@link dev.oppu.model.TaskModels} merges it into the base.
 */
public final class TaskAdaptation {

  /**
   * OPPU's task-LoRA recipe: q, k, v projections; our defaults scale r and lr to the small model (TRAINING.md).
   *
   * @param mixed each item gives one example in one of the four prompt forms serving builds, rotating: the bare
   *     prompt, {@code k} items retrieved (RAG), the profile (PAG), the profile and {@code k} items (OPPU+PAG). OPPU
   *     trains one task LoRA per setting; here one task model serves all six modes, so it must have seen every prompt
   *     form (a model never shown retrieved items cannot use them).
   */
  public record Config(LoraConfig lora, AdapterTraining.Config training, int k, boolean addProfile, int maxTokens,
      int retrievedWords, long seed, boolean mixed) {

    public Config(LoraConfig lora, AdapterTraining.Config training, int k, boolean addProfile, int maxTokens,
        int retrievedWords, long seed) {
      this(lora, training, k, addProfile, maxTokens, retrievedWords, seed, false);
    }

    public Config withTraining(AdapterTraining.Config t) {
      return new Config(lora, t, k, addProfile, maxTokens, retrievedWords, seed, mixed);
    }
  }

  /** The outcome and where the adapter went. */
  public record Report(Path dir, int users, int examples, AdapterTraining.Result training) {}

  private TaskAdaptation() {}

  public static Report run(LoraLm lm, TokenEncoder encoder, Task task, List<UserData> users, Config cfg, Path out,
      AdapterTraining.StepListener listener) throws IOException {
    Variant variant = cfg.k() > 0 ? Variant.RAG : cfg.addProfile() ? Variant.PAG : Variant.PLAIN;
    List<TokenizedExample> examples = new ArrayList<>();
    if (cfg.mixed()) {
      examples = mixedExamples(encoder, task, users, cfg);
    }
    for (UserData u : cfg.mixed() ? List.<UserData>of() : users) {
      List<Map<String, String>> items = u.profile().stream().map(HistoryItem::fields).toList();
      String profile = cfg.addProfile() ? Profiles.fromHistory(task, items) : null;
      // RAG and a profile may both be asked for: retrieval via the options, the profile via the PAG branch
      ExampleBuilder.Options o = new ExampleBuilder.Options(variant, cfg.k(), cfg.maxTokens(), cfg.retrievedWords());
      ExampleBuilder b = new ExampleBuilder(task, o, encoder);
      examples.addAll(cfg.k() > 0 && cfg.addProfile() ? b.buildWithProfile(items, profile) : b.build(items, profile, 0));
    }
    if (examples.isEmpty()) {
      throw new IllegalArgumentException(task.id() + ": no non-evaluated users' history to adapt on");
    }
    try (LoraAdapter adapter = LoraAdapter.create(lm.config(), cfg.lora(), cfg.seed(), lm.manager())) {
      AdapterTraining.Result r = AdapterTraining.train(lm, adapter, examples, cfg.training(), encoder.padId(),
          cfg.seed(), listener);
      if (!r.finite()) {
        throw new IllegalStateException(task.id() + ": task adaptation diverged (non-finite loss or weights)");
      }
      Path dir = dev.oppu.model.TaskModels.taskAdapterDir(out, task.id());
      adapter.savePeft(dir);
      return new Report(dir, users.size(), examples.size(), r);
    }
  }

  /** One example per item, its form rotating over {@link #forms}, offset per user. */
  static List<TokenizedExample> mixedExamples(TokenEncoder encoder, Task task, List<UserData> users,
      Config cfg) {
    int k = Math.max(1, cfg.k());
    List<TokenizedExample> out = new ArrayList<>();
    for (int u = 0; u < users.size(); u++) {
      List<Map<String, String>> items = users.get(u).profile().stream().map(HistoryItem::fields).toList();
      String profile = Profiles.fromHistory(task, items);
      List<List<TokenizedExample>> forms = new ArrayList<>();
      for (ExampleBuilder.Options o : forms(k, cfg.maxTokens(), cfg.retrievedWords())) {
        forms.add(new ExampleBuilder(task, o, encoder).build(items, profile, 0));
      }
      for (int i = 0; i < items.size(); i++) {
        out.add(forms.get((i + u) % forms.size()).get(i));
      }
    }
    return out;
  }

  /** The prompt forms serving builds: plain, RAG (k items), PAG (profile), OPPU+PAG (profile and k items). */
  static List<ExampleBuilder.Options> forms(int k, int maxTokens, int retrievedWords) {
    return List.of(new ExampleBuilder.Options(Variant.PLAIN, 0, maxTokens, retrievedWords),
        new ExampleBuilder.Options(Variant.RAG, k, maxTokens, retrievedWords),
        new ExampleBuilder.Options(Variant.PAG, 0, maxTokens, retrievedWords),
        new ExampleBuilder.Options(Variant.PAG, k, maxTokens, retrievedWords));
  }
}
