package dev.oppu.cli;

import dev.oppu.system.OppuSystem;
import picocli.CommandLine.Option;

/** The random seed of a command's data, initialization and order ({@code @Mixin SeedOptions seed}); one default. */
public final class SeedOptions {

  @Option(names = "--seed", paramLabel = "N", defaultValue = "" + OppuSystem.DEFAULT_SEED,
      description = "Random seed: synthetic data, initialization, order (default: ${DEFAULT-VALUE}).")
  long seed = OppuSystem.DEFAULT_SEED;

  public long seed() {
    return seed;
  }
}
