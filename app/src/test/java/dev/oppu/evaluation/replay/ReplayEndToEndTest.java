package dev.oppu.evaluation.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Profiles;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.evaluation.demo.DemoSystem;
import dev.oppu.evaluation.demo.InProcessSystem;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraConfig;
import dev.oppu.schemas.Topics;
import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.optim.AdamW;
import dev.oppu.trainer.pretrain.BpeTokenizerTrainer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replay end to end against the real services (streams app with ingestion + serving, trainer service) in this
 * JVM and a broker, on a tiny random-weight model: it checks the plumbing (every mode answered, adapters trained and
 * used, lag measured, files written), not the quality of a model that was never trained.
 */
@ExtendWith(KafkaExtension.class)
class ReplayEndToEndTest {

  @Test
  void replaysSynthDataThroughTheRealServices(SharedKafka kafka, @TempDir Path tmp) throws Exception {
    var synth = Synth.generate(Task.MOVIE_TAGGING, Synth.Params.defaults().withUsers(3).withTrainUsers(0)
        .withQueries(2).withSeed(3));
    // users 0 and 2 are "few" (8-16 items), user 1 "medium": keep the training small
    Path modelDir = tmp.resolve("model");
    BpeTokenizerTrainer bpe = new BpeTokenizerTrainer(400);
    for (UserData u : synth.users()) {
      u.profile().forEach(h -> bpe.add(Task.MOVIE_TAGGING.trainingExample(h.fields()).prompt() + " "
          + h.fields().get("tag")));
    }
    bpe.trainAndSave(modelDir);
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel.random(LlamaConfig.of(400, 32, 64, 2, 4, 2, 1024, 10000.0, true), 5, m).save(modelDir);
    }
    UserAdapterUpdater.Settings training = new UserAdapterUpdater.Settings(LoraConfig.oppuUser(),
        new AdapterTraining.Config(1, 8, AdamW.Config.oppu(1e-2)), 1, 128, 24, 20, 0.1, 2, 10, 0.5, 7);

    Topics topics = kafka.freshTopics("replay-e2e", 2);
    Properties p = kafka.clientConfig().raw();
    topics.all().forEach(t -> p.setProperty(Topics.PREFIX + t.key(), t.name()));
    ClientConfig client = ClientConfig.of(p);
    Properties settings = new Properties();
    settings.setProperty("oppu.ingest.variants", "plain,rag,pag");
    settings.setProperty("oppu.ingest.first-min-items", "1");
    settings.setProperty("oppu.ingest.new-items-max", "1");
    settings.setProperty("oppu.ingest.adapter-partitions", "2");
    settings.setProperty("oppu.serving.max.new.tokens", "6");
    settings.setProperty("application.id", "replay-e2e");

    Path users = tmp.resolve("users.json");
    LampFiles.writeUsers(users, LampFiles.UserFormat.OPPU, synth.users());
    Path outputs = tmp.resolve("outputs.json");
    LampFiles.writeGolds(outputs, synth.golds());
    ReplayData.Dataset data = LampDatasets.read(Task.MOVIE_TAGGING, users, outputs);

    DemoSystem.Launcher launcher = InProcessSystem.launcher(
        new InProcessSystem.Models(modelDir, null, "tiny random model (test)", "cpu"), training);
    try (DemoSystem system = launcher.start(client, topics, settings, Map.of(Task.MOVIE_TAGGING, List.of()),
        tmp.resolve("work"), Progress.none())) {
      ReplayEngine.Options opts = ReplayEngine.Options.defaults()
          .withTimeouts(Duration.ofMinutes(4), Duration.ofMinutes(2)).withQuiet(Duration.ofSeconds(20));
      ReplayResult r = new ReplayEngine(client, topics, opts).run(List.of(data));

      assertEquals(3 * 3, r.coverage().total());
      assertEquals(data.itemCount(), r.timing().eventsPublished());
      for (String mode : Modes.ALL) {
        ReplayResult.Stats s = r.stats().get(mode).get("LaMP_2M");
        assertEquals(6, s.answered(), mode + ": " + s);
        Map<String, Double> m = r.metrics().get(mode).get("LaMP_2M");
        assertNotNull(m, mode);
        assertTrue(m.get("accuracy") >= 0 && m.get("accuracy") <= 1);
      }
      // Every (user, variant) adapter was trained on a trigger holding the user's last item (the trainer may hold
      // the newest items out for validation), so OPPU modes were answered with adapters, and the events the
      // adapters were trained on have a measured lag.
      assertEquals(r.coverage().total(), r.coverage().processed(), r.coverage().uncovered().toString());
      assertTrue(r.coverage().uncovered().values().stream().allMatch(v -> v.startsWith("held out")),
          r.coverage().uncovered().toString());
      for (String mode : List.of(Modes.OPPU, Modes.OPPU_RAG, Modes.OPPU_PAG)) {
        assertEquals(0, r.stats().get(mode).get("LaMP_2M").cold(), mode);
      }
      int lagged = r.lags().get("plain").covered();
      assertTrue(lagged > data.itemCount() / 2 && lagged <= data.itemCount(), lagged + " of " + data.itemCount());
      // The real trainer stamps each version with its trigger's and its training's start: every lag splits.
      ReplayResult.LagBreakdown parts = r.lags().get("plain").breakdown();
      assertEquals(lagged, parts.events());
      assertTrue(parts.training().p50Millis() > 0 && parts.versions() > 0 && parts.trainingMillis() > 0,
          parts.toString());
      // The pag adapters behind OPPU+PAG trained with the user's profile: every pag trigger carried the one serving
      // builds from the same retained history.
      List<TrainTrigger> pag = triggers(client, topics).stream().filter(t -> t.getVariant().equals("pag")).toList();
      assertTrue(pag.size() >= 3, "a pag trigger per user at least: " + pag.size());
      for (TrainTrigger t : pag) {
        assertEquals(Profiles.fromHistory(Task.MOVIE_TAGGING,
            t.getHistory().stream().map(HistoryItem::getFields).toList()), t.getProfile(), t.getTriggerId());
      }
      ReplayOutput.write(r, tmp.resolve("out"));
      assertEquals(6, LampFiles.readGolds(tmp.resolve("out/predictions/OPPU+RAG/LaMP_2M_outputs.json"))
          .outputs().size());
    }
  }

  /** Every committed train trigger on the topic, in offset order per partition. */
  private static List<TrainTrigger> triggers(ClientConfig client, Topics topics) {
    List<TrainTrigger> out = new ArrayList<>();
    try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> c =
        new org.apache.kafka.clients.consumer.KafkaConsumer<>(client.consumer(null),
            new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
            new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
      List<org.apache.kafka.common.TopicPartition> parts = c.partitionsFor(topics.trainTriggers.name()).stream()
          .map(pi -> new org.apache.kafka.common.TopicPartition(pi.topic(), pi.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<org.apache.kafka.common.TopicPartition, Long> end = c.endOffsets(parts);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
        for (var rec : c.poll(Duration.ofMillis(200))) {
          out.add(topics.trainTriggers.valueSerde().deserializer().deserialize(rec.topic(), rec.value()));
        }
      }
    }
    return out;
  }
}
