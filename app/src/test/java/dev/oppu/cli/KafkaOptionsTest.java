package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.oppu.broker.ClientConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

class KafkaOptionsTest {

  @Command(name = "probe")
  static final class Probe implements Runnable {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Override
    public void run() {}
  }

  private static KafkaOptions parse(String... args) {
    Probe p = new Probe();
    new CommandLine(p).parseArgs(args);
    return p.kafka;
  }

  @Test
  void fileThenDashXThenBootstrap(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("c.properties");
    Files.writeString(f, "bootstrap.servers=file:1\nsecurity.protocol=SSL\nssl.truststore.location=/t.jks\n"
        + "oppu.topic.behaviors=b2\n");
    ClientConfig c = parse("--kafka-config", f.toString(), "-X", "ssl.truststore.location=/other.jks",
        "-X", "oppu.topic.requests=r2").clientConfig();
    assertEquals("file:1", c.bootstrapServers());
    assertEquals("SSL", c.consumer("g").getProperty("security.protocol"));
    assertEquals("/other.jks", c.producer().getProperty("ssl.truststore.location"), "-X wins over the file");

    KafkaOptions o = parse("--kafka-config", f.toString(), "--bootstrap", "cli:2", "-X", "oppu.topic.requests=r2");
    assertEquals("cli:2", o.clientConfig().bootstrapServers(), "--bootstrap wins over the file");
    assertEquals("b2", o.topics().behaviors.name());
    assertEquals("r2", o.topics().requests.name());
    assertEquals("oppu.adapters", o.topics().adapters.name());
  }
}
