package dev.oppu.cli;

import static dev.oppu.cli.SystemHarness.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.schemas.Topics;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, adapters with several instances: an adapter too large for a record (here every adapter: the trainer runs
 * with {@code --inline-limit 0}) travels as a path into the adapter store, a directory every instance mounts. Two
 * {@code run streams} instances of one application, each with its own state folder and the same store, split the
 * two partitions; a user on each partition is answered with their adapter, so each instance read a file the trainer
 * wrote.
 */
@ExtendWith(KafkaExtension.class)
class SharedAdapterStoreTest {

  @TempDir
  Path dir;

  @Test
  void twoStreamsInstancesServeAdaptersFromTheSharedStore(SharedKafka kafka) throws Exception {
    String[] cluster = SystemHarness.cluster(kafka, "shared-store", dir);
    Properties client = new Properties();
    try (Reader r = Files.newBufferedReader(dir.resolve("client.properties"))) {
      client.load(r);
    }
    String requests = client.getProperty(Topics.PREFIX + "requests");
    Path store = dir.resolve("adapter-store");
    Path model = dir.resolve("model");
    SystemHarness.writeModel(model, LlamaConfig.of(512, 64, 172, 2, 4, 2, 256, 10000.0, false), 7);
    // One user per partition of the two, as the producer's default partitioner places a user's records.
    Map<Integer, String> users = new HashMap<>();
    for (int i = 0; users.size() < 2; i++) {
      String u = "user" + i;
      users.putIfAbsent(Utils.toPositive(Utils.murmur2(u.getBytes(StandardCharsets.UTF_8))) % 2, u);
    }

    String app = "shared-store-" + System.nanoTime();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    RunStreamsCommand second = new RunStreamsCommand();
    StringWriter secondOut = new StringWriter();
    StringWriter secondErr = new StringWriter();
    try (SystemHarness.Services services = new SystemHarness.Services(cluster, cluster, cluster, app, model,
        new String[] {"--state-dir", dir.resolve("state-1").toString()}, "--inline-limit", "0")) {
      Future<Integer> secondRun = pool.submit(() -> SystemHarness.cli(second, secondOut, secondErr).execute(concat(
          cluster, "--model", model.toString(), "--application-id", app, "--state-dir",
          dir.resolve("state-2").toString())));
      try {
        awaitTwoMembersWithOneRequestsPartitionEach(kafka, app, requests, services, secondOut, secondErr);
        for (String user : users.values()) {
          Path behaviors = SystemHarness.movieBehaviors(dir.resolve(user + ".jsonl"), user, 12);
          SystemHarness.Run published =
              SystemHarness.run(new PublishCommand(), concat(cluster, "--file", behaviors.toString()));
          assertEquals(0, published.code(), published.err());
        }
        String input = Task.MOVIE_TAGGING.lampInput("a film about friends and their comedy story", List.of());
        for (String user : users.values()) {
          SystemHarness.Answer a = services.askUntilAdapter(user, input);
          assertNotNull(a.response().getAdapterVersion(), a.printed());
          assertTrue(!a.response().getCold(), a.printed());
        }
        // No adapter travelled inline: every one is a file of the store, one per user at least.
        try (Stream<Path> files = Files.walk(store)) {
          long n = files.filter(Files::isRegularFile).filter(f -> f.toString().endsWith(".safetensors")).count();
          assertTrue(n >= 2, "adapter files in the store: " + n);
        }
        // Both instances still own a requests partition: the two users were answered by different instances.
        awaitTwoMembersWithOneRequestsPartitionEach(kafka, app, requests, services, secondOut, secondErr);
      } finally {
        second.stop();
        assertEquals(0, secondRun.get(60, TimeUnit.SECONDS), secondOut + "\n" + secondErr);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** Waits (at most 2 min) until the application's group has two members, each assigned one requests partition. */
  private static void awaitTwoMembersWithOneRequestsPartitionEach(SharedKafka kafka, String app, String requests,
      SystemHarness.Services services, StringWriter secondOut, StringWriter secondErr) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    String last = "";
    try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
      while (System.nanoTime() < deadline) {
        ConsumerGroupDescription g = admin.describeConsumerGroups(List.of(app)).all().get(30, TimeUnit.SECONDS)
            .get(app);
        List<Long> perMember = g.members().stream().map(MemberDescription::assignment)
            .map(a -> a.topicPartitions().stream().filter(tp -> tp.topic().equals(requests)).count()).toList();
        last = g.state() + " " + perMember;
        if (perMember.size() == 2 && perMember.stream().allMatch(c -> c == 1)) {
          return;
        }
        Thread.sleep(500);
      }
    }
    throw new AssertionError("the two instances never split the requests partitions: " + last + services.logs()
        + "\nsecond streams: " + secondOut + secondErr);
  }
}
