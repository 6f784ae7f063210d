package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The shift rule the triggers and {@code bench shift} share: window, minimum, thresholds, end of old behavior. */
class ShiftDetectorTest {
  static final Task TASK = Task.MOVIE_TAGGING;

  static List<Map<String, String>> tags(String... tags) {
    List<Map<String, String>> out = new ArrayList<>();
    for (String t : tags) {
      out.add(Map.of("description", "a film", "tag", t));
    }
    return out;
  }

  @Test
  void scoresTheNewestWindowOfNewItemsAgainstWhatTheAdapterWasTrainedOn() {
    IngestConfig c = IngestConfig.defaults().withTriggers(10, 50, 3, 4, 0.4); // window 4, at least 3 new items
    List<Map<String, String>> items = tags("comedy", "comedy", "comedy", "action", "drama", "drama", "drama", "drama");
    Map<String, Double> trainedOn = Map.of("comedy", 1.0);
    long[] asked = new long[2];
    ShiftDetector.Shift s = ShiftDetector.score(c, TASK, c.newAnalyzer(), 3, 8, trainedOn, 3, (from, to) -> {
      asked[0] = from;
      asked[1] = to;
      return items.subList((int) from, (int) to);
    }).orElseThrow();
    assertEquals(4, asked[0], "the newest shift-window items only");
    assertEquals(8, asked[1]);
    assertEquals(1.0, s.score(), 1e-12);
    assertTrue(s.shifted());
    assertTrue(s.endsOldBehavior(), "past threshold + margin, old behavior known from 3 items");
    assertFalse(ShiftDetector.score(c, TASK, c.newAnalyzer(), 3, 8, trainedOn, 2, (f, t) -> items.subList((int) f,
        (int) t)).orElseThrow().endsOldBehavior(), "old behavior known from too few items");
    assertTrue(ShiftDetector.score(c, TASK, c.newAnalyzer(), 6, 8, trainedOn, 3, (f, t) -> items).isEmpty(),
        "too few new items: not scored");
    assertTrue(ShiftDetector.score(c, TASK, c.newAnalyzer(), 3, 8, Map.of(), 3, (f, t) -> items).isEmpty(),
        "nothing known of the adapter: not scored");
  }
}
