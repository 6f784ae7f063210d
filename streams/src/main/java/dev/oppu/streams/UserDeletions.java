package dev.oppu.streams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Deletion fences (store {@link dev.oppu.schemas.StoreNames#USER_DELETIONS_STORE}, key = user id). When a user is
 * deleted while trainings for them are pending, the fence remembers those trigger ids (and nothing else of the user)
 * so that an adapter such a training publishes after the deletion is tombstoned again and never served, and its train
 * result does not re-create train state. A fence ends when every fenced trigger is answered (result seen, and its
 * adapter seen if it published one), or after {@link IngestConfig#deletionFence()}; a user deleted with no training
 * pending leaves no fence at all.
 */
public final class UserDeletions {
  private UserDeletions() {}

  /**
   * One fenced trigger.
   *
   * @param versionAtDeletion the adapter version ingestion knew for the trigger's key when the user was deleted: a
   *     published result of at most this version had its adapter applied (and tombstoned) before the deletion
   */
  public record Fence(long versionAtDeletion, boolean resultSeen, boolean published, boolean adapterSeen) {
    boolean done() {
      return resultSeen && (!published || adapterSeen);
    }
  }

  /** @param deletedAt record time of the (latest) delete command; also salts the user's later trigger ids */
  public record Marker(long deletedAt, Map<String, Fence> fenced) {
    public Marker {
      fenced = Map.copyOf(fenced);
    }

    Marker with(String triggerId, Fence f) {
      Map<String, Fence> m = new LinkedHashMap<>(fenced);
      if (f.done()) {
        m.remove(triggerId);
      } else {
        m.put(triggerId, f);
      }
      return new Marker(deletedAt, m);
    }

    byte[] encode() {
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(16 + 48 * fenced.size());
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte(1); // format version
        out.writeLong(deletedAt);
        out.writeInt(fenced.size());
        for (Map.Entry<String, Fence> e : fenced.entrySet()) {
          out.writeUTF(e.getKey());
          out.writeLong(e.getValue().versionAtDeletion());
          out.writeByte((e.getValue().resultSeen() ? 1 : 0) | (e.getValue().published() ? 2 : 0)
              | (e.getValue().adapterSeen() ? 4 : 0));
        }
        return bytes.toByteArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    static Marker decode(byte[] b) {
      if (b == null) {
        return null;
      }
      try {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
        in.readByte();
        long at = in.readLong();
        int n = in.readInt();
        Map<String, Fence> m = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
          String id = in.readUTF();
          long v = in.readLong();
          int flags = in.readByte();
          m.put(id, new Fence(v, (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0));
        }
        return new Marker(at, m);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  static Bytes key(String userId) {
    return Bytes.wrap(userId.getBytes(StandardCharsets.UTF_8));
  }

  /** The user's fence, or null. */
  public static Marker marker(ReadOnlyKeyValueStore<Bytes, byte[]> store, String userId) {
    return store == null ? null : Marker.decode(store.get(key(userId)));
  }

  /** Whether an adapter trained for {@code triggerId} belongs to a deleted user's fenced training (never serve it). */
  public static boolean fenced(ReadOnlyKeyValueStore<Bytes, byte[]> store, String userId, String triggerId) {
    Marker m = marker(store, userId);
    return m != null && m.fenced().containsKey(triggerId);
  }

  static void save(KeyValueStore<Bytes, byte[]> store, String userId, Marker m) {
    if (m.fenced().isEmpty()) {
      store.delete(key(userId));
    } else {
      store.put(key(userId), m.encode());
    }
  }
}
