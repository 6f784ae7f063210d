package dev.oppu.streams;

import java.nio.ByteBuffer;

/**
 * Per (user, task) counters. The history store's copy ({@code firstSeq}, {@code nextSeq}) is logged and is the truth;
 * the index store's copy adds BM25's collection statistics, and a mismatch of the seq range means the (unlogged)
 * index is stale and is rebuilt from the history.
 *
 * @param firstSeq the oldest retained item
 * @param nextSeq the seq the next item gets
 * @param docCount documents in the index (Lucene's docCount)
 * @param sumTotalTermFreq sum of document lengths in terms (Lucene's sumTotalTermFreq)
 */
public record IndexStats(long firstSeq, long nextSeq, long docCount, long sumTotalTermFreq) {
  public static final IndexStats EMPTY = new IndexStats(0, 0, 0, 0);

  public long retained() {
    return nextSeq - firstSeq;
  }

  public byte[] encode() {
    return ByteBuffer.allocate(32).putLong(firstSeq).putLong(nextSeq).putLong(docCount).putLong(sumTotalTermFreq)
        .array();
  }

  public static IndexStats decode(byte[] b) {
    if (b == null) {
      return EMPTY;
    }
    ByteBuffer buf = ByteBuffer.wrap(b);
    long first = buf.getLong();
    long next = buf.getLong();
    return buf.remaining() >= 16 ? new IndexStats(first, next, buf.getLong(), buf.getLong())
        : new IndexStats(first, next, 0, 0);
  }

  /** The logged history-meta form: the seq range only. */
  public byte[] encodeRange() {
    return ByteBuffer.allocate(16).putLong(firstSeq).putLong(nextSeq).array();
  }

  public boolean sameRange(IndexStats o) {
    return firstSeq == o.firstSeq && nextSeq == o.nextSeq;
  }
}
