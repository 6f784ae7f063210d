package dev.oppu.streams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A user's BM25 index is a run of segments of {@link #SIZE} consecutive documents (seq / SIZE = segment number), like
 * Lucene's segments: indexing a document rewrites only the small open segment (one read, one write, however many
 * terms the item has); a full segment is sealed once into an inverted, term-sorted layout that retrieval
 * binary-searches. Evicted documents are skipped by seq (below the user's firstSeq) and a segment is deleted when its
 * last document is evicted, so df, docCount and lengths always describe exactly the retained documents.
 *
 * <p>Open layout: {@code [0][baseSeq:8][n:4]} then per doc {@code [norm:1][length:4][terms:2]} and per distinct term
 * {@code [len:2][utf8][tf:2]}. Sealed layout: {@code [1][baseSeq:8][n:4][norm:1 x n][length:4 x n][terms:4]
 * [dictOffset:4 x terms]}, then per term (sorted by UTF-8 bytes) {@code [len:2][utf8][df:2]} followed by df entries
 * {@code [doc:2][tf:2]}.
 */
public final class Segments {
  public static final int SIZE = 32;

  private Segments() {}

  public static long segmentOf(long seq) {
    return seq / SIZE;
  }

  /** One document as indexed: its Lucene norm byte, its length in terms, and its term frequencies. */
  public record Doc(byte norm, int length, Map<String, Integer> termFreqs) {}

  /**
   * Appends the document {@code seq} to the open segment (null = start one at {@code seq}); seals the segment when
   * {@code seq} is its last slot. Documents of a segment are consecutive from its base seq.
   */
  public static byte[] append(byte[] open, long seq, Doc doc) {
    List<byte[]> terms = new ArrayList<>(doc.termFreqs().size());
    for (String t : doc.termFreqs().keySet()) {
      terms.add(t.getBytes(StandardCharsets.UTF_8));
    }
    int header = 1 + 8 + 4;
    int oldLen = open == null ? header : open.length;
    ByteBuffer out = ByteBuffer.allocate(oldLen + 1 + 4 + 2 + terms.stream().mapToInt(b -> 4 + b.length).sum());
    if (open == null) {
      out.put((byte) 0).putLong(seq).putInt(0);
    } else {
      if (open[0] != 0) {
        throw new IllegalStateException("segment is sealed");
      }
      out.put(open);
    }
    out.put(doc.norm()).putInt(doc.length()).putShort((short) terms.size());
    int i = 0;
    for (Integer tf : doc.termFreqs().values()) {
      byte[] b = terms.get(i++);
      out.putShort((short) b.length).put(b).putShort((short) Math.min(tf, 0xFFFF));
    }
    int n = out.getInt(9) + 1;
    out.putInt(9, n);
    byte[] result = out.array();
    return (seq + 1) % SIZE == 0 ? seal(result) : result;
  }

  /** Open layout to sealed (inverted) layout. */
  static byte[] seal(byte[] open) {
    ByteBuffer in = ByteBuffer.wrap(open);
    in.get();
    long base = in.getLong();
    int n = in.getInt();
    byte[] norms = new byte[n];
    int[] lengths = new int[n];
    TreeMap<String, List<int[]>> inverted = new TreeMap<>(Segments::compareUtf8);
    for (int d = 0; d < n; d++) {
      norms[d] = in.get();
      lengths[d] = in.getInt();
      int terms = in.getShort() & 0xFFFF;
      for (int t = 0; t < terms; t++) {
        byte[] b = new byte[in.getShort() & 0xFFFF];
        in.get(b);
        int tf = in.getShort() & 0xFFFF;
        inverted.computeIfAbsent(new String(b, StandardCharsets.UTF_8), k -> new ArrayList<>()).add(new int[] {d, tf});
      }
    }
    int dictBytes = 0;
    for (Map.Entry<String, List<int[]>> e : inverted.entrySet()) {
      dictBytes += 2 + e.getKey().getBytes(StandardCharsets.UTF_8).length + 2 + 4 * e.getValue().size();
    }
    int head = 1 + 8 + 4 + n + 4 * n + 4 + 4 * inverted.size();
    ByteBuffer out = ByteBuffer.allocate(head + dictBytes);
    out.put((byte) 1).putLong(base).putInt(n).put(norms);
    for (int l : lengths) {
      out.putInt(l);
    }
    out.putInt(inverted.size());
    int offsetsAt = out.position();
    out.position(head);
    int idx = 0;
    for (Map.Entry<String, List<int[]>> e : inverted.entrySet()) {
      out.putInt(offsetsAt + 4 * idx++, out.position());
      byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
      out.putShort((short) b.length).put(b).putShort((short) e.getValue().size());
      for (int[] p : e.getValue()) {
        out.putShort((short) p[0]).putShort((short) p[1]);
      }
    }
    return out.array();
  }

  public static long baseSeq(byte[] seg) {
    return ByteBuffer.wrap(seg, 1, 8).getLong();
  }

  public static int docCount(byte[] seg) {
    return ByteBuffer.wrap(seg, 9, 4).getInt();
  }

  /** The length in terms of the document at {@code seq} (which the segment holds). */
  public static int length(byte[] seg, long seq) {
    int d = (int) (seq - baseSeq(seg));
    ByteBuffer in = ByteBuffer.wrap(seg);
    if (seg[0] == 1) {
      return in.getInt(13 + docCount(seg) + 4 * d);
    }
    int pos = 13;
    for (int i = 0; ; i++) {
      if (i == d) {
        return in.getInt(pos + 1);
      }
      int terms = in.getShort(pos + 5) & 0xFFFF;
      pos += 7;
      for (int t = 0; t < terms; t++) {
        pos += 2 + (in.getShort(pos) & 0xFFFF) + 2;
      }
    }
  }

  /** Receives the postings of the query terms found in a segment. */
  public interface PostingSink {
    /** {@code term} is the index into the query's term list. */
    void posting(int term, long seq, int tf, int norm);
  }

  /** Reports, for each query term (UTF-8, any order), its postings in this segment. */
  public static void lookup(byte[] seg, byte[][] queryTerms, java.util.Map<String, Integer> termIndex,
      PostingSink sink) {
    ByteBuffer in = ByteBuffer.wrap(seg);
    long base = baseSeq(seg);
    int n = docCount(seg);
    if (seg[0] == 1) {
      int terms = in.getInt(13 + 5 * n);
      int offsets = 13 + 5 * n + 4;
      for (int q = 0; q < queryTerms.length; q++) {
        int lo = 0;
        int hi = terms - 1;
        while (lo <= hi) {
          int mid = (lo + hi) >>> 1;
          int at = in.getInt(offsets + 4 * mid);
          int len = in.getShort(at) & 0xFFFF;
          int c = Arrays.compareUnsigned(seg, at + 2, at + 2 + len, queryTerms[q], 0, queryTerms[q].length);
          if (c < 0) {
            lo = mid + 1;
          } else if (c > 0) {
            hi = mid - 1;
          } else {
            int p = at + 2 + len;
            int df = in.getShort(p) & 0xFFFF;
            p += 2;
            for (int i = 0; i < df; i++, p += 4) {
              int d = in.getShort(p) & 0xFFFF;
              sink.posting(q, base + d, in.getShort(p + 2) & 0xFFFF, seg[13 + d] & 0xFF);
            }
            break;
          }
        }
      }
      return;
    }
    int pos = 13;
    for (int d = 0; d < n; d++) {
      int norm = seg[pos] & 0xFF;
      int terms = in.getShort(pos + 5) & 0xFFFF;
      pos += 7;
      for (int t = 0; t < terms; t++) {
        int len = in.getShort(pos) & 0xFFFF;
        Integer q = termIndex.get(new String(seg, pos + 2, len, StandardCharsets.UTF_8));
        pos += 2 + len;
        if (q != null) {
          sink.posting(q, base + d, in.getShort(pos) & 0xFFFF, norm);
        }
        pos += 2;
      }
    }
  }

  static int compareUtf8(String a, String b) {
    byte[] x = a.getBytes(StandardCharsets.UTF_8);
    byte[] y = b.getBytes(StandardCharsets.UTF_8);
    return Arrays.compareUnsigned(x, y);
  }
}
