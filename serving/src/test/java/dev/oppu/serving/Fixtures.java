package dev.oppu.serving;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Request;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Map;

/** LaMP-shaped inputs and records for serving tests. */
final class Fixtures {
  private Fixtures() {}

  /** A valid LaMP input for each task (markers as LaMP writes them) and the text to be cut out of it. */
  static String input(Task task, String text) {
    return switch (task) {
      case CITATION -> "For an author who has written the paper with the title \"" + text + "\", which reference is"
          + " related? Just answer with [1] or [2] without any explanation. [1]: \"Graph kernels revisited\""
          + " [2]: \"Sparse attention at scale\"";
      case NEWS_CATEGORIZE -> "Which category does this article relate to among the following categories? Just"
          + " answer with the category name without further explanation. categories: [travel, education, parents,"
          + " style & beauty, entertainment, food & drink, science & technology, business, sports, healthy living,"
          + " women, politics, crime, culture & arts, religion] article: " + text;
      case MOVIE_TAGGING -> "Which tag does this movie relate to among the following tags? Just answer with the tag"
          + " name without further explanation. tags: [sci-fi, based on a book, comedy, action, twist ending,"
          + " dystopia, dark comedy, classic, psychology, fantasy, romance, thought-provoking, social commentary,"
          + " violence, true story] description: " + text;
      case PRODUCT_RATING -> "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2,"
          + " 3, 4, or 5 without further explanation. review: " + text;
      case NEWS_HEADLINE -> "Generate a headline for the following article: " + text;
      case SCHOLARLY_TITLE -> "Generate a title for the following abstract of a paper: " + text;
      case TWEET_PARAPHRASE -> "Paraphrase the following tweet without any explanation before or after it: " + text;
    };
  }

  /** A history item of the task whose input field is {@code text} and label {@code label}. */
  static Map<String, String> item(Task task, String text, String label) {
    return switch (task) {
      case CITATION -> Map.of("title", text, "citation", label);
      case NEWS_CATEGORIZE -> Map.of("text", text, "category", label);
      case MOVIE_TAGGING -> Map.of("description", text, "tag", label);
      case PRODUCT_RATING -> Map.of("text", text, "score", label);
      case NEWS_HEADLINE -> Map.of("text", text, "title", label);
      case SCHOLARLY_TITLE -> Map.of("abstract", text, "title", label);
      case TWEET_PARAPHRASE -> Map.of("text", text);
    };
  }

  static Request request(String id, String user, Task task, String input, String mode) {
    return Request.newBuilder().setRequestId(id).setUserId(user).setTask(task.id()).setInput(input).setMode(mode)
        .setK(null).setRequestTime(Instant.now()).setDeadline(null).build();
  }

  static AdapterVersion adapter(String user, Task task, String variant, long version, String baseFp, String taskFp) {
    return AdapterVersion.newBuilder()
        .setUserId(user).setTask(task.id()).setVariant(variant).setVersion(version)
        .setTriggerId("t-" + user + "-" + version).setCoveredSeq(version).setItemsTrained(10)
        .setLossBefore(2.0).setLossAfter(1.0).setTrainMillis(5).setPublishedAt(Instant.now())
        .setBaseFingerprint(baseFp).setTaskFingerprint(taskFp)
        .setAdapterConfig("{\"r\": 8}").setWeights(ByteBuffer.wrap(new byte[100])).setWeightsPath(null)
        .setWeightsSha256("0").setLabelDistribution(Map.of())
        .build();
  }
}
