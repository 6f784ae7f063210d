package dev.oppu.lamp.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LampFilesTest {

  @TempDir Path dir;

  @Test
  void readsLampUserBasedQuestionsWithQuestionIdAsUserId() throws Exception {
    Path f = dir.resolve("dev_questions.json");
    Files.writeString(f, """
        [{"id": "310", "input": "Generate a headline for the following article: a b c",
          "profile": [{"text": "t1", "title": "h1", "id": "3100"}, {"text": "t2", "title": "h2", "id": "3101"}]},
         {"id": "311", "input": "Generate a headline for the following article: d",
          "profile": []}]
        """);
    List<UserData> users = LampFiles.readUsers(f);
    assertEquals(2, users.size());
    UserData u = users.get(0);
    assertEquals("310", u.userId());
    assertEquals(List.of(new Query("310", "Generate a headline for the following article: a b c", null)), u.queries());
    assertEquals(new HistoryItem("3100", null, Map.of("text", "t1", "title", "h1")), u.profile().get(0));
    assertEquals("a b c", Task.NEWS_HEADLINE.extract(u.queries().get(0).input()).text());
    assertEquals("311", users.get(1).userId());
    assertTrue(users.get(1).profile().isEmpty());
  }

  @Test
  void readsLampTimeBasedQuestionsWithUserIdDatesAndNumbers() throws Exception {
    Path f = dir.resolve("q.json");
    Files.writeString(f, """
        [{"id": 7, "user_id": "u9", "input": "... review: fine",
          "profile": [{"id": 70, "text": "ok", "score": 4, "date": "2014-03-02"}]}]
        """);
    UserData u = LampFiles.readUsers(f).get(0);
    assertEquals("u9", u.userId());
    assertEquals("7", u.queries().get(0).id());
    HistoryItem it = u.profile().get(0);
    assertEquals("70", it.id());
    assertEquals("2014-03-02", it.date());
    assertEquals(Map.of("text", "ok", "score", "4"), it.fields());
  }

  @Test
  void readsOppuProcessedForm() throws Exception {
    Path f = dir.resolve("user_top_100_history.json");
    Files.writeString(f, """
        [{"user_id": "u1", "profile": [{"id": "1", "description": "d", "tag": "comedy"}],
          "query": [{"id": "q1", "input": "x] description: y"}, {"id": "q2", "input": "x] description: z", "gold": "action"}]}]
        """);
    UserData u = LampFiles.readUsers(f).get(0);
    assertEquals("u1", u.userId());
    assertNull(u.queries().get(0).gold());
    assertEquals("action", u.queries().get(1).gold());
    assertEquals("comedy", u.profile().get(0).get("tag"));
    UserData g = LampFiles.withGolds(u, Map.of("q1", "sci-fi"));
    assertEquals("sci-fi", g.queries().get(0).gold());
    assertEquals("action", g.queries().get(1).gold());
  }

  @Test
  void roundTripsBothFormsGoldsAndProfiles() {
    Map<String, String> f1 = new LinkedHashMap<>();
    f1.put("abstract", "we \"quote\" things\nand lines");
    f1.put("title", "Ünïcode title");
    UserData a = new UserData("ua", List.of(new HistoryItem("h1", "2020-01-02", f1),
        new HistoryItem("h2", null, Map.of("abstract", "b", "title", "c"))),
        List.of(new Query("qa1", "Generate a title for the following abstract of a paper: x", "gold 1"),
            new Query("qa2", "Generate a title for the following abstract of a paper: y", null)));
    UserData b = new UserData("ub", List.of(), List.of());
    Path oppu = dir.resolve("sub/users.json");
    LampFiles.writeUsers(oppu, LampFiles.UserFormat.OPPU, List.of(a, b));
    assertEquals(List.of(a, b), LampFiles.readUsers(oppu));

    // LaMP's form: one entry per query, user_id kept; the gold lives in the outputs file, not the questions
    Path lamp = dir.resolve("questions.json");
    LampFiles.writeUsers(lamp, LampFiles.UserFormat.LAMP_QUESTIONS, List.of(a));
    List<UserData> back = LampFiles.readUsers(lamp);
    assertEquals(2, back.size());
    assertEquals("ua", back.get(0).userId());
    assertEquals(a.profile(), back.get(1).profile());
    assertEquals(new Query("qa1", a.queries().get(0).input(), null), back.get(0).queries().get(0));

    Map<String, String> outs = new LinkedHashMap<>();
    outs.put("qa1", "gold 1");
    outs.put("qa2", " spaced ");
    Path g = dir.resolve("outputs.json");
    LampFiles.writeGolds(g, new Golds("LaMP_5", outs));
    Golds read = LampFiles.readGolds(g);
    assertEquals("LaMP_5", read.task());
    assertEquals(outs, read.outputs());
    assertEquals(List.of("qa1", "qa2"), List.copyOf(read.outputs().keySet()));

    Path p = dir.resolve("profiles.json");
    LampFiles.writeProfiles(p, Map.of("ua", "likes graphs"));
    assertEquals(Map.of("ua", "likes graphs"), LampFiles.readProfiles(p));
  }

  @Test
  void streamsWithoutReadingAhead() throws Exception {
    Path f = dir.resolve("many.json");
    try (LampFiles.UserWriter w = LampFiles.writeUsers(f, LampFiles.UserFormat.OPPU)) {
      for (int i = 0; i < 500; i++) {
        w.write(new UserData("u" + i, List.of(new HistoryItem("h" + i, null, Map.of("text", "t"))), List.of()));
      }
    }
    try (LampFiles.UserReader r = LampFiles.openUsers(f)) {
      int n = 0;
      while (r.hasNext()) {
        assertEquals("u" + n, r.next().userId());
        n++;
      }
      assertEquals(500, n);
    }
    Path empty = dir.resolve("empty.json");
    Files.writeString(empty, "[]");
    assertTrue(LampFiles.readUsers(empty).isEmpty());
  }

  @Test
  void goldsKeysInAnyOrderAndTaskMatching() throws Exception {
    Path f = dir.resolve("g.json");
    Files.writeString(f, "{\"golds\": [{\"id\": 1, \"output\": 4}], \"model\": {\"x\": [1]}, \"task\": \"LaMP_3\"}");
    Golds g = LampFiles.readGolds(f);
    assertEquals(Map.of("1", "4"), g.outputs());
    assertTrue(LampFiles.taskMatches(g.task(), Task.PRODUCT_RATING));
    assertFalse(LampFiles.taskMatches(g.task(), Task.NEWS_HEADLINE));
    assertTrue(LampFiles.taskMatches("LaMP_2", Task.MOVIE_TAGGING));
    assertFalse(LampFiles.taskMatches("LaMP_9", Task.MOVIE_TAGGING));
  }

  @Test
  void malformedFilesAreClearErrors() throws Exception {
    Path f = dir.resolve("bad.json");
    Files.writeString(f, "[{\"user_id\": \"u\", \"profile\": [], \"query\": [}]");
    LampInputException e = assertThrows(LampInputException.class, () -> LampFiles.readUsers(f));
    assertTrue(e.getMessage().contains("malformed JSON at line 1"), e.getMessage());

    Files.writeString(f, "{\"task\": \"LaMP_3\"}");
    e = assertThrows(LampInputException.class, () -> LampFiles.readUsers(f));
    assertTrue(e.getMessage().contains("expected a JSON array"), e.getMessage());
    e = assertThrows(LampInputException.class, () -> LampFiles.readGolds(f));
    assertTrue(e.getMessage().contains("no 'golds'"), e.getMessage());

    Files.writeString(f, "{\"task\": \"LaMP_3\", \"golds\": [{\"id\": \"a\", \"output\": \"1\"}, {\"id\": \"a\", \"output\": \"2\"}]}");
    e = assertThrows(LampInputException.class, () -> LampFiles.readGolds(f));
    assertTrue(e.getMessage().contains("duplicate id 'a'"), e.getMessage());

    Files.writeString(f, "{\"task\": \"LaMP_3\", \"golds\": [{\"id\": \"a\"}]}");
    e = assertThrows(LampInputException.class, () -> LampFiles.readGolds(f));
    assertTrue(e.getMessage().contains("golds[0] lacks 'output'"), e.getMessage());

    Files.writeString(f, "[{\"profile\": []}]");
    e = assertThrows(LampInputException.class, () -> LampFiles.readUsers(f));
    assertTrue(e.getMessage().contains("element 0 is neither"), e.getMessage());

    e = assertThrows(LampInputException.class, () -> LampFiles.readGolds(dir.resolve("nope.json")));
    assertTrue(e.getMessage().contains("no such file"), e.getMessage());
  }
}
