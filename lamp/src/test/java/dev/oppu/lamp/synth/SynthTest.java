package dev.oppu.lamp.synth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.Golds;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.metrics.LampMetrics;
import dev.oppu.lamp.metrics.Rouge;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SynthTest {

  static final Synth.Params SMALL = Synth.Params.defaults().withUsers(10).withTrainUsers(6);

  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(Task.class)
  void deterministicBySeed(Task task) {
    SynthDataset a = Synth.generate(task, SMALL);
    SynthDataset b = Synth.generate(task, SMALL);
    assertEquals(a, b);
    SynthDataset c = Synth.generate(task, SMALL.withSeed(7));
    assertNotEquals(a.users(), c.users());
    // users draw from their own streams: more users leave the first ones unchanged
    SynthDataset more = Synth.generate(task, SMALL.withUsers(12));
    assertEquals(a.users(), more.users().subList(0, 10));
  }

  @ParameterizedTest
  @EnumSource(Task.class)
  void inputsCarryLampMarkersAndItemsAreValid(Task task) {
    SynthDataset ds = Synth.generate(task, SMALL.withShift(true));
    List<UserData> all = new ArrayList<>(ds.users());
    all.addAll(ds.trainUsers());
    for (UserData u : all) {
      String prev = "";
      for (HistoryItem it : u.profile()) {
        task.validateItem(it.fields());
        task.trainingExample(it.fields());
        assertTrue(it.date().compareTo(prev) > 0, "dates increase");
        prev = it.date();
        if (task != Task.CITATION && task != Task.TWEET_PARAPHRASE) {
          int words = it.get(task.inputField()).split(" ").length;
          assertTrue(words >= 30 && words <= 110, words + " words: " + it.get(task.inputField()));
        }
      }
      for (Query q : u.queries()) {
        Task.Extracted x = task.extract(q.input());
        assertNotNull(task.prompt(x));
        assertNotNull(q.gold());
        if (task.kind() != Task.Kind.GENERATION) {
          assertTrue(task.labels().contains(q.gold()), q.gold());
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Task.class)
  void roundTripsThroughTheReaders(Task task) {
    SynthDataset ds = Synth.generate(task, SMALL.withShift(true));
    Path d = ds.write(dir);
    assertEquals(dir.resolve(task.taskName()), d);
    List<UserData> users = LampFiles.readUsers(d.resolve(Synth.USERS_FILE));
    assertEquals(ds.users().size(), users.size());
    for (int i = 0; i < users.size(); i++) {
      UserData mem = ds.users().get(i);
      assertEquals(mem.userId(), users.get(i).userId());
      assertEquals(mem.profile(), users.get(i).profile());
      for (int j = 0; j < mem.queries().size(); j++) {
        assertEquals(mem.queries().get(j).withGold(null), users.get(i).queries().get(j), "no gold in users.json");
      }
    }
    assertEquals(ds.trainUsers(), LampFiles.readUsers(d.resolve(Synth.TRAIN_USERS_FILE)));
    Golds golds = LampFiles.readGolds(d.resolve(Synth.LABELS_FILE));
    assertEquals(task.id(), golds.task());
    assertEquals(ds.golds(), golds);
    Golds personal = LampFiles.readGolds(d.resolve(Synth.PERSONAL_PREDS_FILE));
    assertEquals(ds.ceilings().get("personal"), LampMetrics.evaluate(task, golds.outputs(), personal.outputs()));
    assertTrue(d.resolve(Synth.CROWD_PREDS_FILE).toFile().isFile());
    assertTrue(d.resolve(Synth.PRE_SHIFT_PREDS_FILE).toFile().isFile());
  }

  @Test
  void lampFormReadsBackAsOneUserPerQuestion() {
    SynthDataset ds = Synth.generate(Task.NEWS_HEADLINE, SMALL);
    Path d = ds.write(dir, true);
    List<UserData> questions = LampFiles.readUsers(d.resolve(Synth.LAMP_QUESTIONS_FILE));
    assertEquals(ds.queryTruth().size(), questions.size());
    UserData first = questions.get(0);
    UserData owner = ds.users().get(0);
    assertEquals(owner.userId(), first.userId());
    assertEquals(owner.profile(), first.profile());
    assertEquals(owner.queries().get(0).withGold(null), first.queries().get(0));
    assertEquals(ds.golds(), LampFiles.readGolds(d.resolve(Synth.LAMP_OUTPUTS_FILE)));
  }

  @ParameterizedTest
  @EnumSource(Task.class)
  void truthFileHoldsPreferencesShiftsAndAnswers(Task task) throws Exception {
    SynthDataset ds = Synth.generate(task, SMALL.withShift(true));
    JsonNode root = new ObjectMapper().readTree(ds.write(dir).resolve(Synth.TRUTH_FILE).toFile());
    assertEquals(task.id(), root.get("task").asText());
    assertEquals(16, root.get("users").size());
    JsonNode u0 = root.get("users").get(0);
    assertTrue(u0.get("preference").size() > 0);
    assertTrue(u0.has("shift"));
    assertEquals(ds.queryTruth().size(), root.get("queries").size());
    JsonNode q0 = root.get("queries").get(0);
    for (String f : List.of("id", "user_id", "gold", "crowd", "personal", "pre_shift")) {
      assertTrue(q0.has(f), f);
    }
    assertTrue(root.get("ceilings").has("crowd"));
  }

  @ParameterizedTest
  @EnumSource(Task.class)
  void personalAnswersDifferFromTheCrowdOften(Task task) {
    SynthDataset ds = Synth.generate(task, Synth.Params.defaults().withTrainUsers(0));
    int differ = 0;
    for (SynthDataset.QueryTruth q : ds.queryTruth()) {
      if (!Rouge.tokenize(q.personal()).equals(Rouge.tokenize(q.crowd()))) {
        differ++;
      }
    }
    double share = differ / (double) ds.queryTruth().size();
    assertTrue(share >= 0.25, task + ": personal differs from crowd on " + share);
    // and knowing the user pays: the personal answers score clearly better than the crowd's
    Map<String, Map<String, Double>> c = ds.ceilings();
    String metric = LampMetrics.metricNames(task).get(0);
    double crowd = c.get("crowd").get(metric);
    double personal = c.get("personal").get(metric);
    if (task.kind() == Task.Kind.REGRESSION) {
      assertTrue(personal < crowd - 0.5, task + " mae personal " + personal + " crowd " + crowd);
    } else {
      assertTrue(personal > crowd + 0.2, task + " personal " + personal + " crowd " + crowd);
    }
  }

  @ParameterizedTest
  @EnumSource(value = Task.class, names = {"MOVIE_TAGGING", "NEWS_CATEGORIZE"})
  void preferenceIsLearnableFromTheUsersOwnHistory(Task task) {
    // The nearest item (word overlap) of the user's own history predicts the user's label better than the crowd
    // answer does: the personal mapping is visible in the history.
    SynthDataset ds = Synth.generate(task, Synth.Params.defaults().withTrainUsers(0));
    Map<String, String> preds = new HashMap<>();
    for (UserData u : ds.users()) {
      for (Query q : u.queries()) {
        Set<String> qt = new HashSet<>(Rouge.tokenize(task.extract(q.input()).text()));
        double best = -1;
        String label = null;
        for (HistoryItem it : u.profile()) {
          Set<String> t = new HashSet<>(Rouge.tokenize(it.get(task.inputField())));
          t.retainAll(qt);
          if (t.size() > best) {
            best = t.size();
            label = it.get(task.labelField());
          }
        }
        preds.put(q.id(), label);
      }
    }
    Map<String, String> golds = ds.golds().outputs();
    double nn = LampMetrics.evaluate(task, golds, preds).get("accuracy");
    double crowd = ds.ceilings().get("crowd").get("accuracy");
    assertTrue(nn > crowd + 0.1, task + ": 1-NN over own history " + nn + " vs crowd " + crowd);
  }

  @Test
  void historyAnswerIsTheMajorityOfTheKindsLabels() {
    ClassGen g = new ClassGen(Task.MOVIE_TAGGING, Vocabulary.MOVIE);
    List<String> labels = Task.MOVIE_TAGGING.labels();
    List<Map.Entry<ClassGen.KindText, String>> h = List.of(
        Map.entry(new ClassGen.KindText(3, ""), labels.get(0)),
        Map.entry(new ClassGen.KindText(3, ""), labels.get(1)),
        Map.entry(new ClassGen.KindText(5, ""), labels.get(9)),
        Map.entry(new ClassGen.KindText(3, ""), labels.get(0)),
        Map.entry(new ClassGen.KindText(5, ""), labels.get(8)),
        Map.entry(new ClassGen.KindText(6, ""), labels.get(2)),
        Map.entry(new ClassGen.KindText(6, ""), labels.get(6)));
    assertEquals(labels.get(0), g.fromHistory(h, new ClassGen.KindText(3, "")), "majority");
    assertEquals(labels.get(7), g.fromHistory(h, new ClassGen.KindText(7, "")), "unseen kind: the crowd's");
    assertEquals(labels.get(8), g.fromHistory(h, new ClassGen.KindText(5, "")), "tie without the crowd's: newest");
    assertEquals(labels.get(6), g.fromHistory(h, new ClassGen.KindText(6, "")), "tie with the crowd's: the crowd's");
  }

  @Test
  void historyAnswerAppliesTheBiasThatFitsMostRatings() {
    RatingGen g = new RatingGen();
    List<Map.Entry<RatingGen.Review, String>> h = List.of(
        Map.entry(new RatingGen.Review(3, ""), "5"),
        Map.entry(new RatingGen.Review(4, ""), "5"), // fits +1 and +2
        Map.entry(new RatingGen.Review(2, ""), "4"),
        Map.entry(new RatingGen.Review(5, ""), "4")); // label noise
    assertEquals("3", g.fromHistory(h, new RatingGen.Review(1, "")));
    assertEquals("2", g.fromHistory(List.of(), new RatingGen.Review(2, "")), "no history: no bias");
  }

  @Test
  void historyAnswerCitesTheTwoTopicsCitedMostOffTopic() {
    CitationGen g = new CitationGen();
    // papers on topic 0; the user picked topic 5 twice, topic 3 once, and the paper's own topic once
    List<Map.Entry<CitationGen.CiteQuery, String>> h = List.of(
        Map.entry(new CitationGen.CiteQuery(0, "", new String[2], new int[] {5, 0}), "[1]"),
        Map.entry(new CitationGen.CiteQuery(0, "", new String[2], new int[] {0, 5}), "[2]"),
        Map.entry(new CitationGen.CiteQuery(0, "", new String[2], new int[] {3, 0}), "[1]"),
        Map.entry(new CitationGen.CiteQuery(0, "", new String[2], new int[] {0, 7}), "[1]"));
    assertEquals("[2]", g.fromHistory(h, new CitationGen.CiteQuery(1, "", new String[2], new int[] {1, 3})));
    assertEquals("[1]", g.fromHistory(h, new CitationGen.CiteQuery(1, "", new String[2], new int[] {5, 1})));
    assertEquals("[1]", g.fromHistory(h, new CitationGen.CiteQuery(1, "", new String[2], new int[] {1, 7})),
        "neither option cited: the crowd's, the paper's own topic");
  }

  @ParameterizedTest
  @EnumSource(value = Task.class, names = {"MOVIE_TAGGING", "NEWS_CATEGORIZE", "PRODUCT_RATING", "CITATION"})
  void historyCeilingLiesBetweenTheCrowdsAndTheUsers(Task task) {
    SynthDataset ds = Synth.generate(task, Synth.Params.defaults().withTrainUsers(0));
    Map<String, Map<String, Double>> c = ds.ceilings();
    String metric = LampMetrics.metricNames(task).get(0);
    double crowd = c.get("crowd").get(metric);
    double history = c.get("history").get(metric);
    double personal = c.get("personal").get(metric);
    double sign = task.kind() == Task.Kind.REGRESSION ? -1 : 1; // MAE: lower is better
    assertTrue(sign * (history - crowd) > 0.1, task + " history " + history + " crowd " + crowd);
    assertTrue(sign * (personal - history) >= 0, task + " personal " + personal + " history " + history);
  }

  @Test
  void noHistoryCeilingWhereTheTaskHasNoEstimate() {
    assertNull(Synth.generate(Task.NEWS_HEADLINE, SMALL).ceilings().get("history"));
  }

  @ParameterizedTest
  @EnumSource(value = Task.class, names = {"MOVIE_TAGGING", "NEWS_CATEGORIZE"})
  void crowdAnswerIsThePopulationsMajority(Task task) {
    // among queries whose kind the crowd labels L, more users answer L than any other label
    SynthDataset ds = Synth.generate(task, Synth.Params.defaults().withUsers(60).withTrainUsers(0));
    Map<String, Map<String, Integer>> byCrowd = new HashMap<>();
    for (SynthDataset.QueryTruth q : ds.queryTruth()) {
      byCrowd.computeIfAbsent(q.crowd(), k -> new HashMap<>()).merge(q.personal(), 1, Integer::sum);
    }
    int checked = 0;
    for (Map.Entry<String, Map<String, Integer>> e : byCrowd.entrySet()) {
      int total = e.getValue().values().stream().mapToInt(Integer::intValue).sum();
      if (total < 15) {
        continue;
      }
      String top = e.getValue().entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
      assertEquals(e.getKey(), top, task + " " + e);
      checked++;
    }
    assertTrue(checked >= 8, "groups checked: " + checked);
  }

  @ParameterizedTest
  @EnumSource(Task.class)
  void shiftIsPlanted(Task task) {
    Synth.Params p = Synth.Params.defaults().withUsers(10).withTrainUsers(4).withShift(true);
    SynthDataset ds = Synth.generate(task, p);
    int changed = 0;
    for (SynthDataset.UserTruth t : ds.userTruth()) {
      if (!t.evaluated()) {
        assertEquals(-1, t.shiftIndex());
        continue;
      }
      assertTrue(t.shiftIndex() >= 8);
      assertEquals(t.historySize() - p.postShiftItems(), t.shiftIndex());
      assertNotEquals(t.preference(), t.preferenceAfterShift());
      UserData u = ds.users().stream().filter(x -> x.userId().equals(t.userId())).findFirst().orElseThrow();
      assertEquals(t.shiftDate(), u.profile().get(t.shiftIndex()).date());
    }
    for (SynthDataset.QueryTruth q : ds.queryTruth()) {
      if (!q.preShift().equals(q.personal())) {
        changed++;
      }
    }
    double share = changed / (double) ds.queryTruth().size();
    assertTrue(share >= 0.3, task + ": the shift changes " + share + " of the answers");
    // without --shift: no shift anywhere
    SynthDataset plain = Synth.generate(task, p.withShift(false));
    plain.userTruth().forEach(t -> assertEquals(-1, t.shiftIndex()));
    plain.queryTruth().forEach(q -> assertNull(q.preShift()));
  }

  @Test
  void activityLevels() {
    SynthDataset ds = Synth.generate(Task.MOVIE_TAGGING, Synth.Params.defaults().withTrainUsers(0));
    Map<String, Integer> count = new HashMap<>();
    for (SynthDataset.UserTruth t : ds.userTruth()) {
      if (t.evaluated()) {
        count.merge(t.activity(), 1, Integer::sum);
        Synth.Activity a = Synth.Activity.valueOf(t.activity().toUpperCase());
        assertTrue(t.historySize() >= a.min && t.historySize() <= a.max);
      }
    }
    assertEquals(Map.of("few", 8, "medium", 8, "many", 4), count);
  }

  @Test
  void vocabularyStaysModest() {
    Set<String> words = new HashSet<>();
    for (Task t : Task.values()) {
      SynthDataset ds = Synth.generate(t, Synth.Params.defaults().withTrainUsers(0));
      for (UserData u : ds.users()) {
        u.profile().forEach(it -> it.fields().values().forEach(v -> words.addAll(Rouge.tokenize(v))));
        u.queries().forEach(q -> words.addAll(Rouge.tokenize(q.input())));
      }
    }
    assertTrue(words.size() > 800 && words.size() < 3000, words.size() + " distinct words");
  }
}
