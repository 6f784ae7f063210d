package dev.oppu.system;

import dev.oppu.schemas.StoreNames;
import dev.oppu.broker.ClientConfig;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.utils.Bytes;

/**
 * What the system holds about one user, read from Kafka by a process of its own: every compacted topic that keeps
 * user data (the changelogs of the streams application's logged stores and the adapters topic), from the beginning,
 * latest value per key, committed records only. A separate process cannot read the streams application's RocksDB;
 * the changelogs are what those stores are restored from, so they hold the same data. The scan keeps tailing, so a
 * caller can watch the user's records disappear as the application writes their tombstones.
 */
final class UserDataScan implements AutoCloseable {

  /** How a topic's records are recognized as the user's. */
  enum Kind {
    /** Ingestion store changelogs: keys start with {@code user 0x00}. */
    USER_PREFIXED,
    /** The deletion-fence changelog: the key is the user id. */
    USER_KEY,
    /** Keys {@code user|task|variant}: the adapters topic and serving's adapter store. */
    ADAPTER_KEY,
    /** Serving's waiting requests: the value is a Request of the user. */
    PENDING_REQUEST
  }

  private static final AvroSerde<Request> REQUESTS = new AvroSerde<>(Request.class);
  private static final AvroSerde<HistoryItem> ITEMS = new AvroSerde<>(HistoryItem.class);

  private final String user;
  private final byte[] prefix;
  private final Map<String, Kind> kinds = new LinkedHashMap<>();
  private final List<String> missing = new ArrayList<>();
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final List<TopicPartition> partitions = new ArrayList<>();
  /** A record key in its partition (keys of serving's waiting requests are offsets: unique per partition only). */
  private record PKey(int partition, Bytes key) {}

  /** The user's live records: topic -> key -> latest value. */
  private final Map<String, Map<PKey, byte[]>> live = new HashMap<>();

  /** Changelog topic of a store, as Kafka Streams names it. */
  static String changelog(String applicationId, String store) {
    return applicationId + "-" + store + "-changelog";
  }

