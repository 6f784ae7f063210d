package dev.oppu.cli;

import picocli.CommandLine.Command;

/** {@code oppu run PART}: the long-running services. Each part is a subcommand class registered here. */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Runs a service until Ctrl-C: 'streams' (ingestion + serving, one Kafka Streams application) or "
        + "'trainer' (the adapter trainer, a separate consumer-group service).",
    subcommands = {
        RunStreamsCommand.class,
        RunTrainer.class,
    })
public final class RunCommand extends GroupCommand {
}
