package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import aigw.core.json.Json;
import aigw.core.testing.RepoFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the examples of README.md and docs/*.md against a started local gateway whose models answer
 * from a loopback stub provider, so that a doc that disagrees with the code fails the build.
 *
 * <ul>
 *   <li>Every {@code ```bash} or {@code ```sh} block runs, command by command, on a gateway of its
 *       own (so examples that create the same alias do not collide). {@code curl} against
 *       {@code http://127.0.0.1:3000} or {@code $API_URL} is sent as curl would send it
 *       ({@code $MASTER_KEY} and {@code sk-development-only} are the master key; a placeholder such as
 *       {@code <key or hash>} or {@code sk-…virtual key…} is a virtual key made for the command). A
 *       comment {@code # -> 404 …} after a command is the status it must answer (2xx otherwise), and
 *       the {@code "fields":} it shows must be in the answer. {@code java -jar
 *       local/target/aigw-local.jar invoke …} runs the command line on the block's own data
 *       directory and must print a 2xx response; {@code java -jar local/target/aigw-local.jar
 *       [serve] …} must parse; {@code export} is skipped.
 *   <li>A block with anything else (AWS CLI, SAM, the build) must say why it cannot run here, in an
 *       HTML comment right before it: {@code <!-- not-run: needs AWS -->}.
 *   <li>Each {@code ```json} example of docs/api.md under a route heading is compared with the
 *       route's real answer: every field it shows must be there.
 *   <li>docs/configuration.md's copy of the usage text is {@link LocalOptions#USAGE}.
 * </ul>
 */
class DocsExamplesTest {
  static final String MASTER = "sk-docs-examples-master-key-0123456789";
  private static final Pattern NOT_RUN = Pattern.compile("<!--\\s*not-run:\\s*(.+?)\\s*-->");
  /** What the docs write where a virtual key goes: {@code <key>}, {@code <key or hash>}, {@code sk-…the virtual key…}. */
  private static final Pattern KEY_PLACEHOLDER = Pattern.compile("<[^<>\"']*key[^<>\"']*>|sk-…[^\"']*?…");
  private static final Pattern DOC_FIELD = Pattern.compile("\"([a-z_]+)\"\\s*:");
  private static final String COMPLETION =
      """
      {"id": "chatcmpl-docs", "object": "chat.completion", "created": 1767000000, "model": "gpt-4o-mini",
       "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
      """;
  private static final String EMBEDDING =
      """
      {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}], "model": "text-embedding-3-small",
       "usage": {"prompt_tokens": 2, "total_tokens": 2}}
      """;

  @TempDir static Path dir;
  private static WireMockServer provider;
  private static Path config;
  private static final HttpClient http = HttpClient.newHttpClient();

  /** One fenced block: where it is, its language, its text, the heading above it and its not-run reason. */
  record Block(String file, int line, String language, String text, String heading, String notRun) {
    String where() {
      return file + ":" + line;
    }
  }

