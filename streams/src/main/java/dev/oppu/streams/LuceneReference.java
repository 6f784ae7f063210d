package dev.oppu.streams;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;

/**
 * Lucene's own BM25 search over a list of documents: the reference the project's BM25 ({@link Bm25Retriever} over the
 * ingestion stores, training's retrieval of earlier items) is checked against, and the per-request baseline of the
 * retrieval benchmark. An in-memory index of the documents in the field {@link TextAnalysis#FIELD}, written with the
 * given analyzer (use the one ingestion indexes with, {@link IngestConfig#newAnalyzer()}) and searched with
 * {@link BM25Similarity}'s defaults (k1 1.2, b 0.75) by a disjunction of term queries. One writer and no merges, so
 * a hit's document id is the document's position in the list.
 */
public final class LuceneReference implements AutoCloseable {

  /** A document by its position in the list, with Lucene's score. */
  public record Hit(int position, float score) {}

  private final ByteBuffersDirectory dir = new ByteBuffersDirectory();
  private final DirectoryReader reader;
  private final IndexSearcher searcher;

  /** Indexes {@code docs}. */
  public LuceneReference(Analyzer analyzer, List<String> docs) throws IOException {
    IndexWriterConfig iwc = new IndexWriterConfig(analyzer).setSimilarity(new BM25Similarity())
        .setMergePolicy(NoMergePolicy.INSTANCE);
    try (IndexWriter w = new IndexWriter(dir, iwc)) {
      for (String d : docs) {
        Document doc = new Document();
        doc.add(new TextField(TextAnalysis.FIELD, d, Field.Store.NO));
        w.addDocument(doc);
      }
    }
    reader = DirectoryReader.open(dir);
    searcher = new IndexSearcher(reader);
    searcher.setSimilarity(new BM25Similarity());
  }

  /** The top {@code k} documents for the (already analyzed) query terms, as Lucene ranks them. */
  public List<Hit> search(List<String> queryTerms, int k) throws IOException {
    BooleanQuery.Builder q = new BooleanQuery.Builder();
    for (String t : queryTerms) {
      q.add(new TermQuery(new Term(TextAnalysis.FIELD, t)), BooleanClause.Occur.SHOULD);
    }
    List<Hit> out = new ArrayList<>();
    for (ScoreDoc sd : searcher.search(q.build(), k).scoreDocs) {
      out.add(new Hit(sd.doc, sd.score));
    }
    return out;
  }

  /** Indexes {@code docs}, searches once and closes the index. */
  public static List<Hit> topK(Analyzer analyzer, List<String> docs, List<String> queryTerms, int k)
      throws IOException {
    try (LuceneReference index = new LuceneReference(analyzer, docs)) {
      return index.search(queryTerms, k);
    }
  }

  @Override
  public void close() throws IOException {
    reader.close();
    dir.close();
  }
}
