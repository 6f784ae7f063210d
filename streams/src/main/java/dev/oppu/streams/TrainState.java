package dev.oppu.streams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the ingestion side knows about one (user, task, variant) adapter: the pending trigger (at most one), the
 * latest adapter version and what it was trained on, and the last trigger (to pace retries after a rejection).
 *
 * @param pendingTriggerId the trigger awaiting its TrainResult, or null
 * @param version the latest adapter version, -1 for none
 * @param coveredSeq the adapter was trained on items up to this seq, -1 for none
 * @param trainedOn the adapter's label (or term) distribution, from its AdapterVersion; empty until that arrives
 * @param lastTriggerSeq the newest seq the last trigger carried, -1 for none
 * @param lastRejected whether the last TrainResult published nothing
 * @param regimeFromSeq the first seq of the user's current behavior (set when a shift is detected), -1 for none
 */
public record TrainState(String pendingTriggerId, long version, long coveredSeq, Map<String, Double> trainedOn,
    long lastTriggerSeq, boolean lastRejected, long regimeFromSeq) {

  public static final TrainState NONE = new TrainState(null, -1, -1, Map.of(), -1, false, -1);

  public boolean hasAdapter() {
    return version >= 0;
  }

  public TrainState withPending(String triggerId, long lastSeq) {
    return new TrainState(triggerId, version, coveredSeq, trainedOn, lastSeq, lastRejected, regimeFromSeq);
  }

  public TrainState withRegimeFrom(long seq) {
    return new TrainState(pendingTriggerId, version, coveredSeq, trainedOn, lastTriggerSeq, lastRejected, seq);
  }

  public byte[] encode() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + 16 * trainedOn.size());
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeByte(2); // format version (1: without regimeFromSeq)
      out.writeBoolean(pendingTriggerId != null);
      if (pendingTriggerId != null) {
        out.writeUTF(pendingTriggerId);
      }
      out.writeLong(version);
      out.writeLong(coveredSeq);
      out.writeLong(lastTriggerSeq);
      out.writeBoolean(lastRejected);
      out.writeInt(trainedOn.size());
      for (Map.Entry<String, Double> e : trainedOn.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeDouble(e.getValue());
      }
      out.writeLong(regimeFromSeq);
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static TrainState decode(byte[] b) {
    if (b == null) {
      return NONE;
    }
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
      int format = in.readByte();
      String pending = in.readBoolean() ? in.readUTF() : null;
      long version = in.readLong();
      long covered = in.readLong();
      long lastTrigger = in.readLong();
      boolean rejected = in.readBoolean();
      int n = in.readInt();
      Map<String, Double> dist = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        dist.put(in.readUTF(), in.readDouble());
      }
      long regime = format >= 2 ? in.readLong() : -1;
      return new TrainState(pending, version, covered, dist, lastTrigger, rejected, regime);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
