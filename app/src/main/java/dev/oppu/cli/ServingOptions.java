package dev.oppu.cli;

import dev.oppu.serving.Mode;
import dev.oppu.serving.ServingConfig;
import picocli.CommandLine.Option;

/**
 * Serving's options ({@code @Mixin ServingOptions serving}). Each one not given keeps the {@code oppu.serving.*}
 * setting, else {@link ServingConfig}'s default (shown below), so these defaults are written once, in ServingConfig.
 */
public final class ServingOptions {

  @Option(names = "--mode", paramLabel = "MODE",
      description = "Default mode of requests that name none: non-personalized, RAG, PAG, OPPU, OPPU+RAG, OPPU+PAG "
          + "(default: OPPU+RAG).")
  String mode;

  @Option(names = {"--batch-max", "--max-batch"}, paramLabel = "N",
      description = "Most requests decoded in one batch (default 16).")
  Integer batchMax;

  @Option(names = "--batch-wait-ms", paramLabel = "MS",
      description = "Longest a request waits for its batch to fill (default 20).")
  Long batchWaitMs;

  @Option(names = {"--max-new-tokens", "--new-tokens"}, paramLabel = "N",
      description = "Generation budget per answer (default 32).")
  Integer maxNewTokens;

  @Option(names = "--constrained", negatable = true,
      description = "Label tasks (LaMP_1, LaMP_2N, LaMP_2M, LaMP_3) answer with their most likely label (the default;"
          + " --no-constrained: free generation).")
  Boolean constrained;

  @Option(names = "--sampling",
      description = "Sample as OPPU does (temperature 0.1, top-k 10, top-p 0.9) instead of greedy decoding.")
  boolean sampling;

  /** {@code c} with the options given. */
  public ServingConfig apply(ServingConfig c) {
    if (mode != null) {
      c = c.withDefaultMode(Mode.of(mode));
    }
    if (batchMax != null) {
      c = c.withMaxBatch(batchMax);
    }
    if (batchWaitMs != null) {
      c = c.withMaxWaitMs(batchWaitMs);
    }
    if (maxNewTokens != null) {
      c = c.withMaxNewTokens(maxNewTokens);
    }
    if (constrained != null) {
      c = c.withConstrained(constrained);
    }
    return c;
  }

  /** The options given, as the {@code oppu.serving.*} settings they stand for (for a process started with them). */
  public void putSettings(java.util.Properties p) {
    if (mode != null) {
      p.setProperty(ServingConfig.PREFIX + "mode", Mode.of(mode).id());
    }
    if (batchMax != null) {
      p.setProperty(ServingConfig.PREFIX + "batch.max", batchMax.toString());
    }
    if (batchWaitMs != null) {
      p.setProperty(ServingConfig.PREFIX + "batch.wait.ms", batchWaitMs.toString());
    }
    if (maxNewTokens != null) {
      p.setProperty(ServingConfig.PREFIX + "max.new.tokens", maxNewTokens.toString());
    }
    if (constrained != null) {
      p.setProperty(ServingConfig.PREFIX + "constrained", constrained.toString());
    }
  }

  public boolean sampling() {
    return sampling;
  }

  /** The batch bound given, else {@code dflt} (a benchmark's own setting). */
  public int batchMax(int dflt) {
    return batchMax != null ? batchMax : dflt;
  }

  public long batchWaitMs(long dflt) {
    return batchWaitMs != null ? batchWaitMs : dflt;
  }

  public int maxNewTokens(int dflt) {
    return maxNewTokens != null ? maxNewTokens : dflt;
  }
}
