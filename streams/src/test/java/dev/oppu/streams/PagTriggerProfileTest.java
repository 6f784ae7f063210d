package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.TrainTrigger;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pag trigger carries the user's profile, the text serving's PAG prompts use: the one built from the retained
 * history by {@link Profiles#fromHistory} (as serving's {@code IngestUserData} builds it), or the given one.
 */
class PagTriggerProfileTest {
  @TempDir
  Path stateDir;

  private static IngestConfig config() {
    return IngestConfig.defaults().withVariants(List.of("plain", "rag", "pag")).withTriggers(3, 4, 5, 5, 0.35)
        .withMaxHistory(5);
  }

  private static Map<String, TrainTrigger> byVariant(List<TrainTrigger> triggers) {
    Map<String, TrainTrigger> out = new LinkedHashMap<>();
    for (TrainTrigger t : triggers) {
      out.put(t.getVariant(), t);
    }
    return out;
  }

  private static List<Map<String, String>> fields(TrainTrigger t) {
    return t.getHistory().stream().map(HistoryItem::getFields).toList();
  }

  @Test
  void aPagTriggerCarriesTheProfileBuiltFromTheRetainedHistory() {
    try (Driver d = new Driver(config(), stateDir)) {
      d.send(TestData.movie("u1", "e0", "robots rebel against their makers", "sci-fi"));
      d.send(TestData.movie("u1", "e1", "a quiet family drama by the sea", "classic"));
      d.send(TestData.movie("u1", "e2", "robots and aliens in deep space", "sci-fi"));
      Map<String, TrainTrigger> first = byVariant(d.triggers.readValuesToList());
      assertEquals(List.of("plain", "rag", "pag"), List.copyOf(first.keySet()));
      assertNull(first.get("plain").getProfile(), "only the pag variant trains with a profile");
      assertNull(first.get("rag").getProfile());
      TrainTrigger pag = first.get("pag");
      assertNotNull(pag.getProfile(), "the pag trigger carries the user's profile");
      List<Map<String, String>> sent = List.of(
          Map.of("description", "robots rebel against their makers", "tag", "sci-fi"),
          Map.of("description", "a quiet family drama by the sea", "tag", "classic"),
          Map.of("description", "robots and aliens in deep space", "tag", "sci-fi"));
      assertEquals(Profiles.fromHistory(Task.MOVIE_TAGGING, sent), pag.getProfile());
      assertEquals(Profiles.fromHistory(Task.MOVIE_TAGGING, fields(pag)), pag.getProfile());

      // The next pag trigger's profile is built from the history retained then (max 5: the two oldest evicted).
      d.results.pipeInput("u1", IngestTopologyTest.result(pag.getTriggerId(), true, 1L, 2, "LaMP_2M", "pag"),
          Instant.ofEpochMilli(d.now()));
      for (int i = 3; i < 7; i++) {
        d.send(TestData.movie("u1", "e" + i, "a heist in the city " + i, "action"));
      }
      TrainTrigger next = d.triggers.readValuesToList().stream().filter(t -> t.getVariant().equals("pag"))
          .findFirst().orElseThrow();
      assertEquals(List.of("e2", "e3", "e4", "e5", "e6"),
          next.getHistory().stream().map(HistoryItem::getEventId).toList());
      assertEquals(Profiles.fromHistory(Task.MOVIE_TAGGING, fields(next)), next.getProfile());
    }
  }

  @Test
  void aGivenProfileIsCarriedInsteadOfTheBuiltOne() {
    IngestConfig c = config().withGivenProfiles((task, user) ->
        task == Task.MOVIE_TAGGING && user.equals("u1") ? "Loves science fiction, dislikes romance." : null);
    try (Driver d = new Driver(c, stateDir)) {
      for (String u : List.of("u1", "u2")) {
        for (int i = 0; i < 3; i++) {
          d.send(TestData.movie(u, u + "-e" + i, "robots in space " + i, "sci-fi"));
        }
      }
      List<TrainTrigger> pag = d.triggers.readValuesToList().stream().filter(t -> t.getVariant().equals("pag"))
          .toList();
      assertEquals(2, pag.size());
      assertEquals("u1", pag.get(0).getUserId());
      assertEquals("Loves science fiction, dislikes romance.", pag.get(0).getProfile());
      assertEquals("u2", pag.get(1).getUserId());
      assertEquals(Profiles.fromHistory(Task.MOVIE_TAGGING, fields(pag.get(1))), pag.get(1).getProfile(),
          "a user without a given profile gets the one built from their history");
    }
  }
}