  UserDataScan(ClientConfig client, Topics topics, String applicationId, String user) {
    this.user = user;
    this.prefix = (user + '\u0000').getBytes(StandardCharsets.UTF_8);
    for (String store : StoreNames.INGEST_LOGGED_STORES) {
      kinds.put(changelog(applicationId, store),
          store.equals(StoreNames.USER_DELETIONS_STORE) ? Kind.USER_KEY : Kind.USER_PREFIXED);
    }
    kinds.put(changelog(applicationId, StoreNames.ADAPTER_STORE), Kind.ADAPTER_KEY);
    kinds.put(changelog(applicationId, StoreNames.PENDING_STORE), Kind.PENDING_REQUEST);
    kinds.put(topics.adapters.name(), Kind.ADAPTER_KEY);
    Set<String> existing;
    try (Admin admin = Admin.create(client.admin())) {
      existing = admin.listTopics().names().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("cannot list the topics of " + client.bootstrapServers() + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    kinds.keySet().removeIf(t -> {
      boolean gone = !existing.contains(t);
      if (gone) {
        missing.add(t);
      }
      return gone;
    });
    Properties p = client.consumer(null);
    p.setProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    p.setProperty(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    for (String t : kinds.keySet()) {
      consumer.partitionsFor(t, Duration.ofSeconds(30)).forEach(pi -> partitions.add(new TopicPartition(t,
          pi.partition())));
    }
    consumer.assign(partitions);
    consumer.seekToBeginning(partitions);
  }

  /** Topics that would hold user data but do not exist (e.g. the streams application never ran with this id). */
  List<String> missingTopics() {
    return missing;
  }

  /** Reads until every partition is at its end (as of now); false if that took longer than {@code timeout}. */
  boolean catchUp(Duration timeout) {
    long giveUp = System.nanoTime() + timeout.toNanos();
    Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
    while (true) {
      boolean done = true;
      for (TopicPartition tp : partitions) {
        if (consumer.position(tp) < end.get(tp)) {
          done = false;
          break;
        }
      }
      if (done) {
        return true;
      }
      if (System.nanoTime() > giveUp) {
        return false;
      }
      poll(Duration.ofMillis(200));
    }
  }

  /** Reads what arrived, for at most {@code wait}. */
  void poll(Duration wait) {
    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(wait)) {
      Kind kind = kinds.get(r.topic());
      if (r.key() == null) {
        continue;
      }
      PKey key = new PKey(r.partition(), Bytes.wrap(r.key()));
      Map<PKey, byte[]> m = live.computeIfAbsent(r.topic(), t -> new HashMap<>());
      if (r.value() == null) {
        m.remove(key);
      } else if (belongs(kind, r.key(), r.value())) {
        m.put(key, r.value());
      } else {
        m.remove(key); // a key reused by another user's record (pending requests are keyed by offset)
      }
    }
  }

  private boolean belongs(Kind kind, byte[] key, byte[] value) {
    switch (kind) {
      case USER_PREFIXED:
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
      case USER_KEY:
        return user.equals(new String(key, StandardCharsets.UTF_8));
      case ADAPTER_KEY:
        try {
          return user.equals(Topics.userOfAdapterKey(new String(key, StandardCharsets.UTF_8)));
        } catch (IllegalArgumentException notAnAdapterKey) {
          return false;
        }
      case PENDING_REQUEST:
        try {
          return user.equals(REQUESTS.decode(value).getUserId());
        } catch (RuntimeException undecodable) {
          return false;
        }
      default:
        throw new IllegalStateException(kind.toString());
    }
  }

  /** Live records of the user per topic (topics with none left out). */
  Map<String, Integer> counts() {
    Map<String, Integer> out = new LinkedHashMap<>();
    for (String t : kinds.keySet()) {
      int n = live.getOrDefault(t, Map.of()).size();
      if (n > 0) {
        out.put(t, n);
      }
    }
    return out;
  }

  /** Whether anything of the user is left, the deletion fence (user id and trigger ids only) aside. */
  boolean anyDataLeft() {
    for (Map.Entry<String, Integer> e : counts().entrySet()) {
      if (kinds.get(e.getKey()) != Kind.USER_KEY) {
        return true;
      }
    }
    return false;
  }

  /** Whether a deletion fence of the user is live (trainings under way at the deletion). */
  boolean fenced() {
    for (Map.Entry<String, Integer> e : counts().entrySet()) {
      if (kinds.get(e.getKey()) == Kind.USER_KEY) {
        return true;
      }
    }
    return false;
  }

  /** The user's retained history items, by task (from the history store's changelog), oldest first per task. */
  Map<String, List<HistoryItem>> history(String applicationId) {
    Map<String, List<HistoryItem>> out = new java.util.TreeMap<>();
    Map<PKey, byte[]> m = live.getOrDefault(changelog(applicationId, StoreNames.HISTORY_STORE), Map.of());
    for (Map.Entry<PKey, byte[]> e : m.entrySet()) {
      byte[] k = e.getKey().key().get();
      int end = prefix.length;
      while (end < k.length && k[end] != 0) {
        end++;
      }
      String task = new String(k, prefix.length, end - prefix.length, StandardCharsets.UTF_8);
      out.computeIfAbsent(task, t -> new ArrayList<>()).add(ITEMS.decode(e.getValue()));
    }
    out.values().forEach(l -> l.sort(java.util.Comparator.comparingLong(HistoryItem::getSeq)));
    return out;
  }

  /** The user's latest adapter versions on the adapters topic, by key. */
  Map<String, AdapterVersion> adapters(Topics topics) {
    Map<String, AdapterVersion> out = new java.util.TreeMap<>();
    for (Map.Entry<PKey, byte[]> e : live.getOrDefault(topics.adapters.name(), Map.of()).entrySet()) {
      out.put(new String(e.getKey().key().get(), StandardCharsets.UTF_8),
          topics.adapters.valueSerde().deserializer().deserialize(topics.adapters.name(), e.getValue()));
    }
    return out;
  }

  @Override
  public void close() {
    consumer.close();
  }
}
