package dev.oppu.system;

import dev.oppu.broker.ClientConfig;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Topics;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A JSON-lines file of behaviors or requests ({@link JsonLines}) published as Avro events onto the behaviors or
 * requests topic, keyed by user id ({@code oppu publish}). Two passes: {@link #check} reads every line, so a caller
 * can refuse a file with bad lines before anything is sent; {@link #publish} sends the good lines.
 */
public final class Publisher {

  /**
   * What {@link #check} found.
   *
   * @param bad every bad line as {@code file:line: reason}, in file order
   * @param badLines their 1-based line numbers
   * @param good lines that parse
   * @param duplicates good lines repeating an earlier line's event or request id
   */
  public record Checked(List<String> bad, Set<Long> badLines, long good, long duplicates) {}

  private final Path file;
  private final JsonLines.Kind kind;
  private final JsonLines parser;

  /** A file of {@code kind} lines; events without a time get {@code clock}'s. */
  public Publisher(Path file, JsonLines.Kind kind, Clock clock) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no such file: " + file);
    }
    this.file = file;
    this.kind = kind;
    this.parser = new JsonLines(clock);
  }

  /** The topic this kind of line goes to. */
  public Topics.Topic<String, ? extends SpecificRecord> topic(Topics topics) {
    return kind == JsonLines.Kind.BEHAVIORS ? topics.behaviors : topics.requests;
  }

  /** Pass 1: parses every line (blank lines are ignored). */
  public Checked check() throws IOException {
    List<String> bad = new ArrayList<>();
    Set<Long> badLines = new HashSet<>();
    Set<String> ids = new HashSet<>();
    long[] counts = new long[2]; // good, duplicate ids
    forEachLine((no, line) -> {
      if (line.isBlank()) {
        return;
      }
      try {
        SpecificRecord r = parser.parse(kind, line);
        counts[0]++;
        if (!ids.add(id(r))) {
          counts[1]++;
        }
      } catch (JsonLines.BadLineException e) {
        bad.add(file + ":" + no + ": " + e.getMessage());
        badLines.add(no);
      }
    });
    return new Checked(bad, badLines, counts[0], counts[1]);
  }

  /**
   * Pass 2: publishes the lines {@code checked} found good with an idempotent producer, one request in flight (a
   * user's later events must not overtake a refused first batch, see {@link ClientConfig#burstProducer}). Behaviors
   * carry their event time as the producer timestamp. Returns how many were acknowledged; {@code onAcked} runs once
   * per acknowledgement (on the producer's thread).
   */
  public long publish(ClientConfig client, Checked checked, Runnable onAcked) throws IOException {
    Topics.Topic<String, ? extends SpecificRecord> topic = topic(Topics.from(client.raw()));
    @SuppressWarnings("unchecked")
    Serializer<SpecificRecord> valueSerializer = (Serializer<SpecificRecord>) topic.valueSerde().serializer();
    AtomicLong acked = new AtomicLong();
    AtomicReference<Exception> failure = new AtomicReference<>();
    try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(client.burstProducer(),
        Topics.KEY.serializer(), valueSerializer)) {
      forEachLine((no, line) -> {
        if (line.isBlank() || checked.badLines().contains(no) || failure.get() != null) {
          return;
        }
        SpecificRecord r;
        try {
          r = parser.parse(kind, line);
        } catch (JsonLines.BadLineException e) {
          throw new IllegalStateException(file + ":" + no + " changed while publishing: " + e.getMessage());
        }
        // Behaviors: the producer timestamp is the event time (the topic's LogAppendTime replaces it on arrival).
        Long ts = r instanceof Behavior b ? b.getEventTime().toEpochMilli() : null;
        producer.send(new ProducerRecord<>(topic.name(), null, ts, JsonLines.key(r), r), (md, ex) -> {
          if (ex != null) {
            failure.compareAndSet(null, ex);
          } else {
            acked.incrementAndGet();
            onAcked.run();
          }
        });
      });
      producer.flush();
    }
    if (failure.get() != null) {
      throw new IllegalStateException("publishing to " + topic.name() + " failed after " + acked.get() + " of "
          + checked.good() + " record(s) were acknowledged: " + failure.get().getMessage(), failure.get());
    }
    return acked.get();
  }

  private static String id(SpecificRecord r) {
    return r instanceof Behavior b ? b.getEventId() : ((Request) r).getRequestId();
  }

  private interface LineHandler {
    void accept(long lineNo, String line);
  }

  /** Streams the file line by line (1-based numbers); a byte sequence that is not UTF-8 is a clear error. */
  private void forEachLine(LineHandler h) throws IOException {
    var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    long no = 0;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(Files.newInputStream(file), decoder))) {
      String line;
      while (true) {
        try {
          line = r.readLine();
        } catch (CharacterCodingException e) {
          throw new IllegalArgumentException(file + ":" + (no + 1) + ": not UTF-8 text");
        }
        if (line == null) {
          break;
        }
        no++;
        if (no == 1 && line.startsWith("\uFEFF")) {
          line = line.substring(1); // a byte-order mark is not part of the JSON
        }
        h.accept(no, line);
      }
    }
  }
}
