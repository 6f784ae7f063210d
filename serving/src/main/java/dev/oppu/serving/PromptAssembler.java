package dev.oppu.serving;

import dev.oppu.lamp.Task;
import dev.oppu.serving.RequestValidator.Validated;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Builds the model input of a request as SPEC section 2 says: {@code [profile + "\n"] + retrieved items + "\n" +
 * prompt}. Retrieved items are cut to the word budget the trainer used for its RAG examples, so that a rag adapter
 * sees at serving time what it saw in training.
 */
public final class PromptAssembler {

  /**
   * @param prompt       the model input
   * @param retrievedIds ids of the retrieved items, best first
   * @param noHistory    the mode needed the user's history (retrieval or profile) and there was none
   */
  public record Assembled(String prompt, List<String> retrievedIds, boolean noHistory) {}

  private final int retrievedWords;

  public PromptAssembler(int retrievedWords) {
    this.retrievedWords = retrievedWords;
  }

  public Assembled assemble(String userId, Validated v, UserData data) {
    Task task = v.task();
    Mode mode = v.mode();
    String taskPrompt = task.prompt(v.extracted());
    List<Map<String, String>> items = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    boolean noHistory = false;
    if (mode.usesRetrieval()) {
      for (UserData.Item item : data.retrieve(userId, task, task.query(v.extracted()), v.k())) {
        items.add(task.cutRetrieved(item.fields(), retrievedWords));
        ids.add(item.id());
      }
      noHistory = items.isEmpty() && !data.hasHistory(userId, task);
    }
    String profile = null;
    if (mode.usesProfile()) {
      profile = data.profile(userId, task);
      noHistory = profile == null || profile.isBlank();
    }
    return new Assembled(task.buildInput(profile, items, taskPrompt), List.copyOf(ids), noHistory);
  }
}
