package dev.oppu.bench;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.serving.BadRequestException;
import dev.oppu.serving.Mode;
import dev.oppu.serving.PromptAssembler;
import dev.oppu.serving.RequestValidator;
import dev.oppu.serving.UserData;
import dev.oppu.streams.Bm25Scorer;
import dev.oppu.streams.IngestConfig;
import java.util.ArrayList;
import java.util.List;

/** One user's history as serving's stores would hold it: BM25 over the items (Lucene-equal), the built profile. */
final class OfflineUserData implements UserData {
  private final dev.oppu.lamp.data.UserData user;
  private final Bm25Scorer.Index index = new Bm25Scorer(IngestConfig.defaults().newAnalyzer(),
      IngestConfig.defaults().maxQueryTerms()).newIndex();
  private final String profile;

  OfflineUserData(dev.oppu.lamp.data.UserData user, Task task, String profile) {
    this.user = user;
    this.profile = profile;
    // the streaming index holds each item's input field (ExampleBuilder.retrieveBefore does the same)
    user.profile().forEach(i -> index.add(i.fields().getOrDefault(task.inputField(), "")));
  }

  @Override
  public List<Item> retrieve(String userId, Task task, String query, int k) {
    List<Item> out = new ArrayList<>();
    for (int i : index.search(query, k)) {
      HistoryItem h = user.profile().get(i);
      out.add(new Item(h.id(), h.fields()));
    }
    return out;
  }

  @Override
  public boolean hasHistory(String userId, Task task) {
    return !user.profile().isEmpty();
  }

  @Override
  public String profile(String userId, Task task) {
    return profile;
  }

  /** The prompt serving would assemble for this user's query in a mode. */
  String prompt(PromptAssembler assembler, RequestValidator validator, Task task, Query q, Mode mode)
      throws BadRequestException {
    var request = dev.oppu.schemas.Request.newBuilder().setRequestId(q.id()).setUserId(user.userId())
        .setTask(task.id()).setInput(q.input()).setMode(mode.id()).setRequestTime(java.time.Instant.EPOCH).build();
    return assembler.assemble(user.userId(), validator.validate(user.userId(), request), this).prompt();
  }
}
