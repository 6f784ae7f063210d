package dev.oppu.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/** The committed default model, found from the module's working directory upwards. */
final class TestModels {
  private TestModels() {}

  static Path defaultModel() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      Path m = d.resolve("models").resolve("default");
      if (Files.isRegularFile(m.resolve("config.json"))) {
        return m;
      }
    }
    throw new IllegalStateException("models/default not found above " + Path.of("").toAbsolutePath());
  }
}
