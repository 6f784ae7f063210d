package dev.oppu.serving;

import dev.oppu.schemas.Topics;
import dev.oppu.streams.IngestConfig;
import java.util.Properties;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

/**
 * A serving instance in its own JVM, for the hard-kill test: batches never close on their own (huge max wait, huge
 * max batch), so requests stay in the pending store until the process is killed with SIGKILL.
 * Args: bootstrap, application id, state dir, topic-name prefix.
 */
public final class KillableServing {
  private KillableServing() {}

  public static void main(String[] args) throws Exception {
    Properties names = new Properties();
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, args[3] + "." + key);
    }
    Topics topics = Topics.from(names);
    ServingConfig cfg = ServingConfig.defaults().withMaxBatch(10_000).withMaxWaitMs(3_600_000);
    Properties o = new Properties();
    o.put(StreamsConfig.STATE_DIR_CONFIG, args[2]);
    o.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    o.put(StreamsConfig.consumerPrefix("session.timeout.ms"), "6000");
    o.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), "1000");
    KafkaStreams s = new KafkaStreams(StreamsApp.topology(topics, IngestConfig.defaults(), cfg, new FakeGenerator(),
        new AdapterCache(8, 1 << 20), GivenProfiles.none()), StreamsApp.config(args[1], args[0], cfg, o));
    s.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) {
        System.out.println("RUNNING");
        System.out.flush();
      }
    });
    s.start();
    Thread.sleep(Long.MAX_VALUE);
  }
}
