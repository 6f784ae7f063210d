package dev.oppu.cli;

import dev.oppu.system.OppuSystem;
import picocli.CommandLine.Option;

/**
 * Where the model computes ({@code @Mixin DeviceOptions device}); one default for every command. Further options of
 * how the model computes (e.g. its dtype) belong here.
 */
public final class DeviceOptions {

  @Option(names = "--device", paramLabel = "DEVICE", defaultValue = OppuSystem.DEFAULT_DEVICE,
      description = "auto (a GPU when DJL sees one, else the CPU), cpu or gpu (default: ${DEFAULT-VALUE}).")
  String device = OppuSystem.DEFAULT_DEVICE;

  public String device() {
    return device;
  }
}
