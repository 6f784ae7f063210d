package dev.oppu.lamp.synth;

import java.util.List;

/**
 * The synthetic generator's words: small on purpose (about 1,200 distinct words in all), so that a model with a
 * ~4,096-token BPE vocabulary, pretrained on this text, sees each word often. Each topic is "nouns | verbs | adjectives"
 * (verbs in the third person singular).
 */
final class Vocabulary {

  /** A topic's words. */
  record Topic(String name, List<String> nouns, List<String> verbs, List<String> adjectives) {
    static Topic of(String name, String spec) {
      String[] p = spec.split("\\|");
      return new Topic(name, words(p[0]), words(p[1]), words(p[2]));
    }
  }

  static List<String> words(String s) {
    return s.isBlank() ? List.of() : List.of(s.trim().split("\\s+"));
  }

  /** Movie kinds, index-aligned with LaMP_2M's tags (the crowd tags kind k with tag k). */
  static final List<Topic> MOVIE = List.of(
      Topic.of("sci-fi", "spaceship planet robot alien galaxy starship android colony orbit laser reactor asteroid"
          + " | launches orbits invades scans teleports explores | interstellar robotic cosmic futuristic orbital lunar"),
      Topic.of("based on a book", "novel author chapter manuscript library novelist saga page bestseller poet publisher"
          + " diary | adapts narrates writes reads publishes recounts | literary bestselling faithful epic written"
          + " celebrated"),
      Topic.of("comedy", "joke prank clown party mishap sitcom neighbor roommate wedding blunder gag sidekick | jokes"
          + " laughs pranks fumbles giggles teases | hilarious goofy silly witty clumsy cheerful"),
      Topic.of("action", "chase explosion agent mercenary helicopter heist showdown commando bomb rooftop convoy stunt"
          + " | chases fights escapes explodes rescues storms | explosive fearless relentless armed rapid daring"),
      Topic.of("twist ending", "secret clue identity reveal mystery stranger lie puzzle impostor double memory illusion"
          + " | hides deceives uncovers pretends conceals unravels | shocking hidden unexpected deceptive puzzling false"),
      Topic.of("dystopia", "regime surveillance rebellion ration wasteland curfew dictator bunker propaganda drone ruin"
          + " citizen | oppresses controls rebels monitors censors collapses | totalitarian bleak ruined oppressive"
          + " ashen grim"),
      Topic.of("dark comedy", "funeral corpse undertaker hitman cemetery coffin inheritance scheme accident poison"
          + " butler heir | buries schemes bungles poisons inherits mourns | morbid absurd macabre twisted deadpan"
          + " gloomy"),
      Topic.of("classic", "era studio legend ballroom orchestra matinee gentleman starlet newsreel carriage gramophone"
          + " telegram | waltzes bows serenades courts premieres endures | timeless elegant vintage golden silent"
          + " iconic"),
      Topic.of("psychology", "therapist mind trauma dream patient obsession anxiety asylum psyche hallucination"
          + " session doctor | analyzes obsesses dreams remembers suffers confronts | disturbed fragile paranoid"
          + " troubled obsessive unstable"),
      Topic.of("fantasy", "dragon wizard kingdom sword spell elf quest castle sorcerer prophecy amulet troll | enchants"
          + " conjures slays summons rules casts | magical enchanted mythical ancient mystic royal"),
      Topic.of("romance", "lover kiss heart date bride letter sweetheart proposal summer dance couple flirt | loves"
          + " kisses falls dates marries yearns | romantic tender passionate sweet heartfelt lovesick"),
      Topic.of("thought-provoking", "question meaning ethics truth choice existence philosopher conscience dilemma"
          + " time purpose soul | questions ponders reflects challenges wonders examines | profound moral philosophical"
          + " subtle haunting deep"),
      Topic.of("social commentary", "class poverty worker inequality factory union wage housing immigrant protest"
          + " landlord privilege | exposes protests struggles critiques strikes divides | unjust working systemic poor"
          + " urban wealthy"),
      Topic.of("violence", "gang blood knife gun brutality massacre revenge thug beating cartel feud killer | kills"
          + " stabs shoots attacks beats slaughters | brutal bloody savage vicious ruthless gory"),
      Topic.of("true story", "biography survivor veteran journalist record archive event documentary witness history"
          + " trial expedition | survives documents testifies recreates honors chronicles | real historical authentic"
          + " documented factual inspiring"));

