package dev.oppu.lamp;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The seven LaMP tasks as OPPU uses them: input markers, prompts, label lists, history item fields and renderings.
 * Prompts, labels and markers are LaMP/OPPU benchmark data, reproduced exactly; this is the one place that holds them.
 */
public enum Task {
  CITATION("LaMP_1", "citation", Kind.CLASSIFICATION,
      List.of("[1]", "[2]"),
      null, // special-cased: title in quotes, two options
      "Identify the most relevant reference for the listed publication by the researcher. Select the reference paper"
          + " that is most closely related to the researcher's work.\npaper title: {} reference:",
      "title", "citation", "paper title: {title}\n"),
  NEWS_CATEGORIZE("LaMP_2N", "news_categorize", Kind.CLASSIFICATION,
      List.of("travel", "education", "parents", "style & beauty", "entertainment", "food & drink",
          "science & technology", "business", "sports", "healthy living", "women", "politics", "crime",
          "culture & arts", "religion"),
      "] article: ",
      "Which category does this article relate to among the following categories? Just answer with the category name"
          + " without further explanation. categories: [travel, education, parents, style & beauty, entertainment,"
          + " food & drink, science & technology, business, sports, healthy living, women, politics, crime,"
          + " culture & arts, religion]\n article: {} category:",
      "text", "category", "article: {text} category: {category}\n"),
  MOVIE_TAGGING("LaMP_2M", "movie_tagging", Kind.CLASSIFICATION,
      List.of("sci-fi", "based on a book", "comedy", "action", "twist ending", "dystopia", "dark comedy", "classic",
          "psychology", "fantasy", "romance", "thought-provoking", "social commentary", "violence", "true story"),
      "] description: ",
      "Which tag does this movie relate to among the following tags? Just answer with the tag name without further"
          + " explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark comedy,"
          + " classic, psychology, fantasy, romance, thought-provoking, social commentary, violence, true story]\n"
          + " description: {} tag:",
      "description", "tag", "description: {description} tag: {tag}\n"),
  PRODUCT_RATING("LaMP_3", "product_rating", Kind.REGRESSION,
      List.of("1", "2", "3", "4", "5"),
      "without further explanation. review: ",
      "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 without"
          + " further explanation. review: {}\n score:",
      "text", "score", "review: {text} score: {score}\n"),
  NEWS_HEADLINE("LaMP_4", "news_headline", Kind.GENERATION,
      List.of(),
      "Generate a headline for the following article: ",
      "Generate a headline for the following article.\narticle: {} headline:",
      "text", "title", "article: {text} headline: {title}\n"),
  SCHOLARLY_TITLE("LaMP_5", "scholarly_title", Kind.GENERATION,
      List.of(),
      "Generate a title for the following abstract of a paper: ",
      "Generate a title for the following abstract of a paper.\n abstract: {} title:",
      "abstract", "title", "abstract: {abstract} title: {title}\n"),
  TWEET_PARAPHRASE("LaMP_7", "tweet_paraphrase", Kind.GENERATION,
      List.of(),
      "Paraphrase the following tweet without any explanation before or after it: ",
      "Paraphrase the following text into tweet without any explanation before or after it.\n text: {} tweet:",
      "text", "text", "tweet: {text}\n");

  /** How a task is scored: accuracy/macro-F1, MAE/RMSE, or ROUGE. */
  public enum Kind { CLASSIFICATION, REGRESSION, GENERATION }

  /** The text cut out of a LaMP input; {@code options} holds citation's two candidates, empty otherwise. */
  public record Extracted(String text, List<String> options) {}

  /** One per-user training example: the prompt and the answer it should produce (EOS is the tokenizer's business). */
  public record Example(String prompt, String answer) {}

  private static final Pattern CITATION_TITLE = Pattern.compile("written the paper with the title \"(.*?)\"", Pattern.DOTALL);
  private static final Pattern TEMPLATE_SLOT = Pattern.compile("\\{([a-z]+)\\}");
  private static final Pattern CITATION_OPTION = Pattern.compile("\\[(1|2)\\]: \"(.*?)\"", Pattern.DOTALL);

  private final String id;
  private final String taskName;
  private final Kind kind;
  private final List<String> labels;
  private final String marker;
  private final String prompt;
  private final String inputField;
  private final String labelField;
  private final String itemTemplate;

  Task(String id, String taskName, Kind kind, List<String> labels, String marker, String prompt, String inputField,
      String labelField, String itemTemplate) {
    this.id = id;
    this.taskName = taskName;
    this.kind = kind;
    this.labels = labels;
    this.marker = marker;
    this.prompt = prompt;
    this.inputField = inputField;
    this.labelField = labelField;
    this.itemTemplate = itemTemplate;
  }

  /** LaMP's id, e.g. {@code LaMP_2M}. */
  public String id() { return id; }

  /** OPPU's task name, e.g. {@code movie_tagging}. */
  public String taskName() { return taskName; }

  public Kind kind() { return kind; }

