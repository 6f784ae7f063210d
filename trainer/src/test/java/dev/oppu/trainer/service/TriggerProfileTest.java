package dev.oppu.trainer.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.trainer.examples.Variant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The profile a trigger's update trains with (the pag variant only). */
class TriggerProfileTest {
  private static final List<Map<String, String>> ITEMS = List.of(
      Map.of("description", "robots rebel against their makers", "tag", "sci-fi"),
      Map.of("description", "a quiet family drama by the sea", "tag", "classic"));

  private static TrainTrigger trigger(String variant, String profile) {
    return TrainTrigger.newBuilder(LabelDistributionTest.trigger(Task.MOVIE_TAGGING, ITEMS)).setVariant(variant)
        .setProfile(profile).build();
  }

  @Test
  void aPagUpdateTrainsWithTheTriggersProfile() {
    assertEquals("Loves science fiction.",
        TrainerService.profile(Task.MOVIE_TAGGING, Variant.PAG, trigger("pag", "Loves science fiction.")));
  }

  @Test
  void aPagTriggerWithoutAProfileGetsTheOneBuiltFromItsHistory() {
    assertEquals(Profiles.fromHistory(Task.MOVIE_TAGGING, ITEMS),
        TrainerService.profile(Task.MOVIE_TAGGING, Variant.PAG, trigger("pag", null)));
  }

  @Test
  void otherVariantsTrainWithoutAProfile() {
    assertNull(TrainerService.profile(Task.MOVIE_TAGGING, Variant.PLAIN, trigger("plain", "x")));
    assertNull(TrainerService.profile(Task.MOVIE_TAGGING, Variant.RAG, trigger("rag", null)));
  }
}