  /** News kinds, index-aligned with LaMP_2N's categories; also the topics of headlines, reviews and tweets. */
  static final List<Topic> NEWS = List.of(
      Topic.of("travel", "airport beach hotel passport island resort flight tourist cruise luggage destination village"
          + " | travels visits flies books tours sails | scenic tropical remote coastal exotic affordable"),
      Topic.of("education", "school teacher student classroom exam campus curriculum tuition principal lesson degree"
          + " homework | teaches learns graduates studies enrolls tutors | academic public educational online gifted"
          + " early"),
      Topic.of("parents", "toddler baby mom dad nursery bedtime diaper sibling playground daycare tantrum newborn"
          + " | raises feeds soothes plays cries naps | parental sleepy playful tiny busy exhausted"),
      Topic.of("style & beauty", "fashion makeup dress hairstyle runway designer lipstick skincare outfit trend model"
          + " jewelry | wears styles designs glows pairs dresses | stylish chic glamorous trendy radiant fashionable"),
      Topic.of("entertainment", "celebrity singer album premiere actor concert award series tour fan star tabloid"
          + " | performs stars releases sings hosts announces | famous viral popular upcoming nominated starring"),
      Topic.of("food & drink", "recipe chef restaurant wine dessert kitchen flavor bakery coffee sauce menu cheese"
          + " | cooks bakes tastes serves grills brews | delicious spicy crispy savory fresh homemade"),
      Topic.of("science & technology", "scientist laboratory software smartphone algorithm telescope experiment chip"
          + " data researcher satellite battery | discovers develops measures computes invents upgrades | scientific"
          + " digital quantum wireless experimental technical"),
      Topic.of("business", "company market investor profit startup revenue merger stock executive bank shareholder"
          + " deal | invests acquires earns trades hires expands | financial corporate quarterly global profitable"
          + " economic"),
      Topic.of("sports", "team coach player championship league stadium season goal tournament athlete match trophy"
          + " | wins scores defeats trains competes signs | athletic undefeated competitive olympic final rival"),
      Topic.of("healthy living", "workout diet sleep yoga vitamin fitness meditation stress habit nutrition walk"
          + " wellness | exercises stretches relaxes hydrates breathes improves | healthy mindful balanced active"
          + " nutritious calm"),
      Topic.of("women", "woman equality feminist mother daughter sisterhood leader paycheck harassment gender career"
          + " ceiling | empowers leads advocates inspires demands breaks | female empowered equal courageous"
          + " independent pioneering"),
      Topic.of("politics", "senator election congress campaign vote president policy governor bill debate ballot"
          + " candidate | votes campaigns vetoes debates elects legislates | political partisan federal democratic"
          + " legislative presidential"),
      Topic.of("crime", "police robbery detective arrest court prison fraud victim burglar officer investigation"
          + " verdict | arrests steals charges investigates robs convicts | criminal guilty illegal suspicious fatal"
          + " stolen"),
      Topic.of("culture & arts", "museum painting gallery artist sculpture theater exhibition poetry opera dancer"
          + " festival canvas | paints exhibits sculpts curates composes sketches | artistic cultural classical abstract"
          + " creative contemporary"),
      Topic.of("religion", "church faith prayer pastor temple worship bible mosque pope monk ritual pilgrim | prays"
          + " worships preaches blesses believes fasts | religious spiritual sacred holy devout divine"));

