package dev.oppu.lamp.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Synth;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one resolver of "what data did the user point me at": layouts, splits, evaluated and non-evaluated users. */
class LampDataTest {

  @TempDir Path dir;

  /** LaMP questions of {@code task}: question i has {@code 2 + i} items; time-based when {@code users} is given. */
  private static void questions(Path file, Task task, String idPrefix, int n, List<String> users) throws Exception {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      String id = idPrefix + i;
      String input = task.lampInput("text " + i, List.of("a", "b")).replace("\"", "\\\"");
      sb.append(i == 0 ? "" : ", ").append("{\"id\": \"").append(id).append('"');
      if (users != null) {
        sb.append(", \"user_id\": \"").append(users.get(i)).append('"');
      }
      sb.append(", \"input\": \"").append(input).append("\", \"profile\": [");
      for (int j = 0; j < 2 + i; j++) {
        String itemId = users != null ? users.get(i) + "-" + j : id + "-" + j;
        sb.append(j == 0 ? "" : ", ").append(item(task, itemId));
      }
      sb.append("]}");
    }
    Files.createDirectories(file.getParent());
    Files.writeString(file, sb.append("]").toString());
  }

  private static String item(Task task, String id) {
    return switch (task) {
      case MOVIE_TAGGING -> "{\"tag\": \"comedy\", \"description\": \"d " + id + "\", \"id\": \"" + id + "\"}";
      case NEWS_CATEGORIZE -> "{\"text\": \"t " + id + "\", \"title\": \"x\", \"category\": \"sports\", \"id\": \""
          + id + "\"}";
      default -> "{\"text\": \"t " + id + "\", \"score\": \"4\", \"id\": \"" + id + "\"}";
    };
  }

  private static void outputs(Path file, String task, String idPrefix, int n, String gold) throws Exception {
    List<String> g = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      g.add("{\"id\": \"" + idPrefix + i + "\", \"output\": \"" + gold + "\"}");
    }
    Files.writeString(file, "{\"task\": \"" + task + "\", \"golds\": [" + String.join(", ", g) + "]}");
  }

  private void lampFolder(Path d, Task task, String outTask, String gold) throws Exception {
    questions(d.resolve("train/train_questions.json"), task, "t", 3, null);
    questions(d.resolve("dev/dev_questions.json"), task, "d", 2, null);
    outputs(d.resolve("dev/dev_outputs.json"), outTask, "d", 2, gold);
  }

  @Test
  void lampUserBasedFolderDevIsEvaluatedTrainAdaptsAndLamp2IsTheTaskItsQuestionsAre() throws Exception {
    lampFolder(dir.resolve("LaMP_2"), Task.MOVIE_TAGGING, "LaMP_2", "comedy");
    lampFolder(dir.resolve("LaMP_3"), Task.PRODUCT_RATING, "LaMP_3", "4");
    Map<Task, LampData.Source> found = LampData.folder(dir, List.of(Task.values()), false);
    assertEquals(Set.of(Task.MOVIE_TAGGING, Task.PRODUCT_RATING), found.keySet(), "LaMP_2 holds movies, not news");
    LampData.Source movie = found.get(Task.MOVIE_TAGGING);
    assertEquals(LampData.Layout.LAMP, movie.layout());
    assertEquals(LampData.Split.USER_BASED, movie.split());
    List<UserData> eval = movie.evaluated(100);
    assertEquals(List.of("d0", "d1"), eval.stream().map(UserData::userId).toList());
    assertEquals("comedy", eval.get(0).queries().get(0).gold());
    List<UserData> train = movie.nonEvaluated(100, Integer.MAX_VALUE);
    assertEquals(List.of("t0", "t1", "t2"), train.stream().map(UserData::userId).toList());
    assertEquals(List.of("t0", "t1"), movie.nonEvaluated(100, 2).stream().map(UserData::userId).toList());
    assertTrue(movie.describe(100).contains("user-based"), movie.describe(100));

    // Asked for news explicitly: the LaMP_2 folder is movies, so there is no news data, said with where it looked.
    LampInputException e = assertThrows(LampInputException.class,
        () -> LampData.folder(dir, List.of(Task.NEWS_CATEGORIZE), true));
    assertTrue(e.getMessage().contains("LaMP_2N: no data under") && e.getMessage().contains("news categorization"),
        e.getMessage());
    // The root may be the task's folder itself.
    assertEquals(Task.PRODUCT_RATING,
        LampData.folder(dir.resolve("LaMP_3"), List.of(Task.values()), false).keySet().iterator().next());
  }

  @Test
  void timeBasedSplitEvaluatesTheMostActiveUsersAndAdaptsOnTheOthers() throws Exception {
    Path d = dir.resolve("LaMP_3");
    // users a, b, c, d: train questions give a 2, b 3, c 4 items; dev questions give each user one more item.
    questions(d.resolve("train_questions.json"), Task.PRODUCT_RATING, "t", 3, List.of("a", "b", "c"));
    questions(d.resolve("dev_questions.json"), Task.PRODUCT_RATING, "d", 4, List.of("a", "b", "c", "d"));
    outputs(d.resolve("dev_outputs.json"), "LaMP_3", "d", 4, "5");
    LampData.Source s = LampData.find(dir, Task.PRODUCT_RATING).orElseThrow();
    assertEquals(LampData.Split.TIME_BASED, s.split());
    // distinct items: a 2, b 3, c 4, d 5 (dev question i has 2 + i items, ids user-j)
    assertEquals(List.of("d", "c"), List.copyOf(s.mostActive(2)));
    List<UserData> eval = s.evaluated(2);
    assertEquals(List.of("c", "d"), eval.stream().map(UserData::userId).toList(), "file order");
    assertEquals(List.of("d2"), eval.get(0).queries().stream().map(Query::id).toList(), "dev questions only");
    assertEquals("5", eval.get(0).queries().get(0).gold());
    List<UserData> train = s.nonEvaluated(2, Integer.MAX_VALUE);
    assertEquals(List.of("a", "b"), train.stream().map(UserData::userId).toList());
    assertEquals(3, train.get(1).profile().size(), "b's entries merged, items de-duplicated by id");
    LampInputException e = assertThrows(LampInputException.class, () -> s.nonEvaluated(100, 10));
    assertTrue(e.getMessage().contains("all 4 users are among the 100 most active"), e.getMessage());

    // The same rule for an explicit time-based file.
    LampData.Source f = LampData.files(Task.PRODUCT_RATING, d.resolve("dev_questions.json"),
        d.resolve("dev_outputs.json"));
    assertEquals(LampData.Split.TIME_BASED, f.split());
    assertEquals(List.of("a", "b", "c"), f.nonEvaluated(1, 10).stream().map(UserData::userId).toList());
    assertTrue(!f.sameUsers());
  }

  @Test
  void processedFoldersInOppusAndSynthsNamesAndExplicitFiles() throws Exception {
    Synth.generate(Task.MOVIE_TAGGING, Synth.Params.defaults().withUsers(3).withTrainUsers(2).withQueries(1))
        .write(dir);
    LampData.Source s = LampData.find(dir, Task.MOVIE_TAGGING).orElseThrow();
    assertEquals(LampData.Layout.PROCESSED, s.layout());
    assertEquals(3, s.evaluated(1).size(), "OPPU's own split: --most-active does not apply");
    assertTrue(s.evaluated(1).get(0).queries().get(0).gold() != null, "golds from users_labels.json");
    assertEquals(2, s.nonEvaluated(1, 10).size());

    Path oppu = dir.resolve("oppu").resolve("news_categorize");
    Files.createDirectories(oppu);
    Files.writeString(oppu.resolve(LampData.OPPU_OTHERS), "[{\"user_id\": \"u1\", \"profile\": ["
        + item(Task.NEWS_CATEGORIZE, "1") + "], \"query\": []}]");
    LampData.Source n = LampData.find(dir.resolve("oppu"), Task.NEWS_CATEGORIZE).orElseThrow();
    assertEquals(1, n.nonEvaluated(100, 10).size());
    LampInputException e = assertThrows(LampInputException.class, () -> n.evaluated(100));
    assertTrue(e.getMessage().contains("no evaluated users"), e.getMessage());

    // Explicit user-based questions: all evaluated, all adapt (adapt-task on a train file); demo must not do both.
    Path q = dir.resolve("q.json");
    questions(q, Task.NEWS_CATEGORIZE, "n", 2, null);
    LampData.Source f = LampData.files(Task.NEWS_CATEGORIZE, q, null);
    assertEquals(LampData.Split.USER_BASED, f.split());
    assertTrue(f.sameUsers());
    assertEquals(2, f.evaluated(1).size());
    assertNull(f.evaluated(1).get(0).queries().get(0).gold());
    LampInputException wrongTask = assertThrows(LampInputException.class,
        () -> LampData.files(Task.NEWS_CATEGORIZE, q, dir.resolve("movie_tagging/users_labels.json")).evaluated(1));
    assertTrue(wrongTask.getMessage().contains("not LaMP_2N"), wrongTask.getMessage());
  }

  @Test
  void ambiguityAndMissingFilesAreClearErrors() throws Exception {
    lampFolder(dir.resolve("LaMP_2"), Task.MOVIE_TAGGING, "LaMP_2", "comedy");
    lampFolder(dir.resolve("LaMP_2M"), Task.MOVIE_TAGGING, "LaMP_2M", "comedy");
    LampInputException two = assertThrows(LampInputException.class, () -> LampData.find(dir, Task.MOVIE_TAGGING));
    assertTrue(two.getMessage().contains("more than one place") && two.getMessage().contains("LaMP_2M")
        && two.getMessage().contains("--questions"), two.getMessage());

    Path d = dir.resolve("other").resolve("LaMP_3");
    questions(d.resolve("dev_questions.json"), Task.PRODUCT_RATING, "d", 2, null);
    LampInputException noGolds = assertThrows(LampInputException.class,
        () -> LampData.find(dir.resolve("other"), Task.PRODUCT_RATING));
    assertTrue(noGolds.getMessage().contains("dev_questions.json without dev_outputs.json"), noGolds.getMessage());
    questions(d.resolve("dev/dev_questions.json"), Task.PRODUCT_RATING, "d", 2, null);
    LampInputException both = assertThrows(LampInputException.class,
        () -> LampData.find(dir.resolve("other"), Task.PRODUCT_RATING));
    assertTrue(both.getMessage().contains("holds both"), both.getMessage());

    assertThrows(LampInputException.class, () -> LampData.folder(dir.resolve("none"), List.of(Task.CITATION), true));
    assertThrows(LampInputException.class, () -> LampData.files(Task.CITATION, dir.resolve("none.json"), null));
  }
}
