package dev.oppu.lamp.data;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Reads and writes LaMP's and OPPU's JSON files, streaming (one user or one gold at a time), so a file need not fit
 * in memory.
 *
 * <ul>
 *   <li>users: a JSON array whose elements are either OPPU's processed form {@code {user_id, profile: [...], query:
 *       [{id, input, gold?}]}} or LaMP's question form {@code {id, input, profile: [...], user_id?}}; both forms may
 *       even be mixed. See {@link UserData} for how a LaMP question becomes a user.</li>
 *   <li>golds: LaMP's outputs form {@code {"task", "golds": [{id, output}]}}, also used for predictions.</li>
 *   <li>profiles: OPPU's profile texts {@code [{id: user_id, output: profile_text}]}.</li>
 * </ul>
 * Errors are {@link LampInputException}s that name the file and the place.
 */
public final class LampFiles {

  /** How users are written: OPPU's processed form, or LaMP's one-entry-per-question form. */
  public enum UserFormat { OPPU, LAMP_QUESTIONS }

  static final ObjectMapper MAPPER = new ObjectMapper();

  private LampFiles() {}

  /** Streams the users of a file; close it when done. */
  public static UserReader openUsers(Path file) {
    return new UserReader(file);
  }

  /** Reads every user of a file into memory. */
  public static List<UserData> readUsers(Path file) {
    List<UserData> out = new ArrayList<>();
    try (UserReader r = openUsers(file)) {
      r.forEachRemaining(out::add);
    }
    return out;
  }

  /** The first element of a file's top-level array (null: an empty array), without reading the rest. */
  static JsonNode firstElement(Path file) {
    try (ArrayStream arr = new ArrayStream(file, "expected a JSON array of users or questions")) {
      return arr.next();
    }
  }

  /** Streaming reader of a users file: the parser reads one array element (one user) at a time. */
  public static final class UserReader implements Iterator<UserData>, Closeable {
    private final Path file;
    private final ArrayStream elements;
    private JsonNode pending;
    private int index;

    UserReader(Path file) {
      this.file = file;
      this.elements = new ArrayStream(file, "expected a JSON array of users or questions");
    }

    @Override
    public boolean hasNext() {
      if (pending == null) {
        pending = elements.next();
      }
      return pending != null;
    }

    @Override
    public UserData next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      JsonNode node = pending;
      pending = null;
      return toUser(file, index++, node);
    }

