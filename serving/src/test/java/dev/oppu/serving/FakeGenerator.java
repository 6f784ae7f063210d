package dev.oppu.serving;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Deterministic test generator: answers name the adapter each row was decoded with, so tests see which user's adapter
 * (and version) served which request; records every batch it was given.
 */
final class FakeGenerator implements BatchGenerator {
  static final Fingerprint RUNNING = new Fingerprint("base-fp", "task-fp");

  static final class FakeAdapter implements LoadedAdapter {
    final String user;
    final long version;
    final long bytes;
    volatile boolean closed;

    FakeAdapter(String user, long version, long bytes) {
      this.user = user;
      this.version = version;
      this.bytes = bytes;
    }

    @Override
    public long sizeBytes() {
      return bytes;
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  final List<List<Row>> batches = new ArrayList<>();
  final Map<Task, Fingerprint> fingerprints = new ConcurrentHashMap<>();
  int loads;

  FakeGenerator() {
    for (Task t : Task.values()) {
      fingerprints.put(t, RUNNING);
    }
  }

  @Override
  public Fingerprint fingerprint(Task task) {
    return fingerprints.get(task);
  }

  @Override
  public LoadedAdapter load(AdapterVersion v) {
    loads++;
    return new FakeAdapter(v.getUserId(), v.getVersion(), v.getWeights() == null ? 1 : v.getWeights().remaining());
  }

  @Override
  public List<String> generate(List<Row> rows) {
    batches.add(List.copyOf(rows));
    List<String> out = new ArrayList<>();
    for (Row r : rows) {
      if (r.adapter() != null && ((FakeAdapter) r.adapter()).closed) {
        throw new IllegalStateException("decoding with a closed adapter");
      }
      if (r.candidates() != null) {
        out.add(r.candidates().get(r.candidates().size() - 1)); // "most likely": the last one, deterministically
      } else if (r.adapter() == null) {
        out.add("task-model");
      } else {
        FakeAdapter a = (FakeAdapter) r.adapter();
        out.add("adapter " + a.user + " v" + a.version);
      }
    }
    return out;
  }

  List<Row> allRows() {
    List<Row> all = new ArrayList<>();
    batches.forEach(all::addAll);
    return all;
  }
}
