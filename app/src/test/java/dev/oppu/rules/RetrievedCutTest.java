package dev.oppu.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.serving.Mode;
import dev.oppu.serving.PromptAssembler;
import dev.oppu.serving.RequestValidator;
import dev.oppu.serving.UserData;
import dev.oppu.trainer.examples.ExampleBuilder;
import dev.oppu.trainer.examples.TokenEncoder;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.examples.Variant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Serving's prompt and training's RAG example cut a retrieved item the same way ({@link Task#cutRetrieved}). The two
 * copies this replaced disagreed on tweets: serving left a retrieved tweet whole, training cut it to the word budget.
 */
class RetrievedCutTest {
  private static final int WORDS = 48;

  /** One token per character, so that a prompt decodes back to its text. */
  private static final class CharEncoder implements TokenEncoder {
    @Override
    public int[] encode(String text) {
      return text.codePoints().map(c -> c + 3).toArray();
    }

    @Override public int eosId() { return 2; }
    @Override public int bosId() { return 1; }
    @Override public int padId() { return 0; }

    static String decode(int[] ids, int from, int to) {
      return Arrays.stream(ids, from, to).map(c -> c - 3)
          .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
    }
  }

  private static String words(String prefix, int n) {
    return IntStream.range(0, n).mapToObj(i -> prefix + i).collect(Collectors.joining(" "));
  }

  /** The retrieved part of a model input: everything before the "\n" + task prompt. */
  private static String retrievedPart(String input, String taskPrompt) {
    assertTrue(input.endsWith("\n" + taskPrompt), input);
    return input.substring(0, input.length() - taskPrompt.length() - 1);
  }

  private static void sameCut(Task task, Map<String, String> old, Map<String, String> query, String requestInput) {
    ExampleBuilder builder = new ExampleBuilder(task, new ExampleBuilder.Options(Variant.RAG, 1, 100_000, WORDS),
        new CharEncoder());
    List<Map<String, String>> items = List.of(old, query);
    TokenizedExample ex = builder.build(items, null, 1).get(0);
    String trained = retrievedPart(CharEncoder.decode(ex.tokens(), 1, ex.promptLength()),
        task.trainingExample(query).prompt());

    Task.Extracted x = task.extract(requestInput);
    UserData data = new UserData() {
      @Override
      public List<Item> retrieve(String userId, Task t, String q, int k) {
        return List.of(new Item("old", old));
      }

      @Override
      public boolean hasHistory(String userId, Task t) {
        return true;
      }

      @Override
      public String profile(String userId, Task t) {
        return null;
      }
    };
    String served = retrievedPart(new PromptAssembler(WORDS).assemble("u",
        new RequestValidator.Validated(task, x, Mode.RAG, 1), data).prompt(), task.prompt(x));

    assertEquals(trained, served, task.id() + ": serving's prompt and training's example cut alike");
    assertEquals(task.renderItem(task.cutRetrieved(old, WORDS)), served);
    String field = task.cutRetrieved(old, WORDS).get(task.inputField());
    assertEquals(WORDS, field.split(" ").length, "cut to the word budget");
    assertNotEquals(task.renderItem(old), served, "the item was long enough to be cut");
  }

  @Test
  void tweetsAreCutAlikeWhereTheCopiesDisagreed() {
    Task task = Task.TWEET_PARAPHRASE;
    Map<String, String> old = Map.of("text", "shared " + words("w", 59));
    Map<String, String> query = Map.of("text", "shared words again");
    sameCut(task, old, query, "Paraphrase the following tweet without any explanation before or after it: "
        + "shared words again");
  }

  @Test
  void movieDescriptionsAreCutAlike() {
    Task task = Task.MOVIE_TAGGING;
    Map<String, String> old = Map.of("description", "shared " + words("d", 70), "tag", "comedy");
    Map<String, String> query = Map.of("description", "shared plot", "tag", "comedy");
    List<String> tags = new ArrayList<>(task.labels());
    String input = "Which tag does this movie relate to among the following tags? Just answer with the tag name"
        + " without further explanation. tags: [" + String.join(", ", tags) + "] description: shared plot";
    sameCut(task, old, query, input);
  }
}