    @Override
    public void close() {
      elements.close();
    }
  }

  /** The elements of a top-level JSON array, parsed one at a time. */
  private static final class ArrayStream implements Closeable {
    private final Path file;
    private final JsonParser parser;
    private boolean done;

    ArrayStream(Path file, String notArray) {
      this.file = file;
      try {
        parser = MAPPER.createParser(file.toFile());
        if (parser.nextToken() != JsonToken.START_ARRAY) {
          parser.close();
          throw bad(file, notArray);
        }
      } catch (IOException e) {
        throw io(file, e);
      }
    }

    /** The next element, or null at the end of the array. */
    JsonNode next() {
      if (done) {
        return null;
      }
      try {
        JsonToken t = parser.nextToken();
        if (t == JsonToken.END_ARRAY || t == null) {
          done = true;
          return null;
        }
        return MAPPER.readTree(parser);
      } catch (IOException e) {
        throw io(file, e);
      }
    }

    @Override
    public void close() {
      try {
        parser.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  static UserData toUser(Path file, int index, JsonNode node) {
    String where = "element " + index;
    if (!node.isObject()) {
      throw bad(file, where + " is not an object");
    }
    List<HistoryItem> profile = new ArrayList<>();
    JsonNode prof = node.get("profile");
    if (prof == null || !prof.isArray()) {
      throw bad(file, where + " has no 'profile' array");
    }
    List<Query> queries = new ArrayList<>();
    String userId;
    if (node.has("query")) {
      userId = text(node, "user_id", file, where);
      JsonNode qs = node.get("query");
      if (!qs.isArray()) {
        throw bad(file, where + ": 'query' is not an array");
      }
      for (int j = 0; j < qs.size(); j++) {
        JsonNode q = qs.get(j);
        String qWhere = where + " query " + j;
        String gold = optText(q, "gold");
        if (gold == null) {
          gold = optText(q, "output");
        }
        queries.add(new Query(text(q, "id", file, qWhere), text(q, "input", file, qWhere), gold));
      }
    } else if (node.has("input")) {
      String qid = text(node, "id", file, where);
      String uid = optText(node, "user_id");
      userId = uid != null ? uid : qid; // user-based split: the question is its own user
      queries.add(new Query(qid, text(node, "input", file, where), optText(node, "output")));
    } else {
      throw bad(file, where + " is neither OPPU's {user_id, profile, query} nor LaMP's {id, input, profile}");
    }
    for (int j = 0; j < prof.size(); j++) {
      JsonNode it = prof.get(j);
      if (!it.isObject()) {
        throw bad(file, where + " profile item " + j + " is not an object");
      }
      Map<String, String> fields = new LinkedHashMap<>();
      String id = null;
      String date = null;
      for (Iterator<Map.Entry<String, JsonNode>> f = it.fields(); f.hasNext(); ) {
        Map.Entry<String, JsonNode> e = f.next();
        if (e.getValue().isNull()) {
          continue;
        }
        String v = e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString();
        switch (e.getKey()) {
          case "id" -> id = v;
          case "date" -> date = v;
          default -> fields.put(e.getKey(), v);
        }
      }
      profile.add(new HistoryItem(id != null ? id : userId + "-h" + j, date, fields));
    }
    return new UserData(userId, profile, queries);
  }

  /** Reads LaMP's outputs form (golds or predictions); keys in any order. Duplicate ids are an error. */
  public static Golds readGolds(Path file) {
    String task = null;
    Map<String, String> outputs = null;
    try (JsonParser p = MAPPER.createParser(file.toFile())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw bad(file, "expected an object {\"task\": ..., \"golds\": [...]}");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if ("task".equals(name)) {
          task = t.isScalarValue() ? p.getValueAsString() : null;
        } else if ("golds".equals(name)) {
          if (t != JsonToken.START_ARRAY) {
            throw bad(file, "'golds' is not an array");
          }
          outputs = new LinkedHashMap<>();
          int i = 0;
          while (p.nextToken() != JsonToken.END_ARRAY) {
            JsonNode g = MAPPER.readTree(p);
            String where = "golds[" + i++ + "]";
            if (!g.isObject()) {
              throw bad(file, where + " is not an object");
            }
            String id = text(g, "id", file, where);
            String output = text(g, "output", file, where);
            if (outputs.put(id, output) != null) {
              throw bad(file, "duplicate id '" + id + "'");
            }
          }
        } else {
          p.skipChildren();
        }
      }
    } catch (IOException e) {
      throw io(file, e);
    }
    if (task == null) {
      throw bad(file, "no 'task'");
    }
    if (outputs == null) {
      throw bad(file, "no 'golds' array");
    }
    return new Golds(task, outputs);
  }

  /** The user with each query's gold taken from {@code golds} (id -> output) where it has one. */
  public static UserData withGolds(UserData u, Map<String, String> golds) {
    List<Query> qs = new ArrayList<>(u.queries().size());
    for (Query q : u.queries()) {
      String g = golds.get(q.id());
      qs.add(g != null ? q.withGold(g) : q);
    }
    return new UserData(u.userId(), u.profile(), qs);
  }

  /** True if a file's task string names {@code task} ({@code LaMP_2} of LaMP's older files fits 2N and 2M). */
  public static boolean taskMatches(String fileTask, Task task) {
    if ("LaMP_2".equalsIgnoreCase(fileTask)) {
      return task == Task.NEWS_CATEGORIZE || task == Task.MOVIE_TAGGING;
    }
    try {
      return Task.of(fileTask) == task;
    } catch (LampInputException e) {
      return false;
    }
  }

  /** Reads OPPU's profile texts, user id -> text. */
  public static Map<String, String> readProfiles(Path file) {
    Map<String, String> out = new LinkedHashMap<>();
    try (ArrayStream arr = new ArrayStream(file, "expected a JSON array [{id, output}]")) {
      int i = 0;
      for (JsonNode n = arr.next(); n != null; n = arr.next()) {
        String where = "element " + i++;
        out.put(text(n, "id", file, where), text(n, "output", file, where));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------- writers

  /** Opens a streaming writer of users; each {@link UserWriter#write} appends one user. */
  public static UserWriter writeUsers(Path file, UserFormat format) {
    return new UserWriter(file, format);
  }

  /** Writes all users at once. */
  public static void writeUsers(Path file, UserFormat format, Iterable<UserData> users) {
    try (UserWriter w = writeUsers(file, format)) {
      for (UserData u : users) {
        w.write(u);
      }
    }
  }

  /** Streaming writer of users in either form. In LaMP's form each query becomes one entry with the user's profile. */
  public static final class UserWriter implements Closeable {
    private final JsonGenerator gen;
    private final UserFormat format;

    UserWriter(Path file, UserFormat format) {
      this.format = format;
      try {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
          Files.createDirectories(parent);
        }
        gen = MAPPER.getFactory().createGenerator(file.toFile(), JsonEncoding.UTF8);
        gen.writeStartArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    public void write(UserData u) {
      try {
        if (format == UserFormat.OPPU) {
          gen.writeStartObject();
          gen.writeStringField("user_id", u.userId());
          writeProfile(u.profile());
          gen.writeArrayFieldStart("query");
          for (Query q : u.queries()) {
            gen.writeStartObject();
            gen.writeStringField("id", q.id());
            gen.writeStringField("input", q.input());
            if (q.gold() != null) {
              gen.writeStringField("gold", q.gold());
            }
            gen.writeEndObject();
          }
          gen.writeEndArray();
          gen.writeEndObject();
        } else {
          for (Query q : u.queries()) {
            gen.writeStartObject();
            gen.writeStringField("id", q.id());
            gen.writeStringField("input", q.input());
            if (!u.userId().equals(q.id())) {
              gen.writeStringField("user_id", u.userId());
            }
            writeProfile(u.profile());
            gen.writeEndObject();
          }
        }
        gen.writeRaw('\n');
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    private void writeProfile(List<HistoryItem> profile) throws IOException {
      gen.writeArrayFieldStart("profile");
      for (HistoryItem it : profile) {
        gen.writeStartObject();
        gen.writeStringField("id", it.id());
        for (Map.Entry<String, String> f : it.fields().entrySet()) {
          gen.writeStringField(f.getKey(), f.getValue());
        }
        if (it.date() != null) {
          gen.writeStringField("date", it.date());
        }
        gen.writeEndObject();
      }
      gen.writeEndArray();
    }

    @Override
    public void close() {
      try {
        gen.writeEndArray();
        gen.writeRaw('\n');
        gen.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** Writes LaMP's outputs form (golds, or predictions). */
  public static void writeGolds(Path file, Golds golds) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      try (JsonGenerator gen = MAPPER.getFactory().createGenerator(file.toFile(), JsonEncoding.UTF8)) {
        gen.writeStartObject();
        gen.writeStringField("task", golds.task());
        gen.writeArrayFieldStart("golds");
        for (Map.Entry<String, String> e : golds.outputs().entrySet()) {
          gen.writeRaw('\n');
          gen.writeStartObject();
          gen.writeStringField("id", e.getKey());
          gen.writeStringField("output", e.getValue());
          gen.writeEndObject();
        }
        gen.writeEndArray();
        gen.writeEndObject();
        gen.writeRaw('\n');
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes OPPU's profile texts {@code [{id: user_id, output: text}]}. */
  public static void writeProfiles(Path file, Map<String, String> profiles) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      try (JsonGenerator gen = MAPPER.getFactory().createGenerator(file.toFile(), JsonEncoding.UTF8)) {
        gen.writeStartArray();
        for (Map.Entry<String, String> e : profiles.entrySet()) {
          gen.writeRaw('\n');
          gen.writeStartObject();
          gen.writeStringField("id", e.getKey());
          gen.writeStringField("output", e.getValue());
          gen.writeEndObject();
        }
        gen.writeEndArray();
        gen.writeRaw('\n');
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ---------------------------------------------------------------------------------------------- helpers

  private static String text(JsonNode n, String field, Path file, String where) {
    String v = optText(n, field);
    if (v == null) {
      throw bad(file, where + " lacks '" + field + "'");
    }
    return v;
  }

  private static String optText(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    return v.isValueNode() ? v.asText() : v.toString();
  }

  static LampInputException bad(Path file, String why) {
    return new LampInputException(file + ": " + why);
  }

  static LampInputException io(Path file, IOException e) {
    if (e instanceof NoSuchFileException || e instanceof java.io.FileNotFoundException) {
      return new LampInputException(file + ": no such file");
    }
    if (e instanceof JsonProcessingException jpe) {
      String loc = jpe.getLocation() == null ? ""
          : " at line " + jpe.getLocation().getLineNr() + " column " + jpe.getLocation().getColumnNr();
      return new LampInputException(file + ": malformed JSON" + loc + ": " + jpe.getOriginalMessage());
    }
    return new LampInputException(file + ": " + e);
  }
}
