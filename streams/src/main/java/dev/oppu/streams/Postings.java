package dev.oppu.streams;

/**
 * A term's posting list in one user's index: fixed-width entries of (seq int32, tf uint16, Lucene norm byte), in
 * increasing seq. New documents have the largest seq and the evicted one the smallest, so an update is an append or
 * a removal at the head: O(list) byte copy, no decoding.
 */
public final class Postings {
  public static final int ENTRY = 7;

  private Postings() {}

  public static byte[] append(byte[] list, long seq, int tf, byte norm) {
    int n = list == null ? 0 : list.length;
    byte[] out = new byte[n + ENTRY];
    if (n > 0) {
      System.arraycopy(list, 0, out, 0, n);
    }
    int s = Math.toIntExact(seq);
    int tfc = Math.min(tf, 0xFFFF);
    out[n] = (byte) (s >>> 24);
    out[n + 1] = (byte) (s >>> 16);
    out[n + 2] = (byte) (s >>> 8);
    out[n + 3] = (byte) s;
    out[n + 4] = (byte) (tfc >>> 8);
    out[n + 5] = (byte) tfc;
    out[n + 6] = norm;
    return out;
  }

  /** The list without the entry for {@code seq} (normally the head); null when it becomes empty. */
  public static byte[] remove(byte[] list, long seq) {
    int n = size(list);
    for (int i = 0; i < n; i++) {
      if (seq(list, i) == seq) {
        if (n == 1) {
          return null;
        }
        byte[] out = new byte[list.length - ENTRY];
        System.arraycopy(list, 0, out, 0, i * ENTRY);
        System.arraycopy(list, (i + 1) * ENTRY, out, i * ENTRY, list.length - (i + 1) * ENTRY);
        return out;
      }
    }
    return list;
  }

  public static int size(byte[] list) {
    return list == null ? 0 : list.length / ENTRY;
  }

  public static int seq(byte[] list, int i) {
    int o = i * ENTRY;
    return ((list[o] & 0xFF) << 24) | ((list[o + 1] & 0xFF) << 16) | ((list[o + 2] & 0xFF) << 8) | (list[o + 3] & 0xFF);
  }

  public static int tf(byte[] list, int i) {
    int o = i * ENTRY + 4;
    return ((list[o] & 0xFF) << 8) | (list[o + 1] & 0xFF);
  }

  public static int norm(byte[] list, int i) {
    return list[i * ENTRY + 6] & 0xFF;
  }
}
