package dev.oppu.trainer.pretrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTokenizerTrainerTest {

  private static BpeTokenizerTrainer corpus(int vocab) {
    BpeTokenizerTrainer t = new BpeTokenizerTrainer(vocab);
    String[] lines = {
        "A quiet movie about a lonely robot who learns to love. tag: sci-fi",
        "The detective story twists at the end; nobody saw it coming. tag: twist ending",
        "A family comedy with talking dogs and a birthday party. tag: comedy",
        "Über-café naïve résumé — unicode text 123 4567!",
    };
    for (int i = 0; i < 40; i++) {
      for (String l : lines) {
        t.add(l);
      }
    }
    return t;
  }

  @Test
  void huggingFaceTokenizersLoadsWhatWeWriteAndRoundTrips(@TempDir Path dir) throws Exception {
    BpeTokenizerTrainer.Bpe bpe = corpus(400).trainAndSave(dir);
    assertEquals(400, bpe.vocab().size());
    try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.builder()
        .optTokenizerPath(dir.resolve("tokenizer.json")).optAddSpecialTokens(false).build()) {
      for (String text : new String[] {"A quiet movie about a robot. tag: comedy", "Über-café 42 résumé!", "  odd  spacing\n"}) {
        Encoding enc = tok.encode(text);
        assertEquals(text, tok.decode(enc.getIds()), "round trip of '" + text + "'");
      }
      // A frequent word becomes one learned token, with the id our trainer gave it.
      long[] ids = tok.encode(" movie").getIds();
      assertArrayEquals(new long[] {bpe.vocab().get("Ġmovie")}, ids);
      Map<String, Integer> v = bpe.vocab();
      assertEquals(0, v.get("<pad>"));
      assertEquals(2, v.get("</s>"));
    }
  }

  @Test
  void deterministic() {
    BpeTokenizerTrainer.Bpe a = corpus(350).train();
    BpeTokenizerTrainer.Bpe b = corpus(350).train();
    assertEquals(a.vocab(), b.vocab());
    assertTrue(a.merges().size() > 0);
  }

  @Test
  void byteMapIsABijectionLikeGpt2() {
    assertEquals('Ġ', BpeTokenizerTrainer.BYTE_TO_CHAR[' ']);
    assertEquals('Ċ', BpeTokenizerTrainer.BYTE_TO_CHAR['\n']);
    assertEquals(256, new String(BpeTokenizerTrainer.BYTE_TO_CHAR).chars().distinct().count());
  }
}
