package dev.oppu.cli;

import picocli.CommandLine.Command;

/**
 * {@code oppu bench NAME}. Each benchmark is a subcommand class; each prints, as its last line, one JSON object with its
 * figures, including the ratio to a baseline measured in the same run (same JVM settings, same StreamsConfig).
 */
@Command(name = "bench", description = "Run a benchmark; the last line printed is one JSON object.",
    subcommands = {
        dev.oppu.cli.bench.RetrieveBench.class,
        dev.oppu.cli.bench.IngestBench.class,
        dev.oppu.cli.bench.ModelBench.class,
        dev.oppu.cli.bench.TrainBench.class,
        dev.oppu.cli.bench.ServeBench.class,
        dev.oppu.cli.bench.PersonalizeBench.class,
        dev.oppu.cli.bench.ShiftBench.class,
        dev.oppu.cli.bench.SoakBench.class,
        dev.oppu.cli.bench.LoadBench.class,
    })
public final class BenchCommand {
}