  /** The fixed label list scoring uses (empty for generation tasks). */
  public List<String> labels() { return labels; }

  /** The history item field that BM25 indexes and the prompt is filled from. */
  public String inputField() { return inputField; }

  /** The history item field that is the answer (for tweets it is the text itself). */
  public String labelField() { return labelField; }

  /** The raw prompt template, {@code {}} standing for the extracted text. */
  public String promptTemplate() { return prompt; }

  /** Accepts LaMP's id ({@code LaMP_2M}), OPPU's name ({@code movie_tagging}) or the enum name. */
  public static Task of(String idOrName) {
    if (idOrName != null) {
      for (Task t : values()) {
        if (t.id.equalsIgnoreCase(idOrName) || t.taskName.equalsIgnoreCase(idOrName) || t.name().equalsIgnoreCase(idOrName)) {
          return t;
        }
      }
    }
    throw new LampInputException("unknown task '" + idOrName + "' (expected one of LaMP_1, LaMP_2N, LaMP_2M, LaMP_3,"
        + " LaMP_4, LaMP_5, LaMP_7)");
  }

  /** The tasks named (ids or names, as {@link #of}); {@code all} alone stands for the seven in LaMP's order. */
  public static java.util.List<Task> list(java.util.List<String> names) {
    if (names.size() == 1 && names.get(0).trim().equalsIgnoreCase("all")) {
      return java.util.List.of(values());
    }
    java.util.List<Task> out = new java.util.ArrayList<>();
    for (String n : names) {
      out.add(of(n.trim()));
    }
    return java.util.List.copyOf(out);
  }

  /** One task's name, or {@code all}. */
  public static java.util.List<Task> list(String nameOrAll) {
    return list(java.util.List.of(nameOrAll));
  }

  /** Cuts the task's text out of a LaMP input at its fixed marker; an input without its marker is bad input. */
  public Extracted extract(String lampInput) {
    if (lampInput == null || lampInput.isBlank()) {
      throw new LampInputException(id + ": empty input");
    }
    if (this == CITATION) {
      Matcher title = CITATION_TITLE.matcher(lampInput);
      if (!title.find()) {
        throw new LampInputException(id + ": input lacks its marker 'written the paper with the title \"...\"'");
      }
      String[] options = new String[2];
      Matcher option = CITATION_OPTION.matcher(lampInput);
      int from = title.end();
      while (option.find(from)) {
        options[Integer.parseInt(option.group(1)) - 1] = option.group(2);
        from = option.end();
      }
      if (options[0] == null || options[1] == null) {
        throw new LampInputException(id + ": input lacks its options '[1]: \"...\"' and '[2]: \"...\"'");
      }
      return new Extracted(title.group(1), List.of(options[0], options[1]));
    }
    int at = lampInput.indexOf(marker);
    if (at < 0) {
      throw new LampInputException(id + ": input lacks its marker '" + marker + "'");
    }
    String text = lampInput.substring(at + marker.length());
    if (text.isBlank()) {
      throw new LampInputException(id + ": no text after the marker '" + marker + "'");
    }
    return new Extracted(text, List.of());
  }

  /**
   * A LaMP input carrying {@code text} after this task's marker, worded as LaMP's own questions are (the inverse of
   * {@link #extract}); {@code options} are citation's two candidates and are ignored by the other tasks.
   */
  public String lampInput(String text, List<String> options) {
    return switch (this) {
      case CITATION -> "For an author who has written the paper with the title \"" + text + "\", which reference is"
          + " related? Just answer with [1] or [2] without explanation. [1]: \"" + options.get(0) + "\" [2]: \""
          + options.get(1) + "\"";
      case NEWS_CATEGORIZE -> "Which category does this article relate to among the following categories? Just answer"
          + " with the category name without further explanation. categories: [" + String.join(", ", labels) + marker
          + text;
      case MOVIE_TAGGING -> "Which tag does this movie relate to among the following tags? Just answer with the tag"
          + " name without further explanation. tags: [" + String.join(", ", labels) + marker + text;
      case PRODUCT_RATING -> "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3,"
          + " 4, or 5 " + marker + text;
      default -> marker + text;
    };
  }

  /** The BM25 query for a request: the extracted text (citation: the paper title). */
  public String query(Extracted x) {
    return x.text();
  }

  /**
   * The BM25 query with the task instruction in front, as OPPU retrieves (its {@code retrieval_query_wokey}, quoted as
   * data, including its "arcicle" for news): the option SPEC section 2 asks for next to {@link #query}.
   */
  public String instructedQuery(Extracted x) {
    String template = switch (this) {
      case CITATION -> "Identify the most relevant reference for the listed publication by the researcher. Select the"
          + " reference paper that is most closely related to the researcher's work. Please respond with only the"
          + " number that corresponds to the reference.\npaper title: {}";
      case NEWS_CATEGORIZE -> "Which category does this article relate to among the following categories? arcicle: {}";
      case MOVIE_TAGGING -> "Which tag does this movie relate to among the following tags? Just answer with the tag"
          + " name without further explanation.\n description: {}";
      case PRODUCT_RATING -> "What is the score of the following review on a scale of 1 to 5? review: {}";
      case NEWS_HEADLINE -> "Generate a headline for the following article: {}";
      case SCHOLARLY_TITLE -> "Generate a title for the following abstract of a paper: {}";
      case TWEET_PARAPHRASE -> "Paraphrase the following text into tweet without any explanation before or after it:"
          + " {}";
    };
    return template.replace("{}", x.text());
  }

