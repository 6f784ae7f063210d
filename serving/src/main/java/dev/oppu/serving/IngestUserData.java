package dev.oppu.serving;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.StoreNames;
import dev.oppu.streams.Bm25Retriever;
import dev.oppu.streams.IndexStats;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.IngestTopology;
import dev.oppu.streams.Keys;
import dev.oppu.streams.UserDeletions;
import dev.oppu.streams.UserProfiles;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.lucene.analysis.Analyzer;

/**
 * {@link UserData} over the ingestion stores of the same stream task: BM25 retrieval through {@link Bm25Retriever}
 * (the code path {@code bench retrieve} measures), profiles from the given profile files, else built from the
 * user's retained history with {@link Profiles#fromHistory}: the rule of {@link UserProfiles}, by which ingestion puts
 * the profile in the pag variant's train triggers. Every read is confined to the key range of the request's (user,
 * task).
 */
public final class IngestUserData implements UserData.Source {
  private static final AvroSerde<HistoryItem> ITEMS = new AvroSerde<>(HistoryItem.class);
  /** Built profiles remembered per (user, task) until the history changes; bounded. */
  private static final int PROFILE_CACHE = 10_000;

  private final IngestConfig ingest;

  /** Given profiles come from {@code ingest}, the ones its pag triggers carry. */
  public IngestUserData(IngestConfig ingest) {
    this.ingest = ingest;
  }

  @Override
  public String[] storeNames() {
    java.util.List<String> out = new java.util.ArrayList<>(StoreNames.RETRIEVAL_STORES);
    out.add(StoreNames.USER_DELETIONS_STORE);
    return out.toArray(String[]::new);
  }

  @Override
  public UserData open(ProcessorContext<?, ?> context) {
    return new Reader(IngestTopology.processorStores(context), context.getStateStore(StoreNames.USER_DELETIONS_STORE),
        ingest.newAnalyzer(), ingest.maxQueryTerms(), ingest.givenProfiles());
  }

  private record CachedProfile(IndexStats range, String text) {}

  private static final class Reader implements UserData {
    private final Bm25Retriever.IndexStores stores;
    private final ReadOnlyKeyValueStore<Bytes, byte[]> deletions;
    private final Bm25Retriever retriever;
    private final UserProfiles.Given given;
    private final Map<String, CachedProfile> profiles = new LinkedHashMap<>(256, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, CachedProfile> eldest) {
        return size() > PROFILE_CACHE;
      }
    };

    Reader(Bm25Retriever.IndexStores stores, ReadOnlyKeyValueStore<Bytes, byte[]> deletions, Analyzer analyzer,
        int maxQueryTerms, UserProfiles.Given given) {
      this.stores = stores;
      this.deletions = deletions;
      this.retriever = new Bm25Retriever(analyzer, maxQueryTerms);
      this.given = given;
    }

    @Override
    public List<Item> retrieve(String userId, Task task, String query, int k) {
      List<Item> out = new ArrayList<>();
      for (Bm25Retriever.Hit h : retriever.topK(stores, userId, task.id(), query, k)) {
        out.add(new Item(h.itemId() != null ? h.itemId() : "seq-" + h.seq(), h.fields()));
      }
      return out;
    }

    @Override
    public boolean hasHistory(String userId, Task task) {
      return range(userId, task).retained() > 0;
    }

    @Override
    public String profile(String userId, Task task) {
      String g = given.profile(task, userId);
      if (g != null) {
        return g;
      }
      IndexStats range = range(userId, task);
      if (range.retained() <= 0) {
        return null;
      }
      String key = userId + '\u0000' + task.id();
      CachedProfile c = profiles.get(key);
      if (c != null && c.range().sameRange(range)) {
        return c.text();
      }
      String text = UserProfiles.built(task, items(userId, task, range));
      profiles.put(key, new CachedProfile(range, text));
      return text;
    }

    @Override
    public boolean adapterRevoked(String userId, String triggerId) {
      return UserDeletions.fenced(deletions, userId, triggerId);
    }

    @Override
    public void forget(String userId) {
      // built profiles hold text of the user's history; a returning user's new range could even match a cached one
      profiles.keySet().removeIf(k -> k.startsWith(userId + '\u0000'));
    }

    private IndexStats range(String userId, String task) {
      return IndexStats.decode(stores.stats().get(Bytes.wrap(Keys.prefix(userId, task))));
    }

    private IndexStats range(String userId, Task task) {
      return range(userId, task.id());
    }

    private List<Map<String, String>> items(String userId, Task task, IndexStats range) {
      byte[] prefix = Keys.prefix(userId, task.id());
      List<Map<String, String>> out = new ArrayList<>();
      try (KeyValueIterator<Bytes, byte[]> it = stores.history().range(Keys.history(prefix, range.firstSeq()),
          Keys.history(prefix, range.nextSeq() - 1))) {
        while (it.hasNext()) {
          out.add(ITEMS.decode(it.next().value).getFields());
        }
      }
      return out;
    }
  }
}
