package dev.oppu.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code oppu} command line. Each subcommand is its own class, registered here. */
@Command(name = "oppu", mixinStandardHelpOptions = true, version = "oppu 0.1.0",
    description = "OPPU on Kafka: one LoRA adapter per user, kept current from a stream of their behaviors.",
    subcommands = {
        CommandLine.HelpCommand.class,
        BenchCommand.class,
        EvalCommand.class,
        ReplayCommand.class,
        DemoCommand.class,
        BrokerCommand.class,
        PublishCommand.class,
        SynthCommand.class,
        ModelCommand.class,
        PretrainCommand.class,
        TaskAdaptCommand.class,
        RunCommand.class,
        AskCommand.class,
        UserCommand.class,
        AclCommand.class,
    })
public final class Main implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    int code = new CommandLine(new Main())
        .setExecutionExceptionHandler((ex, cmd, parsed) -> {
          // Bad input is a clear one-line error, not a stack trace.
          cmd.getErr().println(cmd.getColorScheme().errorText("error: " + ex.getMessage()));
          if (System.getenv("OPPU_DEBUG") != null) {
            ex.printStackTrace(cmd.getErr());
          }
          return 2;
        })
        .execute(args);
    System.exit(code);
  }
}