  @BeforeAll
  static void startProvider() throws IOException {
    provider = aigw.core.testing.Upstream.start();
    provider.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    provider.stubFor(post("/v1/embeddings").willReturn(okJson(EMBEDDING)));
    config = dir.resolve("models.yaml");
    // The model names the docs use, all on the stub.
    var models = new StringBuilder("model_list:\n");
    for (String name : List.of("gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "llama3.2")) {
      models.append("  - model_name: ").append(name).append('\n')
          .append("    litellm_params: {model: openai/").append(name).append(", api_base: \"").append(provider.baseUrl())
          .append("/v1\", api_key: os.environ/DOCS_PROVIDER_KEY}\n");
    }
    Files.writeString(config, models);
  }

  @AfterAll
  static void stopProvider() {
    provider.stop();
  }

  static List<Block> blocks() throws IOException {
    var files = new ArrayList<Path>();
    files.add(RepoFiles.resolve("README.md"));
    try (var docs = Files.list(RepoFiles.resolve("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
    }
    var blocks = new ArrayList<Block>();
    for (Path file : files) {
      String name = RepoFiles.root().relativize(file).toString();
      List<String> lines = Files.readAllLines(file);
      String heading = "";
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i);
        if (line.startsWith("#")) {
          heading = line;
        }
        String fence = line.strip();
        if (!fence.startsWith("```")) {
          continue;
        }
        String language = fence.substring(3).strip();
        int start = i;
        var text = new StringBuilder();
        for (i++; i < lines.size() && !lines.get(i).strip().startsWith("```"); i++) {
          text.append(lines.get(i)).append('\n');
        }
        String notRun = null;
        for (int j = start - 1; j >= 0 && j >= start - 3; j--) {
          Matcher m = NOT_RUN.matcher(lines.get(j));
          if (m.find()) {
            notRun = m.group(1);
            break;
          }
          if (!lines.get(j).isBlank()) {
            break;
          }
        }
        blocks.add(new Block(name, start + 1, language, text.toString(), heading, notRun));
      }
    }
    return blocks;
  }

  @TestFactory
  Stream<DynamicTest> everyShellExampleRunsAgainstTheLocalGateway() throws IOException {
    var shell = blocks().stream().filter(b -> b.language().equals("bash") || b.language().equals("sh")).toList();
    assertThat(shell).as("shell examples found").hasSizeGreaterThan(5);
    // Keep the not-run set to what truly cannot run here: AWS, and the build that runs this test.
    assertThat(shell.stream().filter(b -> b.notRun() != null))
        .allSatisfy(b -> assertThat(b.notRun()).as(b.where()).matches("needs AWS.*|builds the project.*"));
    return shell.stream().filter(b -> b.notRun() == null).map(b -> DynamicTest.dynamicTest(b.where(), () -> run(b)));
  }

  private static void run(Block block) throws Exception {
    List<Command> commands = Shell.parse(block.text());
    for (Command command : commands) {
      if (!runnable(command)) {
        fail(block.where() + ": '" + String.join(" ", command.words()) + "' cannot run in this test; if it cannot run"
            + " here at all, put <!-- not-run: the reason --> on the line before the block");
      }
    }
    Path data = Files.createTempDirectory(dir, "block-");
    LocalGateway gateway = null;
    try {
      for (Command command : commands) {
        List<String> words = command.words();
        switch (words.get(0)) {
          case "export" -> {} // the environment of the reader's shell: nothing to check here
          case "curl" -> {
            if (gateway == null) {
              gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "DOCS_PROVIDER_KEY", "sk-stub")));
            }
            curl(block, gateway, command);
          }
          default -> java(block, words, data);
        }
      }
    } finally {
      if (gateway != null) {
        gateway.close();
      }
    }
  }

  private static boolean runnable(Command command) {
    List<String> words = command.words();
    return switch (words.get(0)) {
      case "export" -> true;
      case "curl" -> !command.unsupported() && words.stream().anyMatch(w -> w.startsWith("http://127.0.0.1:3000") || w.startsWith("$API_URL"));
      case "java" -> !command.unsupported() && words.contains("-jar") && words.get(words.indexOf("-jar") + 1).equals("local/target/aigw-local.jar");
      default -> false;
    };
  }

  /** {@code java [jvm options] -jar local/target/aigw-local.jar ARGS}: invoke runs, anything else must parse. */
  private static void java(Block block, List<String> words, Path data) throws Exception {
    var args = new ArrayList<>(words.subList(words.indexOf("-jar") + 2, words.size()));
    for (int i = 0; i + 1 < args.size(); i++) {
      if (args.get(i).equals("--event") || (args.get(i).equals("--config") && Files.exists(RepoFiles.resolve(args.get(i + 1))))) {
        args.set(i + 1, RepoFiles.resolve(args.get(i + 1)).toString()); // the docs run from the repository's root
      }
    }
    if (args.isEmpty() || !args.get(0).equals("invoke")) {
      LocalOptions.parse(args.toArray(String[]::new), Map.of()); // throws on a flag the docs got wrong
      return;
    }
    args.addAll(List.of("--data-dir", data.toString())); // never the repository's .aigw/data
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    PrintStream stderr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int exit;
    try {
      exit = Main.invoke(LocalOptions.parse(args.toArray(String[]::new), Map.of()));
    } finally {
      System.setOut(stdout);
      System.setErr(stderr);
    }
    String printed = out.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(block.where() + ": " + String.join(" ", words) + "\n" + err.toString(StandardCharsets.UTF_8)).isZero();
    JsonNode response = Json.MAPPER.readTree(printed);
    if (response.has("statusCode")) {
      assertThat(response.get("statusCode").asInt()).as(block.where() + ": " + String.join(" ", words) + "\n" + printed).isBetween(200, 299);
    }
  }

  private static void curl(Block block, LocalGateway gateway, Command command) throws Exception {
    String base = gateway.baseUrl().toString();
    String url = null;
    String method = null;
    String body = null;
    var headers = new LinkedHashMap<String, String>();
    List<String> words = command.words();
    for (int i = 1; i < words.size(); i++) {
      String word = words.get(i);
      switch (word) {
        case "-s", "-S", "-sS", "-si", "-i", "--include", "-v", "-N", "--no-buffer", "--silent", "--fail", "-f", "--fail-with-body" -> {} // output only
        case "-X", "--request" -> method = words.get(++i);
        case "-H", "--header" -> {
          String header = words.get(++i);
          int colon = header.indexOf(':');
          headers.put(header.substring(0, colon).strip(), header.substring(colon + 1).strip());
        }
        case "-d", "--data", "--data-raw" -> body = words.get(++i);
        default -> {
          if (word.startsWith("-")) {
            fail(block.where() + ": curl option " + word + " is not known to this test; teach it");
          }
          url = word;
        }
      }
    }
    assertThat(url).as(block.where() + ": a curl without a URL").isNotNull();
    url = url.replace("http://127.0.0.1:3000", base).replace("$API_URL", base);
    if (body != null && !headers.containsKey("Content-Type")) {
      headers.put("Content-Type", "application/x-www-form-urlencoded"); // what curl -d sends
    }
    var request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20));
    for (var header : headers.entrySet()) {
      request.header(header.getKey(), substitute(header.getValue(), gateway));
    }
    String sent = body == null ? null : substitute(body, gateway);
    request.method(method != null ? method : body != null ? "POST" : "GET",
        sent == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(sent));
    HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    String what = block.where() + ": " + String.join(" ", words) + "\n-> " + response.statusCode() + " " + response.body();
    String expected = command.expected();
    int status = 0;
    if (expected != null) {
      Matcher statusText = Pattern.compile("^(\\d{3})\\b").matcher(expected);
      if (statusText.find()) {
        status = Integer.parseInt(statusText.group(1));
      }
    }
    if (status != 0) {
      assertThat(response.statusCode()).as(what).isEqualTo(status);
    } else {
      assertThat(response.statusCode()).as(what).isBetween(200, 299);
    }
    if (expected != null) {
      JsonNode answer = Json.MAPPER.readTree(response.body());
      JsonNode fields = answer.has("error") ? answer.get("error") : answer;
      Matcher field = DOC_FIELD.matcher(expected);
      while (field.find()) {
        if (!field.group(1).equals("error")) {
          assertThat(fields.has(field.group(1))).as(what + "\nthe documented field '" + field.group(1) + "'").isTrue();
        }
      }
    }
  }

  /** The master key for {@code $MASTER_KEY} and the development key; a new virtual key for a placeholder. */
  private static String substitute(String text, LocalGateway gateway) throws Exception {
    String result = text.replace("$MASTER_KEY", MASTER).replace("$AIGW_MASTER_KEY", MASTER).replace("sk-development-only", MASTER);
    Matcher placeholder = KEY_PLACEHOLDER.matcher(result);
    var out = new StringBuilder();
    while (placeholder.find()) {
      String key = placeholder.group().contains("old key") ? rotatedKeysHash(gateway) : newVirtualKey(gateway);
      placeholder.appendReplacement(out, Matcher.quoteReplacement(key));
    }
    placeholder.appendTail(out);
    return out.toString();
  }

  /** "the old key or its hash": the hash of a key the rotation schedule rotated, its new value waiting for /key/retrieve. */
  private static String rotatedKeysHash(LocalGateway gateway) throws Exception {
    var response = send(gateway, "POST", "/key/generate", MASTER, "{\"auto_rotate\": true, \"rotation_interval\": \"1s\", \"grace_period\": \"1s\"}");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    Thread.sleep(2_100); // key_rotation_at is whole seconds
    assertThat(gateway.runKeyRotationSchedule()).containsEntry("rotated", 1);
    return Json.MAPPER.readTree(response.body()).get("token").asText();
  }

  private static String newVirtualKey(LocalGateway gateway) throws Exception {
    var response = http.send(
        HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/key/generate"))
            .header("Authorization", "Bearer " + MASTER).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body()).get("key").asText();
  }

  /**
   * docs/api.md's JSON examples: each one under a route heading ({@code ### `POST /key/generate`})
   * is compared with that route's real answer to the request below; the error envelope with a real
   * error. A new example under another route needs a request here (the test says so).
   */
  @Test
  void everyJsonExampleOfTheApiDocShowsFieldsTheGatewayAnswersWith() throws Exception {
    var requests = Map.of(
        "GET /v1/models", "",
        "GET /v1/models/{id}", "",
        "POST /key/generate",
        "{\"key_alias\": \"my-app\", \"models\": [\"gpt-4o-mini\"], \"duration\": \"30d\", \"auto_rotate\": true,"
            + " \"rotation_interval\": \"30d\", \"grace_period\": \"1d\", \"rotation_secret\": \"aigw/keys/my-app\"}",
        "POST /key/regenerate", "{\"key\": \"$KEY\", \"grace_period\": \"1h\"}",
        "POST /key/retrieve", "{\"key\": \"$KEY\"}",
        "POST /team/new", "{\"team_alias\": \"Machine learning\", \"models\": [\"gpt-4o-mini\"], \"max_budget\": 25, \"rpm_limit\": 60}",
        "POST /v1/messages", "{\"model\": \"gpt-9\", \"max_tokens\": 10, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
    var examples = blocks().stream().filter(b -> b.file().equals("docs/api.md") && b.language().equals("json")).toList();
    assertThat(examples).isNotEmpty();
    try (var gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "DOCS_PROVIDER_KEY", "sk-stub")))) {
      for (Block example : examples) {
        if (example.notRun() != null) {
          continue;
        }
        Set<String> documented = new LinkedHashSet<>();
        Matcher field = DOC_FIELD.matcher(example.text());
        while (field.find()) {
          documented.add(field.group(1));
        }
        JsonNode answer;
        if (example.heading().startsWith("## Errors")) {
          answer = Json.MAPPER.readTree(send(gateway, "POST", "/key/generate", MASTER, "{\"foo\": 1}").body());
        } else {
          Matcher route = Pattern.compile("`(GET|POST) (/[^` ]*)`").matcher(example.heading());
          assertThat(route.find()).as(example.where() + ": a JSON example under a heading that names no route; mark it"
              + " <!-- not-run: why --> or put it under its route").isTrue();
          String name = route.group(1) + " " + route.group(2);
          assertThat(requests).as(example.where() + ": no request known for " + name + "; add one to this test").containsKey(name);
          String key = name.startsWith("GET /v1") ? newVirtualKey(gateway) : MASTER;
          String body = requests.get(name).replace("$KEY", newVirtualKey(gateway));
          // An error example under a route shows that route's refusal: here, a model nobody serves.
          boolean error = example.text().contains("\"error\"");
          String path = route.group(2).replace("{id}", error ? "gpt-9" : "gpt-4o-mini");
          var response = send(gateway, route.group(1), path, key, body.isEmpty() ? null : body);
          assertThat(response.statusCode() < 400).as(example.where() + ": " + name + " -> " + response.body()).isEqualTo(!error);
          answer = Json.MAPPER.readTree(response.body());
        }
        Set<String> actual = new LinkedHashSet<>();
        collectFields(answer, actual);
        assertThat(actual).as(example.where() + ": fields the example shows that the answer lacks").containsAll(documented);
      }
    }
  }

  private static void collectFields(JsonNode node, Set<String> into) {
    if (node.isObject()) {
      node.fieldNames().forEachRemaining(into::add);
      node.elements().forEachRemaining(child -> collectFields(child, into));
    } else if (node.isArray()) {
      node.elements().forEachRemaining(child -> collectFields(child, into));
    }
  }

  private static HttpResponse<String> send(LocalGateway gateway, String method, String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /**
   * The error table of docs/api.md: each admin example message that quotes the value it got
   * ({@code got '5x'}) is sent to {@code /key/generate} in the row's field and must come back as
   * written, with the row's status and param.
   */
  @Test
  void theApiDocsAdminErrorMessagesAreTheOnesTheGatewaySends() throws Exception {
    String doc = Files.readString(RepoFiles.resolve("docs/api.md"));
    Pattern row = Pattern.compile("^\\| Admin:[^|]*\\| (\\d{3}) \\| `([a-z_]+)` \\| `([a-z_]+)` \\| (.*) \\|$", Pattern.MULTILINE);
    Pattern example = Pattern.compile("`([^`]*got '([^']*)'[^`]*)`");
    int checked = 0;
    try (var gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "DOCS_PROVIDER_KEY", "sk-stub")))) {
      Matcher rows = row.matcher(doc);
      while (rows.find()) {
        Matcher examples = example.matcher(rows.group(4));
        while (examples.find()) {
          String body = Json.MAPPER.writeValueAsString(Map.of(rows.group(3), examples.group(2)));
          var response = send(gateway, "POST", "/key/generate", MASTER, body);
          JsonNode error = Json.MAPPER.readTree(response.body()).path("error");
          String what = "docs/api.md: " + rows.group(0) + "\n" + body + " -> " + response.statusCode() + " " + response.body();
          assertThat(response.statusCode()).as(what).isEqualTo(Integer.parseInt(rows.group(1)));
          assertThat(error.path("type").asText()).as(what).isEqualTo(rows.group(2));
          assertThat(error.path("param").asText()).as(what).isEqualTo(rows.group(3));
          assertThat(error.path("message").asText()).as(what).isEqualTo(examples.group(1));
          checked++;
        }
      }
    }
    assertThat(checked).as("admin error examples found in docs/api.md").isPositive();
  }

  @Test
  void theUsageInTheConfigurationDocIsTheOneTheCommandPrints() throws IOException {
    String doc = Files.readString(RepoFiles.resolve("docs/configuration.md"));
    int start = doc.indexOf("From `LocalOptions.USAGE`:");
    assertThat(start).as("docs/configuration.md quotes LocalOptions.USAGE").isNotNegative();
    int open = doc.indexOf("```\n", start) + 4;
    String quoted = doc.substring(open, doc.indexOf("```", open));
    assertThat(quoted.strip()).isEqualTo(LocalOptions.USAGE.strip());
  }

  /** A command of an example: its words after quote removal, and the {@code # -> …} comment after it. */
  record Command(List<String> words, String expected, boolean unsupported) {}

  /**
   * Just enough of a POSIX shell to split the docs' examples: quotes, backslash-newline, comments,
   * commands separated by newlines, {@code ;} and {@code &&}. Command substitution and pipes make a
   * command unsupported (such a block needs a not-run mark).
   */
  static final class Shell {
    static List<Command> parse(String text) {
      var commands = new ArrayList<Command>();
      var words = new ArrayList<String>();
      var word = new StringBuilder();
      boolean inWord = false;
      boolean unsupported = false;
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (c == '\\' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
          i++;
          continue;
        }
        if (c == '\'') {
          int end = text.indexOf('\'', i + 1);
          word.append(text, i + 1, end);
          i = end;
          inWord = true;
        } else if (c == '"') {
          int j = i + 1;
          for (; text.charAt(j) != '"'; j++) {
            if (text.charAt(j) == '\\' && "\"\\$`".indexOf(text.charAt(j + 1)) >= 0) {
              j++;
            }
            word.append(text.charAt(j));
            if (text.charAt(j) == '$' && text.charAt(j + 1) == '(') {
              unsupported = true;
            }
          }
          i = j;
          inWord = true;
        } else if (c == '#' && !inWord) {
          int end = text.indexOf('\n', i);
          String comment = text.substring(i + 1, end < 0 ? text.length() : end).strip();
          if (comment.startsWith("->") && words.isEmpty() && !commands.isEmpty()) {
            var last = commands.remove(commands.size() - 1);
            commands.add(new Command(last.words(), comment.substring(2).strip(), last.unsupported()));
          }
          i = (end < 0 ? text.length() : end) - 1;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == ';' || (c == '&' && i + 1 < text.length() && text.charAt(i + 1) == '&')) {
          if (inWord) {
            words.add(word.toString());
            word.setLength(0);
            inWord = false;
          }
          if (c == '&') {
            i++;
          }
          if (c != ' ' && c != '\t' && !words.isEmpty()) {
            commands.add(new Command(List.copyOf(words), null, unsupported));
            words.clear();
            unsupported = false;
          }
        } else {
          if (c == '|' || (c == '$' && i + 1 < text.length() && text.charAt(i + 1) == '(') || c == '`' || c == '>' || c == '<') {
            unsupported = true;
          }
          word.append(c);
          inWord = true;
        }
      }
      if (inWord) {
        words.add(word.toString());
      }
      if (!words.isEmpty()) {
        commands.add(new Command(List.copyOf(words), null, unsupported));
      }
      return commands;
    }
  }
}
