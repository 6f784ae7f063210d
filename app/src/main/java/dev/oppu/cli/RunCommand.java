package dev.oppu.cli;

import picocli.CommandLine.Command;

/** {@code oppu run PART}: runs one long-lived part of the system; each part is its own subcommand class. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Run a service: trainer (streams: see its own subcommand).",
    subcommands = {
        RunTrainer.class,
    })
public final class RunCommand {
}
