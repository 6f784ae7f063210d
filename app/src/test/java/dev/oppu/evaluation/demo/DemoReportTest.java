package dev.oppu.evaluation.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.ReplayData;
import dev.oppu.evaluation.replay.ReplayEngine;
import dev.oppu.evaluation.replay.ReplayOutput;
import dev.oppu.evaluation.replay.ReplayResult;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.Response;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoReportTest {

  private static Response answer(String q, String mode, String out) {
    return Response.newBuilder().setRequestId(Modes.requestId(q, mode)).setUserId("u").setTask("LaMP_2M")
        .setMode(mode).setOutput(out).build();
  }

  /** A replay result scored by the real scoring path from a set of responses. */
  static ReplayResult scored() {
    var users = List.of(
        new ReplayData.User("u1", List.of(new ReplayData.Item("i1", Map.of("description", "d", "tag", "comedy"), null)),
            List.of(new ReplayData.Query("q1", "x] description: a", "comedy"))),
        new ReplayData.User("u2", List.of(new ReplayData.Item("i2", Map.of("description", "d", "tag", "action"), null)),
            List.of(new ReplayData.Query("q2", "x] description: b", "action"))));
    var data = new ReplayData.Dataset(Task.MOVIE_TAGGING, users);
    Map<String, Response> resp = new HashMap<>();
    resp.put("q1/OPPU", answer("q1", Modes.OPPU, "comedy"));
    resp.put("q2/OPPU", answer("q2", Modes.OPPU, "action"));
    resp.put("q1/non-personalized", answer("q1", Modes.NON_PERSONALIZED, "comedy"));
    resp.put("q2/non-personalized", answer("q2", Modes.NON_PERSONALIZED, "comedy"));
    resp.put("q1/RAG", answer("q1", Modes.RAG, "comedy")); // q2/RAG never answered
    // 1200 = 200 + 0 + 1000, 2500 = 0 + 1500 + 1000, 4100 = 100 + 3000 + 1000 (ms): two versions of 1 s each
    var lags = Map.of("plain", ReplayEngine.lag(new long[] {1200, 2500, 4100}, 4).withBreakdown(
        ReplayResult.LagBreakdown.of(new long[] {200, 0, 100}, new long[] {0, 1500, 3000},
            new long[] {1000, 1000, 1000}, 2, 2000)));
    return ReplayEngine.score(List.of(data), List.of(Modes.NON_PERSONALIZED, Modes.RAG, Modes.OPPU), resp, null,
        lags, new ReplayResult.Timing(2, 0.1, 3.0, 6, 1.0));
  }

  @Test
  void writesResultsReportAndValidPngs(@TempDir Path out) throws Exception {
    ReplayResult replay = scored();
    var ceilings = Map.of("ceiling: true preference", Map.of("LaMP_2M", Map.of("accuracy", 1.0, "f1", 1.0)));
    Map<String, Map<String, Map<String, DemoResults.Group>>> byActivity = new LinkedHashMap<>();
    byActivity.put(Modes.OPPU, Map.of("LaMP_2M", Map.of("few", new DemoResults.Group(1, 1, 1, 1, Map.of("accuracy", 1.0)),
        "many", new DemoResults.Group(1, 1, 1, 1, Map.of("accuracy", 1.0)))));
    var shift = new DemoResults.ShiftCurve("LaMP_2M", 2, 0.9, List.of(
        new DemoResults.Point(0, 0.2, 0.2, 0.3, 10), new DemoResults.Point(10, 0.7, 0.2, 0.3, 10),
        new DemoResults.Point(20, 0.88, 0.25, 0.3, 10)), 20, Map.of());
    Map<String, Double> phases = new LinkedHashMap<>();
    phases.put("replay", 4.1);
    DemoResults r = new DemoResults("tiny-llama (test)", List.of("1 task"), replay, ceilings, byActivity, shift,
        Map.of("plain", new long[] {1200, 2500, 4100}), phases);

    String md = DemoReport.write(r, out);

    JsonNode results = ReplayOutput.JSON.readTree(Files.readString(out.resolve("results.json")));
    assertEquals(1.0, results.path("OPPU").path("LaMP_2M").path("accuracy").asDouble(), 1e-9);
    assertEquals(0.5, results.path("non-personalized").path("LaMP_2M").path("accuracy").asDouble(), 1e-9);
    assertTrue(results.path("RAG").isMissingNode(), "a mode not fully answered is not reported");
    results.fields().forEachRemaining(mode -> {
      assertTrue(Modes.ALL.contains(mode.getKey()), mode.getKey());
      mode.getValue().fields().forEachRemaining(task -> task.getValue().fields()
          .forEachRemaining(metric -> assertTrue(metric.getValue().isNumber())));
    });

    assertTrue(md.contains("tiny-llama (test)"));
    assertTrue(md.contains("not comparable"));
    assertTrue(md.contains("| OPPU | 1.0000 |"), md);
    assertTrue(md.contains("| ceiling: true preference |"), md);
    assertTrue(md.contains("Not reported (not fully measured in this run): RAG, PAG, OPPU+RAG, OPPU+PAG"), md);
    assertTrue(md.contains("continuous adapters get back within 5 points after 20 events"), md);
    assertTrue(md.contains("frozen adapters stay below that band"), md);
    assertTrue(md.contains("Verdict: **target met**"), md);
    // the lag's parts: 4500 of 7800 ms queued; 2 s of training in the 3.1 s of publishing and adapting
    assertTrue(md.contains("| plain | queued for the trainer | 1.5 | 3.0 | 58% |"), md);
    assertTrue(md.contains("The covering versions (2) took 2 s of training in the 3 s"), md);
    assertEquals(md, Files.readString(out.resolve("report.md")));

    for (String png : List.of(DemoReport.RESULTS_PNG, DemoReport.ACTIVITY_PNG, DemoReport.SHIFT_PNG,
        DemoReport.LAG_PNG)) {
      assertTrue(md.contains("](" + png + ")"), png);
      BufferedImage img = ImageIO.read(out.resolve(png).toFile());
      assertNotNull(img, png + " is a readable PNG");
      assertTrue(img.getWidth() > 100 && img.getHeight() > 100);
    }
  }

  @Test
  void shiftCurveVerdictsFollowTheMeasuredPoints() {
    var missed = new DemoResults.ShiftCurve("LaMP_2M", 2, 0.9, List.of(
        new DemoResults.Point(0, 0.2, 0.2, 0.3, 10), new DemoResults.Point(20, 0.8, 0.2, 0.3, 10),
        new DemoResults.Point(30, 0.86, 0.2, 0.3, 10)), 20, Map.of());
    assertEquals(30, missed.recoveredAtEvents());
    assertFalse(missed.meetsTarget());
    var frozenToo = new DemoResults.ShiftCurve("LaMP_2M", 2, 0.9, List.of(
        new DemoResults.Point(0, 0.2, 0.2, 0.3, 10), new DemoResults.Point(20, 0.9, 0.88, 0.3, 10)), 20, Map.of());
    assertFalse(frozenToo.frozenStaysBelow());
    assertFalse(frozenToo.meetsTarget(), "frozen adapters reaching the band too means no measured effect");
  }

  @Test
  void lagCdfReachesOneAtTheLargestLagAndCountsTiesOnce() {
    org.jfree.data.xy.XYSeries s = DemoReport.cdf("rag", new long[] {30_000, 10_000, 10_000, 70_000});
    assertEquals(4, s.getItemCount()); // (0, 0), 10 s, 30 s, 70 s
    assertEquals(0.0, s.getY(0).doubleValue());
    assertEquals(10.0, s.getX(1).doubleValue());
    assertEquals(0.5, s.getY(1).doubleValue(), 1e-12, "two of four behaviors within 10 s");
    assertEquals(0.75, s.getY(2).doubleValue(), 1e-12);
    assertEquals(70.0, s.getX(3).doubleValue());
    assertEquals(1.0, s.getY(3).doubleValue(), 1e-12);
  }
}
