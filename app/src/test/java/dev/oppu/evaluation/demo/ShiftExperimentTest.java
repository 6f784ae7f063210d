package dev.oppu.evaluation.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.evaluation.replay.FakeSystem;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.evaluation.replay.ReplayData;
import dev.oppu.evaluation.replay.ReplayEngine;
import dev.oppu.evaluation.replay.ReplaySession;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Topics;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The shift experiment's bookkeeping through a real broker, with {@link FakeSystem} (a test double) whose "OPPU"
 * answers the user's post-shift preference once it has seen 10 post-shift events and the pre-shift one before.
 */
@ExtendWith(KafkaExtension.class)
class ShiftExperimentTest {

  @Test
  void curveFollowsWhatTheSystemAnsweredAndTwinsOnlySeeThePreShiftHistory(SharedKafka kafka) throws Exception {
    var synth = Synth.generate(Task.MOVIE_TAGGING,
        Synth.Params.defaults().withUsers(3).withTrainUsers(0).withQueries(4).withShift(true));
    DemoData data = DemoData.fromSynth(null, "", synth, "s-");
    ShiftExperiment exp = new ShiftExperiment(data);
    assertEquals(30, exp.maxPostShiftEvents());
    for (ReplayData.User u : exp.preShift().users()) {
      assertEquals((int) data.shiftIndex().get(u.id()), u.history().size());
    }

    Topics topics = kafka.freshTopics("shift", 2);
    AtomicReference<FakeSystem> fake = new AtomicReference<>();
    try (FakeSystem sys = new FakeSystem(kafka.clientConfig(), topics, 1, Set.of(), r -> {
      String q = r.getRequestId().substring(0, r.getRequestId().indexOf('@'))
          .replace(ShiftExperiment.TWIN_SUFFIX, "");
      if (r.getMode().equals(Modes.NON_PERSONALIZED)) {
        return data.crowdAnswer().get(q);
      }
      long seen = fake.get().received().stream().filter(b -> b.getUserId().equals(r.getUserId())).count();
      int pre = data.shiftIndex().get(r.getUserId().replace(ShiftExperiment.TWIN_SUFFIX, ""));
      return seen - pre >= 10 ? data.trueAnswer().get(q) : data.preShiftAnswer().get(q);
    })) {
      fake.set(sys);
      try (ReplaySession session = new ReplaySession(kafka.clientConfig(), topics)) {
        ReplayEngine.Options opts = ReplayEngine.Options.defaults().withModes(List.of(Modes.OPPU))
            .withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(30));
        new ReplayEngine(kafka.clientConfig(), topics, opts).run(session, List.of(exp.preShift(), exp.twins()),
            List.of());
        List<long[]> lags = new ArrayList<>();
        DemoResults.ShiftCurve c = exp.run(session, List.of(0, 5, 10, 20), 20, Duration.ofSeconds(30),
            Duration.ofSeconds(30), Duration.ofSeconds(30), Progress.none(),
            new PrintStream(java.io.OutputStream.nullOutputStream()), lags);
        assertNull(sys.failure);

        assertEquals(List.of(0, 5, 10, 20), c.points().stream().map(DemoResults.Point::events).toList());
        assertEquals(1.0, c.preShiftLevel(), 1e-9, "step 0 answered the pre-shift preference");
        assertEquals(1.0, c.points().get(2).continuous(), 1e-9);
        assertEquals(1.0, c.points().get(3).continuous(), 1e-9);
        double frozen0 = c.points().get(0).frozen();
        assertEquals(frozen0, c.points().get(3).frozen(), 1e-9, "twins never see post-shift events");
        assertTrue(frozen0 < 0.95);
        assertEquals(10, c.recoveredAtEvents());
        assertTrue(c.meetsTarget());
        assertEquals(c.points().get(0).nonPersonalized(), c.points().get(3).nonPersonalized());
        assertEquals(3 * 20, lags.get(0).length, "one lag per post-shift event");

        Map<String, Long> perUser = new java.util.HashMap<>();
        for (Behavior b : sys.received()) {
          perUser.merge(b.getUserId(), 1L, Long::sum);
        }
        for (ReplayData.User u : exp.preShift().users()) {
          assertEquals(u.history().size() + 20L, perUser.get(u.id()));
          assertEquals((long) u.history().size(), perUser.get(u.id() + ShiftExperiment.TWIN_SUFFIX));
        }
      }
    }
  }
}