  /** The task prompt for a request. Citation keeps the two options (OPPU's released code drops them). */
  public String prompt(Extracted x) {
    String filled = prompt.replace("{}", x.text());
    if (this == CITATION) {
      filled = filled + "\n[1]: \"" + x.options().get(0) + "\"\n[2]: \"" + x.options().get(1)
          + "\"\nanswer with [1] or [2]";
    }
    return filled;
  }

  /**
   * A retrieved history item with its input field cut to its first {@code words} words (whitespace-separated), the
   * one cut training (RAG examples) and serving (prompts) apply, so that an adapter sees at serving time what it saw
   * in training. Every task is cut, tweets included (their text is the input field).
   */
  public Map<String, String> cutRetrieved(Map<String, String> item, int words) {
    String field = item.get(inputField);
    if (field == null) {
      return item;
    }
    String[] w = field.strip().split("\\s+");
    if (w.length <= words) {
      return item;
    }
    Map<String, String> copy = new java.util.HashMap<>(item);
    copy.put(inputField, String.join(" ", java.util.Arrays.copyOf(w, words)));
    return copy;
  }

  /** A retrieved history item as it appears in the prompt, newline included. */
  public String renderItem(Map<String, String> item) {
    // One pass over the template: a field value that happens to contain "{title}" is not expanded again.
    Matcher slot = TEMPLATE_SLOT.matcher(itemTemplate);
    StringBuilder out = new StringBuilder();
    while (slot.find()) {
      slot.appendReplacement(out, Matcher.quoteReplacement(field(item, slot.group(1))));
    }
    slot.appendTail(out);
    return out.toString();
  }

  /**
   * The final model input: {@code [profile + "\n"] + retrieved items + "\n" + prompt}.
   *
   * @param profile may be null or empty (no profile)
   */
  public String buildInput(String profile, List<Map<String, String>> retrieved, String taskPrompt) {
    StringBuilder sb = new StringBuilder();
    if (profile != null && !profile.isEmpty()) {
      sb.append(profile).append('\n');
    }
    for (Map<String, String> item : retrieved) {
      sb.append(renderItem(item));
    }
    sb.append('\n').append(taskPrompt);
    return sb.toString();
  }

  /** The per-user training example built from one history item (SPEC section 2). */
  public Example trainingExample(Map<String, String> item) {
    switch (this) {
      case TWEET_PARAPHRASE:
        return new Example("tweet:", field(item, "text"));
      case CITATION:
        if (item.get("citation") != null && !item.get("citation").isEmpty()) {
          return new Example("paper title: " + field(item, "title") + " reference:", field(item, "citation"));
        }
        return new Example("abstract: " + field(item, "abstract") + " title:", field(item, "title"));
      default:
        return new Example(prompt.replace("{}", field(item, inputField)), field(item, labelField));
    }
  }

  /** The fields a history item of this task must carry (citation accepts {title, citation} or {title, abstract}). */
  public List<String> requiredItemFields() {
    if (this == TWEET_PARAPHRASE) {
      return List.of("text");
    }
    if (this == CITATION) {
      return List.of("title");
    }
    return List.of(inputField, labelField);
  }

  /** Validates a history item, naming the first missing or empty field; citation needs citation or abstract too. */
  public void validateItem(Map<String, String> item) {
    List<String> missing = new ArrayList<>();
    for (String f : requiredItemFields()) {
      String v = item.get(f);
      if (v == null || v.isBlank()) {
        missing.add(f);
      }
    }
    if (this == CITATION && blank(item.get("citation")) && blank(item.get("abstract"))) {
      missing.add("citation|abstract");
    }
    if (!missing.isEmpty()) {
      throw new LampInputException(id + ": history item lacks field(s) " + missing);
    }
    if (this == PRODUCT_RATING) {
      String score = item.get("score").trim();
      double v;
      try {
        v = Double.parseDouble(score);
      } catch (NumberFormatException e) {
        throw new LampInputException(id + ": score '" + score + "' is not a number");
      }
      if (Double.isNaN(v) || v < 1 || v > 5) {
        throw new LampInputException(id + ": score " + score + " is outside 1..5");
      }
    }
  }

  @Override
  public String toString() {
    return id;
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }

  private static String field(Map<String, String> item, String name) {
    String v = item.get(name);
    if (v == null) {
      throw new LampInputException("history item lacks field '" + name + "'");
    }
    return v;
  }

  /** Lower-case key for file names and configuration. */
  public String key() {
    return id.toLowerCase(Locale.ROOT);
  }
}
