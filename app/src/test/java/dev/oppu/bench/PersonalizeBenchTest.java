package dev.oppu.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import dev.oppu.serving.Mode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bench's scoring against the truth columns and its predictions file, without a model. */
class PersonalizeBenchTest {

  static final SynthDataset DATA =
      Synth.generate(Task.MOVIE_TAGGING, Synth.Params.defaults().withUsers(5).withTrainUsers(0).withQueries(4));

  /** One mode answering every query with the crowd's answer, one with the history's. */
  static Map<Mode, Map<String, String>> preds() {
    Map<Mode, Map<String, String>> preds = new EnumMap<>(Mode.class);
    preds.put(Mode.NON_PERSONALIZED, new LinkedHashMap<>());
    preds.put(Mode.OPPU, new LinkedHashMap<>());
    for (SynthDataset.QueryTruth q : DATA.queryTruth()) {
      preds.get(Mode.NON_PERSONALIZED).put(q.id(), q.crowd());
      preds.get(Mode.OPPU).put(q.id(), q.history());
    }
    return preds;
  }

  @Test
  void agreementScoresEachModeAgainstEachTruthColumn() {
    var a = PersonalizeBench.agreement(DATA, preds(), "accuracy");
    assertEquals(1.0, a.get("non-personalized").get("crowd"));
    assertEquals(1.0, a.get("OPPU").get("history"));
    // the crowd's answer against the user's: the crowd ceiling's agreement, below 1 since users differ from the crowd
    assertFalse(a.get("non-personalized").get("personal") >= 1.0);
  }

  @Test
  void predictionsFileHoldsEveryAnswerBesideItsTruth(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("preds.jsonl");
    PersonalizeBench.writePredictions(DATA, preds(), f);
    List<String> lines = Files.readAllLines(f);
    assertEquals(2 * DATA.queryTruth().size(), lines.size());
    JsonNode first = new ObjectMapper().readTree(lines.get(0));
    SynthDataset.QueryTruth q = DATA.queryTruth().get(0);
    assertEquals("non-personalized", first.get("mode").asText());
    assertEquals(q.id(), first.get("id").asText());
    assertEquals("few", first.get("activity").asText(), "the first evaluated user has 8-16 items");
    assertEquals(q.crowd(), first.get("prediction").asText());
    assertEquals(q.gold(), first.get("gold").asText());
    assertEquals(q.personal(), first.get("personal").asText());
    assertEquals(q.history(), first.get("history").asText());
  }
}
