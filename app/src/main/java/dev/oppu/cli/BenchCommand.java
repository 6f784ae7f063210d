package dev.oppu.cli;

import picocli.CommandLine.Command;

/**
 * {@code oppu bench NAME}. Each benchmark is a subcommand class; each prints, as its last line, one JSON object with its
 * figures, including the ratio to a baseline measured in the same run (same JVM settings, same StreamsConfig).
 */
@Command(name = "bench", description = "Run a benchmark; the last line printed is one JSON object.",
    subcommands = {
        dev.oppu.bench.RetrieveBench.class,
        dev.oppu.bench.IngestBench.class,
        dev.oppu.bench.ModelBench.class,
        dev.oppu.bench.TrainBench.class,
        dev.oppu.bench.TrainManyBench.class,
        dev.oppu.bench.ServeBench.class,
        dev.oppu.bench.PersonalizeBench.class,
        dev.oppu.bench.ShiftBench.class,
        dev.oppu.bench.SoakBench.class,
        dev.oppu.bench.LoadBench.class,
        dev.oppu.bench.FailoverBench.class,
    })
public final class BenchCommand {
}
