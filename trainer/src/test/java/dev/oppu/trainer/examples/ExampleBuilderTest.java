package dev.oppu.trainer.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.oppu.lamp.Task;
import dev.oppu.model.CausalLm;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExampleBuilderTest {

  /** One id per whitespace-separated word (stable, by first appearance): enough to check lengths and masks. */
  static final class WordEncoder implements TokenEncoder {
    final Map<String, Integer> vocab = new HashMap<>();

    @Override
    public int[] encode(String text) {
      String t = text.strip();
      if (t.isEmpty()) {
        return new int[0];
      }
      return java.util.Arrays.stream(t.split("\\s+")).mapToInt(w -> vocab.computeIfAbsent(w, k -> 3 + vocab.size()))
          .toArray();
    }

    @Override public int eosId() { return 2; }
    @Override public int bosId() { return 1; }
    @Override public int padId() { return 0; }
  }

  static Map<String, String> movie(String description, String tag) {
    return Map.of("description", description, "tag", tag);
  }

  @Test
  void promptTokensAreMaskedAndEosIsTheLastTarget() {
    WordEncoder enc = new WordEncoder();
    ExampleBuilder b = new ExampleBuilder(Task.MOVIE_TAGGING, ExampleBuilder.Options.defaults(Variant.PLAIN), enc);
    List<TokenizedExample> ex = b.build(List.of(movie("a robot in love", "based on a book")), null, 0);
    TokenizedExample e = ex.get(0);
    int[] answer = enc.encode(" based on a book");
    assertEquals(1, e.tokens()[0], "BOS first");
    assertEquals(2, e.tokens()[e.tokens().length - 1], "EOS appended");
    assertEquals(answer.length + 1, e.targetCount());
    int[] prompt = enc.encode(Task.MOVIE_TAGGING.buildInput(null, List.of(),
        Task.MOVIE_TAGGING.trainingExample(movie("a robot in love", "based on a book")).prompt()));
    assertEquals(1 + prompt.length, e.promptLength());
    try (NDManager m = NDManager.newBaseManager(); CausalLm.Batch batch = TokenizedExample.batch(ex, 0, m)) {
      long[] labels = batch.labels().toLongArray();
      long[] ids = batch.inputIds().toLongArray();
      for (int p = 0; p + 1 < labels.length; p++) {
        // position p predicts token p+1: counted exactly for the answer tokens and the EOS
        assertEquals(p + 1 >= e.promptLength(), labels[p + 1] != CausalLm.IGNORE, "mask at " + p);
        assertEquals(e.tokens()[p + 1], ids[p + 1]);
      }
      assertEquals(answer.length + 1, batch.targetCount());
    }
  }

  @Test
  void paddingIsNeverATarget() {
    WordEncoder enc = new WordEncoder();
    ExampleBuilder b = new ExampleBuilder(Task.MOVIE_TAGGING, ExampleBuilder.Options.defaults(Variant.PLAIN), enc);
    List<TokenizedExample> ex = b.build(List.of(movie("short", "comedy"),
        movie("a much longer description of a film with many words in it", "action")), null, 0);
    try (NDManager m = NDManager.newBaseManager(); CausalLm.Batch batch = TokenizedExample.batch(ex, 0, m)) {
      assertEquals(ex.get(0).targetCount() + ex.get(1).targetCount(), batch.targetCount());
      long counted = java.util.Arrays.stream(batch.labels().toLongArray()).filter(l -> l != CausalLm.IGNORE).count();
      assertEquals(batch.targetCount(), counted);
      assertEquals(batch.targetCount(), batch.positions().size());
    }
  }

  @Test
  void retrievalForItemIUsesOnlyEarlierItems() {
    List<Map<String, String>> items = new ArrayList<>();
    items.add(movie("space robots fight", "sci-fi"));
    items.add(movie("a quiet family drama", "classic"));
    items.add(movie("space robots fight again", "action"));
    items.add(movie("space robots fight a third time", "sci-fi")); // its twin (index 4) comes later
    items.add(movie("space robots fight a third time", "dystopia"));
    assertEquals(0, ExampleBuilder.retrieveBefore(Task.MOVIE_TAGGING, items, 0, 3).length, "nothing before item 0");
    for (int i = 1; i < items.size(); i++) {
      for (int d : ExampleBuilder.retrieveBefore(Task.MOVIE_TAGGING, items, i, 3)) {
        assertTrue(d < i, "item " + i + " retrieved item " + d);
      }
    }
    assertArrayEquals(new int[] {3, 0, 2}, ExampleBuilder.retrieveBefore(Task.MOVIE_TAGGING, items, 4, 3));

    // the built RAG prompt of item 3 holds its best earlier match (0, shortest) and never the later twin's label
    WordEncoder enc = new WordEncoder();
    ExampleBuilder rag = new ExampleBuilder(Task.MOVIE_TAGGING, new ExampleBuilder.Options(Variant.RAG, 1, 256, 48),
        enc);
    List<TokenizedExample> ex = rag.build(items, null, 0);
    assertEquals(items.size(), ex.size());
    String first = decode(enc, ex.get(0));
    assertTrue(first.startsWith("Which tag"), first);
    String third = decode(enc, ex.get(3));
    assertTrue(third.startsWith("description: space robots fight tag: sci-fi Which tag"), third);
    assertFalse(third.contains("tag: dystopia"), third);
  }

  @Test
  void longInputsAreCutToTheBudgetKeepingTheAnswer() {
    WordEncoder enc = new WordEncoder();
    StringBuilder longText = new StringBuilder();
    for (int i = 0; i < 500; i++) {
      longText.append("w").append(i).append(' ');
    }
    ExampleBuilder b = new ExampleBuilder(Task.MOVIE_TAGGING, new ExampleBuilder.Options(Variant.PLAIN, 0, 120, 48),
        enc);
    TokenizedExample e = b.build(List.of(movie(longText.toString(), "true story")), null, 0).get(0);
    assertTrue(e.tokens().length <= 120, "length " + e.tokens().length);
    assertTrue(e.tokens().length >= 115, "the input is cut no more than needed: " + e.tokens().length);
    String text = decode(enc, e);
    assertTrue(text.endsWith("tag: true story"), text);
    assertTrue(text.contains("description: w0 w1"), text);
  }

  @Test
  void pagPrependsTheProfile() {
    WordEncoder enc = new WordEncoder();
    ExampleBuilder b = new ExampleBuilder(Task.MOVIE_TAGGING, ExampleBuilder.Options.defaults(Variant.PAG), enc);
    String text = decode(enc, b.build(List.of(movie("a film", "comedy")), "likes comedy", 0).get(0));
    assertTrue(text.startsWith("likes comedy Which tag"), text);
  }

  static String decode(WordEncoder enc, TokenizedExample e) {
    Map<Integer, String> inv = new HashMap<>();
    enc.vocab.forEach((w, id) -> inv.put(id, w));
    StringBuilder sb = new StringBuilder();
    for (int i = 1; i < e.tokens().length - 1; i++) {
      sb.append(i > 1 ? " " : "").append(inv.get(e.tokens()[i]));
    }
    return sb.toString();
  }
}
