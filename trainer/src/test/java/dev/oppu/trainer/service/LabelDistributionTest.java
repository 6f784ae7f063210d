package dev.oppu.trainer.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.ShiftDetector;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The distribution the trainer records with an adapter is the one the triggers compute ({@link ShiftDetector}). The
 * trainer's own copy did not normalize ratings ("4.0" and "4" were two labels) and recorded nothing for generation
 * tasks, so a generation user's shift was never scored.
 */
class LabelDistributionTest {

  static TrainTrigger trigger(Task task, List<Map<String, String>> fields) {
    List<HistoryItem> h = new ArrayList<>();
    for (int i = 0; i < fields.size(); i++) {
      h.add(HistoryItem.newBuilder().setSeq(i).setEventId("e" + i).setEventTime(Instant.EPOCH)
          .setArrivalTime(Instant.EPOCH).setFields(fields.get(i)).build());
    }
    return TrainTrigger.newBuilder().setTriggerId("t").setUserId("u").setTask(task.id()).setVariant("plain")
        .setReason("first").setScore(1).setCreatedAt(Instant.EPOCH).setHistory(h).setNewFromSeq(0).build();
  }

  @Test
  void ratingsAreNormalizedAsTheTriggersNormalizeThem() {
    List<Map<String, String>> items = List.of(Map.of("text", "fine", "score", "4.0"), Map.of("text", "ok", "score", "4"),
        Map.of("text", "bad", "score", " 1 "), Map.of("text", "late", "score", "5"));
    Map<String, Double> recorded = TrainerService.labelDistribution(Task.PRODUCT_RATING,
        trigger(Task.PRODUCT_RATING, items), 0, 2);
    assertEquals(Map.of("4", 2 / 3.0, "1", 1 / 3.0), recorded, "covered items only, 4.0 and 4 one label");
    assertEquals(ShiftDetector.distribution(Task.PRODUCT_RATING, items.subList(0, 3),
        IngestConfig.defaults().newAnalyzer()), recorded);
  }

  @Test
  void aGenerationTaskRecordsTheTermDistributionTheTriggersCompute() {
    List<Map<String, String>> items = List.of(Map.of("text", "an article", "title", "Robots Win the Cup"),
        Map.of("text", "another", "title", "robots lose"), Map.of("text", "old", "title", "before the shift"));
    Map<String, Double> recorded = TrainerService.labelDistribution(Task.NEWS_HEADLINE,
        trigger(Task.NEWS_HEADLINE, items), 0, 1);
    assertFalse(recorded.isEmpty(), "a generation adapter records its term distribution");
    assertEquals(ShiftDetector.distribution(Task.NEWS_HEADLINE, items.subList(0, 2),
        IngestConfig.defaults().newAnalyzer()), recorded);
    assertEquals(2 / 6.0, recorded.get("robots"), 1e-12);
  }
}
