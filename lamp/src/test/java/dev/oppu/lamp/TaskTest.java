package dev.oppu.lamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TaskTest {

  static final String MOVIE_TAGS = "[sci-fi, based on a book, comedy, action, twist ending, dystopia, dark comedy,"
      + " classic, psychology, fantasy, romance, thought-provoking, social commentary, violence, true story]";
  static final String NEWS_CATS = "[travel, education, parents, style & beauty, entertainment, food & drink,"
      + " science & technology, business, sports, healthy living, women, politics, crime, culture & arts, religion]";

  /** LaMP's own inputs, as the benchmark writes them. */
  static final Map<Task, String> LAMP_INPUTS = Map.of(
      Task.CITATION, "For an author who has written the paper with the title \"Deep nets for fun\", which reference is"
          + " related? Just answer with [1] or [2] without explanation. [1]: \"Shallow nets\" [2]: \"Profit nets\"",
      Task.NEWS_CATEGORIZE, "Which category does this article relate to among the following categories? Just answer"
          + " with the category name without further explanation. categories: " + NEWS_CATS
          + " article: The team won the cup.",
      Task.MOVIE_TAGGING, "Which tag does this movie relate to among the following tags? Just answer with the tag name"
          + " without further explanation. tags: " + MOVIE_TAGS + " description: A robot dreams.",
      Task.PRODUCT_RATING, "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3,"
          + " 4, or 5 without further explanation. review: Broke after a day.",
      Task.NEWS_HEADLINE, "Generate a headline for the following article: Rain falls on the city.",
      Task.SCHOLARLY_TITLE, "Generate a title for the following abstract of a paper: We study graphs.",
      Task.TWEET_PARAPHRASE, "Paraphrase the following tweet without any explanation before or after it: I like tea.");

  static final Map<Task, String> EXTRACTED = Map.of(
      Task.CITATION, "Deep nets for fun",
      Task.NEWS_CATEGORIZE, "The team won the cup.",
      Task.MOVIE_TAGGING, "A robot dreams.",
      Task.PRODUCT_RATING, "Broke after a day.",
      Task.NEWS_HEADLINE, "Rain falls on the city.",
      Task.SCHOLARLY_TITLE, "We study graphs.",
      Task.TWEET_PARAPHRASE, "I like tea.");

  @Test
  void idsNamesAndLookup() {
    assertEquals(List.of("LaMP_1", "LaMP_2N", "LaMP_2M", "LaMP_3", "LaMP_4", "LaMP_5", "LaMP_7"),
        java.util.Arrays.stream(Task.values()).map(Task::id).toList());
    assertEquals(List.of("citation", "news_categorize", "movie_tagging", "product_rating", "news_headline",
        "scholarly_title", "tweet_paraphrase"), java.util.Arrays.stream(Task.values()).map(Task::taskName).toList());
    for (Task t : Task.values()) {
      assertSame(t, Task.of(t.id()));
      assertSame(t, Task.of(t.taskName()));
      assertSame(t, Task.of(t.name()));
      assertSame(t, Task.of(t.id().toLowerCase()));
    }
    LampInputException e = assertThrows(LampInputException.class, () -> Task.of("LaMP_6"));
    assertTrue(e.getMessage().contains("LaMP_6"));
    assertThrows(LampInputException.class, () -> Task.of(null));
  }

  @Test
  void kindsAndLabelLists() {
    assertEquals(Task.Kind.CLASSIFICATION, Task.CITATION.kind());
    assertEquals(Task.Kind.CLASSIFICATION, Task.NEWS_CATEGORIZE.kind());
    assertEquals(Task.Kind.CLASSIFICATION, Task.MOVIE_TAGGING.kind());
    assertEquals(Task.Kind.REGRESSION, Task.PRODUCT_RATING.kind());
    assertEquals(Task.Kind.GENERATION, Task.NEWS_HEADLINE.kind());
    assertEquals(Task.Kind.GENERATION, Task.SCHOLARLY_TITLE.kind());
    assertEquals(Task.Kind.GENERATION, Task.TWEET_PARAPHRASE.kind());
    assertEquals(List.of("[1]", "[2]"), Task.CITATION.labels());
    assertEquals("[" + String.join(", ", Task.MOVIE_TAGGING.labels()) + "]", MOVIE_TAGS);
    assertEquals("[" + String.join(", ", Task.NEWS_CATEGORIZE.labels()) + "]", NEWS_CATS);
    assertEquals(15, Task.MOVIE_TAGGING.labels().size());
    assertEquals(15, Task.NEWS_CATEGORIZE.labels().size());
    assertEquals(List.of("1", "2", "3", "4", "5"), Task.PRODUCT_RATING.labels());
    assertTrue(Task.NEWS_HEADLINE.labels().isEmpty());
    // LaMP's evaluation lists LaMP_2N's labels in another order: as a set they must agree (order does not affect
    // accuracy or macro-F1).
    assertEquals(java.util.Set.of("food & drink", "sports", "education", "parents", "religion", "travel", "business",
        "crime", "science & technology", "culture & arts", "entertainment", "politics", "women", "style & beauty",
        "healthy living"), java.util.Set.copyOf(Task.NEWS_CATEGORIZE.labels()));
  }

  @Test
  void extractEveryTaskAtItsMarker() {
    for (Task t : Task.values()) {
      Task.Extracted x = t.extract(LAMP_INPUTS.get(t));
      assertEquals(EXTRACTED.get(t), x.text(), t.id());
      if (t == Task.CITATION) {
        assertEquals(List.of("Shallow nets", "Profit nets"), x.options());
      } else {
        assertTrue(x.options().isEmpty());
      }
      assertEquals(x.text(), t.query(x));
    }
  }

  @Test
  void lampInputIsWordedAsLampsOwnInputs() {
    for (Task t : Task.values()) {
      List<String> options = t == Task.CITATION ? List.of("Shallow nets", "Profit nets") : List.of();
      assertEquals(LAMP_INPUTS.get(t), t.lampInput(EXTRACTED.get(t), options), t.id());
      Task.Extracted x = t.extract(t.lampInput("some text", List.of("o1", "o2")));
      assertEquals("some text", x.text());
    }
  }

  @Test
  void extractKeepsTextVerbatimIncludingLaterMarkers() {
    // The text is everything after the FIRST marker, newlines and trailing spaces included (LaMP's str.find).
    Task.Extracted x = Task.NEWS_HEADLINE.extract(
        "Generate a headline for the following article: a\nb Generate a headline for the following article: c ");
    assertEquals("a\nb Generate a headline for the following article: c ", x.text());
  }

  @Test
  void inputWithoutMarkerIsBadInput() {
    for (Task t : Task.values()) {
      LampInputException e = assertThrows(LampInputException.class, () -> t.extract("just some text"), t.id());
      assertTrue(e.getMessage().startsWith(t.id()), e.getMessage());
      assertThrows(LampInputException.class, () -> t.extract(""));
      assertThrows(LampInputException.class, () -> t.extract(null));
    }
    // another task's marker is not this task's marker
    assertThrows(LampInputException.class, () -> Task.MOVIE_TAGGING.extract(LAMP_INPUTS.get(Task.NEWS_CATEGORIZE)));
    assertThrows(LampInputException.class, () -> Task.NEWS_HEADLINE.extract(LAMP_INPUTS.get(Task.SCHOLARLY_TITLE)));
    // marker present but nothing after it
    assertThrows(LampInputException.class,
        () -> Task.TWEET_PARAPHRASE.extract("Paraphrase the following tweet without any explanation before or after it: "));
    // citation: title without options, and options without title
    assertThrows(LampInputException.class,
        () -> Task.CITATION.extract("has written the paper with the title \"T\", which reference? [1]: \"A\""));
    assertThrows(LampInputException.class, () -> Task.CITATION.extract("[1]: \"A\" [2]: \"B\""));
  }

  @Test
  void promptsExactlyAsSpecQuotesThem() {
    Map<Task, String> expected = Map.of(
        Task.MOVIE_TAGGING, "Which tag does this movie relate to among the following tags? Just answer with the tag"
            + " name without further explanation. tags: " + MOVIE_TAGS + "\n description: X tag:",
        Task.NEWS_CATEGORIZE, "Which category does this article relate to among the following categories? Just"
            + " answer with the category name without further explanation. categories: " + NEWS_CATS
            + "\n article: X category:",
        Task.PRODUCT_RATING, "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2,"
            + " 3, 4, or 5 without further explanation. review: X\n score:",
        Task.NEWS_HEADLINE, "Generate a headline for the following article.\narticle: X headline:",
        Task.SCHOLARLY_TITLE, "Generate a title for the following abstract of a paper.\n abstract: X title:",
        Task.TWEET_PARAPHRASE, "Paraphrase the following text into tweet without any explanation before or after"
            + " it.\n text: X tweet:",
        Task.CITATION, "Identify the most relevant reference for the listed publication by the researcher. Select the"
            + " reference paper that is most closely related to the researcher's work.\npaper title: X reference:"
            + "\n[1]: \"A\"\n[2]: \"B\"\nanswer with [1] or [2]");
    for (Task t : Task.values()) {
      List<String> options = t == Task.CITATION ? List.of("A", "B") : List.of();
      assertEquals(expected.get(t), t.prompt(new Task.Extracted("X", options)), t.id());
    }
  }

  @Test
  void instructedQueryAsOppuRetrieves() {
    Task.Extracted x = new Task.Extracted("X", List.of("A", "B"));
    assertEquals("Which tag does this movie relate to among the following tags? Just answer with the tag name without"
        + " further explanation.\n description: X", Task.MOVIE_TAGGING.instructedQuery(x));
    assertEquals("Which category does this article relate to among the following categories? arcicle: X",
        Task.NEWS_CATEGORIZE.instructedQuery(x));
    assertEquals("What is the score of the following review on a scale of 1 to 5? review: X",
        Task.PRODUCT_RATING.instructedQuery(x));
    assertEquals("Generate a headline for the following article: X", Task.NEWS_HEADLINE.instructedQuery(x));
    assertEquals("Generate a title for the following abstract of a paper: X", Task.SCHOLARLY_TITLE.instructedQuery(x));
    assertEquals("Paraphrase the following text into tweet without any explanation before or after it: X",
        Task.TWEET_PARAPHRASE.instructedQuery(x));
    assertEquals("Identify the most relevant reference for the listed publication by the researcher. Select the"
        + " reference paper that is most closely related to the researcher's work. Please respond with only the number"
        + " that corresponds to the reference.\npaper title: X", Task.CITATION.instructedQuery(x));
  }

  @Test
  void promptFromLampInputEndToEnd() {
    assertEquals("Generate a title for the following abstract of a paper.\n abstract: We study graphs. title:",
        Task.SCHOLARLY_TITLE.prompt(Task.SCHOLARLY_TITLE.extract(LAMP_INPUTS.get(Task.SCHOLARLY_TITLE))));
  }

  @Test
  void renderItemPerTask() {
    assertEquals("description: D tag: comedy\n", Task.MOVIE_TAGGING.renderItem(item("description", "D", "tag", "comedy")));
    assertEquals("article: T category: sports\n", Task.NEWS_CATEGORIZE.renderItem(item("text", "T", "category", "sports")));
    assertEquals("review: R score: 4\n", Task.PRODUCT_RATING.renderItem(item("text", "R", "score", "4")));
    assertEquals("article: A headline: H\n", Task.NEWS_HEADLINE.renderItem(item("text", "A", "title", "H")));
    assertEquals("abstract: A title: T\n", Task.SCHOLARLY_TITLE.renderItem(item("abstract", "A", "title", "T")));
    assertEquals("tweet: hi there\n", Task.TWEET_PARAPHRASE.renderItem(item("text", "hi there")));
    assertEquals("paper title: P\n", Task.CITATION.renderItem(item("title", "P", "citation", "C")));
    assertEquals("paper title: P\n", Task.CITATION.renderItem(item("title", "P", "abstract", "A")));
    // extra fields (id, date) are ignored; a missing field is bad input
    assertEquals("description: D tag: x\n",
        Task.MOVIE_TAGGING.renderItem(item("id", "7", "date", "2020-01-01", "description", "D", "tag", "x")));
    assertThrows(LampInputException.class, () -> Task.MOVIE_TAGGING.renderItem(item("description", "D")));
    // a value that itself contains a placeholder is not expanded again
    assertEquals("description: {tag} tag: x\n", Task.MOVIE_TAGGING.renderItem(item("description", "{tag}", "tag", "x")));
  }

  @Test
  void buildInputConcatenatesProfileItemsAndPrompt() {
    List<Map<String, String>> items = List.of(item("text", "a", "score", "1"), item("text", "b", "score", "5"));
    assertEquals("P\nreview: a score: 1\nreview: b score: 5\n\nQ", Task.PRODUCT_RATING.buildInput("P", items, "Q"));
    assertEquals("review: a score: 1\nreview: b score: 5\n\nQ", Task.PRODUCT_RATING.buildInput(null, items, "Q"));
    assertEquals("review: a score: 1\nreview: b score: 5\n\nQ", Task.PRODUCT_RATING.buildInput("", items, "Q"));
    assertEquals("\nQ", Task.PRODUCT_RATING.buildInput(null, List.of(), "Q"));
    assertEquals("P\n\nQ", Task.PRODUCT_RATING.buildInput("P", List.of(), "Q"));
  }

  @Test
  void trainingExamplePerTask() {
    assertEquals(new Task.Example(Task.MOVIE_TAGGING.promptTemplate().replace("{}", "D"), "comedy"),
        Task.MOVIE_TAGGING.trainingExample(item("description", "D", "tag", "comedy")));
    assertTrue(Task.MOVIE_TAGGING.trainingExample(item("description", "D", "tag", "comedy")).prompt()
        .endsWith("true story]\n description: D tag:"));
    assertEquals(new Task.Example(Task.NEWS_CATEGORIZE.promptTemplate().replace("{}", "T"), "sports"),
        Task.NEWS_CATEGORIZE.trainingExample(item("text", "T", "category", "sports")));
    assertEquals(new Task.Example("What is the score of the following review on a scale of 1 to 5? just answer with 1,"
            + " 2, 3, 4, or 5 without further explanation. review: R\n score:", "4"),
        Task.PRODUCT_RATING.trainingExample(item("text", "R", "score", "4")));
    assertEquals(new Task.Example("Generate a headline for the following article.\narticle: A headline:", "H"),
        Task.NEWS_HEADLINE.trainingExample(item("text", "A", "title", "H")));
    assertEquals(new Task.Example("Generate a title for the following abstract of a paper.\n abstract: A title:", "T"),
        Task.SCHOLARLY_TITLE.trainingExample(item("abstract", "A", "title", "T")));
    assertEquals(new Task.Example("tweet:", "my tweet"), Task.TWEET_PARAPHRASE.trainingExample(item("text", "my tweet")));
    // citation, OPPU's processed items {title, citation}
    assertEquals(new Task.Example("paper title: P reference:", "C"),
        Task.CITATION.trainingExample(item("title", "P", "citation", "C")));
    // citation, LaMP's own items {title, abstract}
    assertEquals(new Task.Example("abstract: A title:", "P"),
        Task.CITATION.trainingExample(item("title", "P", "abstract", "A")));
    // an empty citation falls back to the abstract form
    assertEquals(new Task.Example("abstract: A title:", "P"),
        Task.CITATION.trainingExample(item("title", "P", "citation", "", "abstract", "A")));
    assertThrows(LampInputException.class, () -> Task.SCHOLARLY_TITLE.trainingExample(item("abstract", "A")));
  }

  @Test
  void fieldsPerTask() {
    assertEquals(List.of("description", "tag"), Task.MOVIE_TAGGING.requiredItemFields());
    assertEquals(List.of("text", "category"), Task.NEWS_CATEGORIZE.requiredItemFields());
    assertEquals(List.of("text", "title"), Task.NEWS_HEADLINE.requiredItemFields());
    assertEquals(List.of("text", "score"), Task.PRODUCT_RATING.requiredItemFields());
    assertEquals(List.of("abstract", "title"), Task.SCHOLARLY_TITLE.requiredItemFields());
    assertEquals(List.of("text"), Task.TWEET_PARAPHRASE.requiredItemFields());
    assertEquals(List.of("title"), Task.CITATION.requiredItemFields());
    assertEquals("description", Task.MOVIE_TAGGING.inputField());
    assertEquals("text", Task.NEWS_CATEGORIZE.inputField());
    assertEquals("text", Task.NEWS_HEADLINE.inputField());
    assertEquals("text", Task.PRODUCT_RATING.inputField());
    assertEquals("abstract", Task.SCHOLARLY_TITLE.inputField());
    assertEquals("text", Task.TWEET_PARAPHRASE.inputField());
    assertEquals("title", Task.CITATION.inputField());
    assertEquals("lamp_2m", Task.MOVIE_TAGGING.key());
  }

  @Test
  void validateItem() {
    Task.MOVIE_TAGGING.validateItem(item("description", "D", "tag", "comedy"));
    Task.TWEET_PARAPHRASE.validateItem(item("text", "t"));
    Task.CITATION.validateItem(item("title", "P", "citation", "C"));
    Task.CITATION.validateItem(item("title", "P", "abstract", "A"));
    Task.PRODUCT_RATING.validateItem(item("text", "R", "score", "1"));
    Task.PRODUCT_RATING.validateItem(item("text", "R", "score", " 5 "));
    Task.PRODUCT_RATING.validateItem(item("text", "R", "score", "3.0"));

    LampInputException e = assertThrows(LampInputException.class,
        () -> Task.MOVIE_TAGGING.validateItem(item("description", "D")));
    assertTrue(e.getMessage().contains("tag"), e.getMessage());
    e = assertThrows(LampInputException.class, () -> Task.NEWS_HEADLINE.validateItem(item("text", " ", "title", "H")));
    assertTrue(e.getMessage().contains("text"), e.getMessage());
    e = assertThrows(LampInputException.class, () -> Task.CITATION.validateItem(item("title", "P")));
    assertTrue(e.getMessage().contains("citation|abstract"), e.getMessage());
    assertThrows(LampInputException.class, () -> Task.CITATION.validateItem(item("citation", "C")));
    assertThrows(LampInputException.class, () -> Task.PRODUCT_RATING.validateItem(item("text", "R", "score", "six")));
    assertThrows(LampInputException.class, () -> Task.PRODUCT_RATING.validateItem(item("text", "R", "score", "0")));
    assertThrows(LampInputException.class, () -> Task.PRODUCT_RATING.validateItem(item("text", "R", "score", "5.5")));
    assertThrows(LampInputException.class, () -> Task.PRODUCT_RATING.validateItem(item("text", "R", "score", "NaN")));
    assertThrows(LampInputException.class, () -> Task.SCHOLARLY_TITLE.validateItem(item("title", "T")));
  }

  static Map<String, String> item(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }
}
