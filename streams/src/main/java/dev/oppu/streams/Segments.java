package dev.oppu.streams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A user's BM25 index is a run of segments of {@link #SIZE} consecutive documents (seq / SIZE = segment number), like
 * Lucene's segments: indexing a document rewrites only the small open segment (one read, one write, however many
 * terms the item has); a full segment is sealed once into an inverted layout whose dictionary is ordered by term hash,
 * which retrieval binary-searches (sorting ints when sealing, comparing ints when searching). Evicted documents are skipped by seq (below the user's firstSeq) and a segment is deleted when its
 * last document is evicted, so df, docCount and lengths always describe exactly the retained documents.
 *
 * <p>Open layout: {@code [0][baseSeq:8][n:4]} then per doc {@code [norm:1][length:4][terms:2]} and per distinct term
 * {@code [len:2][utf8][tf:2]}. Sealed layout: {@code [1][baseSeq:8][n:4][norm:1 x n][length:4 x n][terms:4]
 * [hash:4 x terms][dictOffset:4 x terms]}, hashes ascending (signed; see {@link #termHash}), then per term
 * {@code [len:2][utf8][df:2]} followed by df entries {@code [doc:2][tf:2]}. Terms with equal hashes are adjacent.
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

  /** One term's postings while sealing: where its UTF-8 bytes are in the open segment, and (doc, tf) pairs. */
  private static final class Postings {
    final int at;
    final int len;
    final int hash;
    int[] docTf = new int[4];
    int n;

    Postings(int at, int len, int hash) {
      this.at = at;
      this.len = len;
      this.hash = hash;
    }

    void add(int doc, int tf) {
      if (2 * n + 2 > docTf.length) {
        docTf = Arrays.copyOf(docTf, docTf.length * 2);
      }
      docTf[2 * n] = doc;
      docTf[2 * n + 1] = tf;
      n++;
    }
  }

  /**
   * Open layout to sealed (inverted) layout: terms are grouped in an open-addressing table keyed by their hash and
   * bytes (no per-term objects besides the postings), then ordered by one primitive sort of (hash, index).
   */
  static byte[] seal(byte[] open) {
    ByteBuffer in = ByteBuffer.wrap(open);
    in.get();
    long base = in.getLong();
    int n = in.getInt();
    byte[] norms = new byte[n];
    int[] lengths = new int[n];
    int maxTerms = open.length / 4; // every term entry takes at least 4 bytes
    int slots = Integer.highestOneBit(Math.max(8, maxTerms)) * 4; // load factor below 1/2
    Postings[] table = new Postings[slots];
    Postings[] ps = new Postings[maxTerms + 1];
    int distinct = 0;
    for (int d = 0; d < n; d++) {
      norms[d] = in.get();
      lengths[d] = in.getInt();
      int terms = in.getShort() & 0xFFFF;
      for (int t = 0; t < terms; t++) {
        int len = in.getShort() & 0xFFFF;
        int at = in.position();
        in.position(at + len);
        int tf = in.getShort() & 0xFFFF;
        int h = termHash(open, at, at + len);
        int slot = h & (slots - 1);
        Postings p;
        while ((p = table[slot]) != null
            && !(p.hash == h && Arrays.equals(open, p.at, p.at + p.len, open, at, at + len))) {
          slot = (slot + 1) & (slots - 1);
        }
        if (p == null) {
          p = table[slot] = ps[distinct++] = new Postings(at, len, h);
        }
        p.add(d, tf);
      }
    }
    ps = Arrays.copyOf(ps, distinct);
    long[] order = new long[distinct]; // hash in the high half, index in the low: one primitive sort
    for (int i = 0; i < distinct; i++) {
      order[i] = ((long) ps[i].hash << 32) | i;
    }
    Arrays.sort(order);
    int dictBytes = 0;
    for (Postings p : ps) {
      dictBytes += 2 + p.len + 2 + 4 * p.n;
    }
    int head = 1 + 8 + 4 + n + 4 * n + 4 + 8 * ps.length;
    ByteBuffer out = ByteBuffer.allocate(head + dictBytes);
    out.put((byte) 1).putLong(base).putInt(n).put(norms);
    for (int l : lengths) {
      out.putInt(l);
    }
    out.putInt(ps.length);
    int hashesAt = out.position();
    int offsetsAt = hashesAt + 4 * ps.length;
    out.position(head);
    for (int idx = 0; idx < order.length; idx++) {
      Postings p = ps[(int) order[idx]];
      out.putInt(hashesAt + 4 * idx, (int) (order[idx] >> 32));
      out.putInt(offsetsAt + 4 * idx, out.position());
      out.putShort((short) p.len).put(open, p.at, p.len).putShort((short) p.n);
      for (int i = 0; i < p.n; i++) {
        out.putShort((short) p.docTf[2 * i]).putShort((short) p.docTf[2 * i + 1]);
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
  public static void lookup(byte[] seg, byte[][] queryTerms, PostingSink sink) {
    long base = baseSeq(seg);
    int n = docCount(seg);
    if (isSealed(seg)) {
      for (int q = 0; q < queryTerms.length; q++) {
        int p = postingsAt(seg, queryTerms[q], termHash(queryTerms[q]));
        if (p < 0) {
          continue;
        }
        int end = p + 2 + 4 * u16(seg, p);
        for (p += 2; p < end; p += 4) {
          int d = u16(seg, p);
          sink.posting(q, base + d, u16(seg, p + 2), norm(seg, d));
        }
      }
      return;
    }
    // Open segment: the query terms in a small open-addressing table by hash; terms compared as bytes.
    int slots = Integer.highestOneBit(Math.max(4, queryTerms.length)) * 4;
    int mask = slots - 1;
    int[] table = new int[slots]; // query term index + 1; 0 = empty
    int[] qHash = new int[queryTerms.length];
    for (int q = 0; q < queryTerms.length; q++) {
      qHash[q] = termHash(queryTerms[q]);
      int slot = qHash[q] & mask;
      while (table[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      table[slot] = q + 1;
    }
    int pos = 13;
    for (int d = 0; d < n; d++) {
      int norm = seg[pos] & 0xFF;
      int terms = u16(seg, pos + 5);
      pos += 7;
      for (int t = 0; t < terms; t++) {
        int len = u16(seg, pos);
        int from = pos + 2;
        pos = from + len;
        int h = termHash(seg, from, pos);
        for (int slot = h & mask, e; (e = table[slot]) != 0; slot = (slot + 1) & mask) {
          byte[] qt = queryTerms[e - 1];
          if (qHash[e - 1] == h && Arrays.equals(seg, from, pos, qt, 0, qt.length)) {
            sink.posting(e - 1, base + d, u16(seg, pos), norm);
            break;
          }
        }
        pos += 2;
      }
    }
  }

  private static final java.lang.invoke.VarHandle INT =
      java.lang.invoke.MethodHandles.byteArrayViewVarHandle(int[].class, java.nio.ByteOrder.BIG_ENDIAN);

  public static boolean isSealed(byte[] seg) {
    return seg[0] == 1;
  }

  /**
   * Sealed segments only: where the postings of a query term (UTF-8, {@code hash} = its {@link #termHash}) start,
   * i.e. the offset of its {@code [df:2]} followed by df {@code [doc:2][tf:2]} entries; -1 when the segment lacks it.
   */
  public static int postingsAt(byte[] seg, byte[] term, int hash) {
    int n = docCount(seg);
    int terms = (int) INT.get(seg, 13 + 5 * n);
    int hashes = 13 + 5 * n + 4;
    int offsets = hashes + 4 * terms;
    int lo = 0;
    int hi = terms;
    while (lo < hi) { // first index whose hash >= hash
      int mid = (lo + hi) >>> 1;
      if ((int) INT.get(seg, hashes + 4 * mid) < hash) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    for (int t = lo; t < terms && (int) INT.get(seg, hashes + 4 * t) == hash; t++) {
      int at = (int) INT.get(seg, offsets + 4 * t);
      int len = u16(seg, at);
      if (Arrays.equals(seg, at + 2, at + 2 + len, term, 0, term.length)) {
        return at + 2 + len;
      }
    }
    return -1;
  }

  /** An unsigned big-endian 16-bit field (df, doc, tf of sealed postings). */
  public static int u16(byte[] b, int at) {
    return ((b[at] & 0xFF) << 8) | (b[at + 1] & 0xFF);
  }

  /** Sealed segments: the norm byte of document {@code d} (0-based in the segment). */
  public static int norm(byte[] seg, int d) {
    return seg[13 + d] & 0xFF;
  }

  /** The hash of a whole term (see {@link #termHash(byte[], int, int)}). */
  public static int termHash(byte[] term) {
    return termHash(term, 0, term.length);
  }

  /** The dictionary order of sealed segments: a fixed hash of a term's UTF-8 bytes (part of the stored layout). */
  static int termHash(byte[] b, int from, int to) {
    int h = 0x9747b28c;
    for (int i = from; i < to; i++) {
      h = 31 * h + b[i];
    }
    h ^= h >>> 16; // murmur3 finalizer: spread short, similar terms
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    return h ^ (h >>> 16);
  }
}
