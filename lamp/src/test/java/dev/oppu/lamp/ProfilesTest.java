package dev.oppu.lamp;

import static dev.oppu.lamp.TaskTest.item;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProfilesTest {

  @Test
  void classificationListsTopLabelsWithSharesAndFrequentTerms() {
    List<Map<String, String>> items = List.of(
        item("description", "a robot robot and a galaxy", "tag", "sci-fi"),
        item("description", "the robot laughs", "tag", "comedy"),
        item("description", "robot galaxy war", "tag", "sci-fi"),
        item("description", "war of the worlds", "tag", "action"));
    assertEquals("Most used tags: sci-fi (50%), action (25%), comedy (25%). Salient terms: robot, galaxy, war,"
        + " laughs, worlds.", Profiles.fromHistory(Task.MOVIE_TAGGING, items));
  }

  @Test
  void tfIdfAgainstTheCrowdDemotesCommonTerms() {
    List<Map<String, String>> items = List.of(item("text", "market market market stock", "category", "business"));
    List<Map<String, String>> crowd = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      crowd.add(item("text", "market news " + i, "category", "business"));
    }
    crowd.add(item("text", "stock", "category", "business"));
    // by frequency "market" leads
    assertTrue(Profiles.fromHistory(Task.NEWS_CATEGORIZE, items).contains("Salient terms: market, stock."));
    List<Map<String, String>> two = List.of(item("text", "market market stock", "category", "business"));
    // against a crowd where 9 of 10 items say "market": market 2 * (ln(11/10) + 1) = 2.19 < stock 1 * (ln(11/2) + 1)
    // = 2.70
    assertTrue(Profiles.fromHistory(Task.NEWS_CATEGORIZE, two, Profiles.Crowd.of(Task.NEWS_CATEGORIZE, crowd))
        .contains("Salient terms: stock, market."));
  }

  @Test
  void ratingGivesScoreSharesAndMean() {
    List<Map<String, String>> items = List.of(item("text", "fine", "score", "4"), item("text", "good", "score", "5"),
        item("text", "nice", "score", "4"), item("text", "meh", "score", "2"));
    assertEquals("Most given scores: 4 (50%), 2 (25%), 5 (25%). Mean score 3.8. Salient terms: fine, good, meh, nice.",
        Profiles.fromHistory(Task.PRODUCT_RATING, items));
  }

  @Test
  void generationDescribesLengthPrefixClosingAndCase() {
    List<Map<String, String>> items = List.of(
        item("text", "a", "title", "breaking: storm hits city today"),
        item("text", "b", "title", "breaking: team wins cup today"),
        item("text", "c", "title", "breaking: market falls"));
    assertEquals("Headlines are typically 5 words long (3-5). They often start with \"breaking:\" (100%). They often"
        + " end with \"today\" (67%). Written in lower case. Salient terms: breaking, today, city, cup, falls, hits,"
        + " market, storm.", Profiles.fromHistory(Task.NEWS_HEADLINE, items));
    assertTrue(Profiles.fromHistory(Task.TWEET_PARAPHRASE, List.of(item("text", "Hello World")))
        .startsWith("Tweets are typically 2 words long (2-2)."));
  }

  @Test
  void citationAndEmptyHistory() {
    assertEquals("No history yet.", Profiles.fromHistory(Task.MOVIE_TAGGING, List.of()));
    String p = Profiles.fromHistory(Task.CITATION, List.of(item("title", "graph kernels", "citation", "graph walks"),
        item("title", "graph cuts", "abstract", "we cut graphs")));
    assertEquals("Cites 2 papers. Salient terms: graph, cut, cuts, graphs, kernels, walks.", p);
  }

  @Test
  void syntheticUsersProfileShowsTheirStyle() {
    SynthDataset ds = Synth.generate(Task.NEWS_HEADLINE, Synth.Params.defaults().withUsers(5).withTrainUsers(0));
    for (int i = 0; i < ds.users().size(); i++) {
      UserData u = ds.users().get(i);
      List<Map<String, String>> items = u.profile().stream().map(HistoryItem::fields).toList();
      String profile = Profiles.fromHistory(Task.NEWS_HEADLINE, items);
      assertEquals(profile, Profiles.fromHistory(Task.NEWS_HEADLINE, items), "deterministic");
      Object prefix = ds.userTruth().get(i).preference().get("prefix");
      if (prefix != null) {
        assertTrue(profile.contains("start with \"" + prefix + ":\""), profile);
      }
      Object suffix = ds.userTruth().get(i).preference().get("suffix");
      if (suffix != null) {
        assertTrue(profile.contains("end with \"" + suffix + "\""), profile);
      }
    }
  }
}
