package dev.oppu.lamp.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import java.io.File;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LampMetricsTest {

  static final double EPS = 1e-12;

  @Test
  void rougeConformanceFixture() throws Exception {
    File f = new File(System.getProperty("oppu.fixtures", "../fixtures"), "rouge/rouge_conformance.json");
    JsonNode root = new ObjectMapper().readTree(f);
    double tol = root.path("tolerance").asDouble(1e-5);
    int checked = 0;
    for (JsonNode c : root.get("cases")) {
      String target = c.get("target").asText();
      String prediction = c.get("prediction").asText();
      if (c.has("rouge1")) {
        check(c.get("rouge1"), Rouge.rouge1(target, prediction), tol, "rouge1 " + c);
        checked++;
      }
      if (c.has("rougeL")) {
        check(c.get("rougeL"), Rouge.rougeL(target, prediction), tol, "rougeL " + c);
        checked++;
      }
    }
    assertTrue(checked >= 15, "checked " + checked);
  }

  private static void check(JsonNode expected, Rouge.Score s, double tol, String what) {
    assertEquals(expected.get(0).asDouble(), s.precision(), tol, what);
    assertEquals(expected.get(1).asDouble(), s.recall(), tol, what);
    assertEquals(expected.get(2).asDouble(), s.fmeasure(), tol, what);
  }

  @Test
  void tokenizer() {
    assertEquals(List.of("fix", "handle", "utf", "8", "names"), Rouge.tokenize("Fix: Handle UTF-8 names!"));
    assertEquals(List.of("caf"), Rouge.tokenize("Café"));
    assertEquals(List.of(), Rouge.tokenize("  ... "));
  }

  @Test
  void classificationAccuracyAndMacroF1OverTheFullLabelList() {
    // movie tagging: 15 labels, only 3 occur. comedy: tp1 fn1 -> 2/3; action: tp1 fp1 -> 2/3; sci-fi: fn1 -> 0;
    // the 12 absent labels count 0 each, so macro-F1 = (2/3 + 2/3) / 15 = 4/45 (not (4/3)/3).
    Map<String, String> golds = map("a", "comedy", "b", "comedy", "c", "action", "d", "sci-fi");
    Map<String, String> preds = map("a", " comedy\n", "b", "action", "c", "action", "d", "banana");
    Map<String, Double> m = LampMetrics.evaluate(Task.MOVIE_TAGGING, golds, preds);
    assertEquals(List.of("accuracy", "f1"), List.copyOf(m.keySet()));
    assertEquals(0.5, m.get("accuracy"), EPS);
    assertEquals(4.0 / 45.0, m.get("f1"), EPS);
  }

  @Test
  void citationOffListAnswerIsWrong() {
    // [1]: tp1 (a) fp1 (b) fn1 (d) -> 2/4; [2]: fn2 (b, c), fp0 ("2" is off the list) -> 0; macro = 0.25
    Map<String, String> golds = map("a", "[1]", "b", "[2]", "c", "[2]", "d", "[1]");
    Map<String, String> preds = map("a", "[1]", "b", "[1]", "c", "2", "d", "[2]");
    Map<String, Double> m = LampMetrics.evaluate(Task.CITATION, golds, preds);
    assertEquals(0.25, m.get("accuracy"), EPS);
    assertEquals(0.25, m.get("f1"), EPS);
  }

  @Test
  void newsPerfectScoresOnlyOnPresentLabels() {
    // all right, but 2 of 15 labels present: accuracy 1, macro-F1 2/15
    Map<String, Double> m = LampMetrics.evaluate(Task.NEWS_CATEGORIZE, map("x", "sports", "y", "food & drink"),
        map("x", "sports", "y", "food & drink "));
    assertEquals(1.0, m.get("accuracy"), EPS);
    assertEquals(2.0 / 15.0, m.get("f1"), EPS);
  }

  @Test
  void goldOffTheLabelListIsAnError() {
    assertThrows(LampInputException.class,
        () -> LampMetrics.evaluate(Task.MOVIE_TAGGING, map("a", "horror"), map("a", "horror")));
  }

  @Test
  void ratingMaeRmseWithTheUnparseableRule() {
    // 4 vs 5 -> 1; "great" vs 3 -> 5 (tie goes to 5) -> 2; "" vs 1 -> 5 -> 4; "2.5" vs 2 -> 0.5; "x" vs 5 -> 1 -> 4
    Map<String, String> golds = map("a", "5", "b", "3", "c", "1", "d", "2", "e", "5");
    Map<String, String> preds = map("a", "4", "b", "great", "c", "", "d", " 2.5 ", "e", "x");
    Map<String, Double> m = LampMetrics.evaluate(Task.PRODUCT_RATING, golds, preds);
    assertEquals(List.of("mae", "rmse"), List.copyOf(m.keySet()));
    assertEquals((1 + 2 + 4 + 0.5 + 4) / 5.0, m.get("mae"), EPS);
    assertEquals(Math.sqrt((1 + 4 + 16 + 0.25 + 16) / 5.0), m.get("rmse"), EPS);
  }

  @Test
  void ratingValueFollowsPythonFloat() {
    assertEquals(4.0, LampMetrics.ratingValue("4", 2), EPS);
    assertEquals(10.0, LampMetrics.ratingValue("1_0", 2), EPS); // Python accepts digit separators
    assertEquals(0.5, LampMetrics.ratingValue(".5", 2), EPS);
    assertEquals(3.0, LampMetrics.ratingValue("3.", 2), EPS);
    assertEquals(100.0, LampMetrics.ratingValue("1e2", 2), EPS);
    assertEquals(-1.0, LampMetrics.ratingValue("-1", 2), EPS);
    assertEquals(5.0, LampMetrics.ratingValue("4 stars", 2), EPS); // not a float: farther of 1/5 from 2 is 5
    assertEquals(1.0, LampMetrics.ratingValue("4 stars", 4), EPS);
    assertEquals(5.0, LampMetrics.ratingValue("3d", 2), EPS); // Java would parse "3d"; Python does not
    assertEquals(5.0, LampMetrics.ratingValue("0x10", 2), EPS);
    assertEquals(5.0, LampMetrics.ratingValue("1__0", 2), EPS);
    assertEquals(1.0, LampMetrics.ratingValue("nan", 4.5), EPS); // parsed by Python, but not finite: unparseable
    assertNull(LampMetrics.parsePythonFloat("four"));
    assertTrue(Double.isInfinite(LampMetrics.parsePythonFloat("-Infinity")));
  }

  @Test
  void ratingGoldMustBeANumber() {
    assertThrows(LampInputException.class, () -> LampMetrics.evaluate(Task.PRODUCT_RATING, map("a", "five"), map("a", "5")));
  }

  @Test
  void generationMeanRouge() {
    // "The cat sat" vs "the cat": P 1, R 2/3, F 0.8 for both; empty answer 0. Means 0.4. Reordered: R1 1, RL 1/3.
    Map<String, String> golds = map("a", "The cat sat", "b", "a b", "c", "one two three");
    Map<String, String> preds = map("a", "the cat", "b", "   ", "c", "three two one");
    for (Task t : List.of(Task.NEWS_HEADLINE, Task.SCHOLARLY_TITLE, Task.TWEET_PARAPHRASE)) {
      Map<String, Double> m = LampMetrics.evaluate(t, golds, preds);
      assertEquals(List.of("rouge1", "rougeL"), List.copyOf(m.keySet()));
      assertEquals((0.8 + 0 + 1) / 3, m.get("rouge1"), EPS);
      assertEquals((0.8 + 0 + 1.0 / 3) / 3, m.get("rougeL"), EPS);
    }
  }

  @Test
  void idSetsMustBeEqual() {
    LampInputException e = assertThrows(LampInputException.class,
        () -> LampMetrics.evaluate(Task.NEWS_HEADLINE, map("a", "x", "b", "y"), map("a", "x", "c", "y")));
    assertTrue(e.getMessage().contains("1 missing from the predictions [b]"), e.getMessage());
    assertTrue(e.getMessage().contains("1 not among the golds [c]"), e.getMessage());
  }

  @Test
  void pythonStrip() {
    assertEquals("a b", LampMetrics.pyStrip("\u00a0\t a b\u3000\n\u000b"));
    assertEquals("", LampMetrics.pyStrip(" \u2003 "));
    assertEquals("\u200ba", LampMetrics.pyStrip("\u200ba")); // zero-width space is not whitespace in Python
  }

  static Map<String, String> map(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }
}