  /** Research topics: scholarly abstracts and titles, citation titles. */
  static final List<Topic> RESEARCH = List.of(
      Topic.of("graphs", "graph node edge vertex network community partition walk subgraph neighborhood clustering"
          + " motif | | spectral sparse relational structural bipartite directed"),
      Topic.of("vision", "image pixel camera segmentation object scene video convolution detection frame texture"
          + " depth | | visual convolutional semantic dense stereo spatial"),
      Topic.of("language", "sentence word parser translation corpus grammar token dialogue summarization lexicon"
          + " syntax annotation | | linguistic multilingual syntactic lexical neural textual"),
      Topic.of("databases", "query index transaction table join schema storage replication cache log key workload"
          + " | | relational distributed transactional consistent columnar scalable"),
      Topic.of("security", "attack encryption malware password cipher protocol vulnerability intrusion firewall"
          + " signature privacy adversary | | secure cryptographic malicious adversarial private verifiable"),
      Topic.of("robotics", "robot manipulator gripper trajectory sensor actuator locomotion arm controller navigation"
          + " drone terrain | | autonomous mobile kinematic legged dexterous aerial"),
      Topic.of("optimization", "gradient solver convexity constraint objective iteration descent heuristic relaxation"
          + " bound schedule penalty | | convex stochastic combinatorial linear approximate adaptive"),
      Topic.of("biology", "protein gene cell genome sequence enzyme mutation tissue molecule pathway species bacteria"
          + " | | genomic cellular molecular clinical biological evolutionary"),
      Topic.of("networking", "packet router bandwidth latency switch congestion throughput link topology datacenter"
          + " spectrum channel | | wireless peer multicast optical lossy overlay"),
      Topic.of("interaction", "user interface gesture display usability touch survey participant prototype"
          + " visualization feedback accessibility | | interactive tangible usable immersive haptic collaborative"),
      Topic.of("theory", "proof theorem complexity automaton lemma reduction algorithm hardness oracle lattice circuit"
          + " game | | computational asymptotic deterministic randomized tight formal"),
      Topic.of("energy", "grid solar turbine power voltage charger emission fuel carbon load inverter microgrid | |"
          + " renewable electric thermal efficient smart hybrid"));

  /** Review sentiment by score 1..5: adjectives, and a closing sentence. */
  static final List<List<String>> SENTIMENT = List.of(
      words("terrible awful useless defective horrible dreadful"),
      words("poor flimsy mediocre cheap disappointing weak"),
      words("okay average decent acceptable ordinary fair"),
      words("good solid nice reliable sturdy pleasant"),
      words("excellent perfect amazing outstanding flawless superb"));
  static final List<String> SENTIMENT_CLOSING = List.of("i want a refund.", "i expected much more.",
      "it does the job.", "i would buy it again.", "i love it and recommend it to everyone.");

  // Personal styles of generation tasks.
  static final List<String> HEADLINE_PREFIXES = words("breaking exclusive watch opinion update analysis report alert"
      + " inside explainer");
  static final List<String> HEADLINE_SUFFIXES = words("today again finally now tonight officially already soon"
      + " anyway instantly");
  static final List<String> TITLE_PREFIXES = words("towards on revisiting learning rethinking beyond understanding"
      + " scaling exploring improving");
  static final List<String> TITLE_SUFFIXES = List.of("a survey", "at scale", "revisited", "in practice",
      "made simple", "for all", "with guarantees", "from scratch", "in the wild", "without labels");
  static final List<String> TWEET_OPENERS = words("wow honestly ugh lol omg yay hmm well okay seriously");
  static final List<String> TWEET_HASHTAGS = words("#mood #goals #tbt #blessed #nofilter #facts #winning"
      + " #sundayfunday #lifehacks #truestory");

  // Filler words shared by all texts.
  static final List<String> PLACES = words("city town country valley harbor capital region street desert forest");
  static final List<String> TIMES = words("monday tuesday wednesday thursday friday weekend morning evening night"
      + " winter");
  static final List<String> PEOPLE = words("officials experts residents critics viewers witnesses analysts friends"
      + " neighbors reporters");

  private Vocabulary() {}
}
