package aigw.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;
import software.amazon.awssdk.regions.PartitionMetadata;
import software.amazon.awssdk.regions.Region;

/**
 * Reads LiteLLM's {@code model_list} YAML:
 *
 * <pre>
 * model_list:
 *   - model_name: gpt-4o-mini             # the name clients use
 *     litellm_params:
 *       model: openai/gpt-4o-mini         # provider prefix / provider's model name
 *       api_base: https://api.openai.com/v1
 *       api_key: os.environ/OPENAI_API_KEY
 *       timeout: 120                      # seconds
 *       input_cost_per_token: 1.5e-07     # USD; optional, over the built-in price table
 *       output_cost_per_token: 6e-07
 * router_settings:
 *   timeout: 300                          # default for entries without one
 * </pre>
 */
public final class ModelList {
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);
  private static final Logger LOG = Logger.getLogger(ModelList.class.getName());
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final String ENV_PREFIX = "os.environ/";
  private static final Set<String> SUPPORTED_PARAMS =
      Set.of(
          "model", "api_base", "api_key", "timeout", "api_version", "rpm", "tpm", "weight", "stream_timeout",
          "aws_region_name", "aws_bedrock_runtime_endpoint",
          TokenPrices.INPUT, TokenPrices.OUTPUT, TokenPrices.CACHE_READ, TokenPrices.CACHE_WRITE);

  private ModelList() {}

  public static List<Deployment> empty() {
    return List.of();
  }

  /**
   * A whole config file as aigw reads it: the deployments and the router settings.
   *
   * @param deployments the {@code model_list} entries, in file order
   * @param router the {@code router_settings} aigw honours (retries, fallbacks, cooldowns)
   */
  public record Config(List<Deployment> deployments, RouterSettings router) {
    public static Config empty() {
      return new Config(List.of(), RouterSettings.defaults());
    }
  }

  public static List<Deployment> read(Path file, Map<String, String> env) {
    return readConfig(file, env).deployments();
  }

  public static List<Deployment> read(InputStream yaml, String origin, Map<String, String> env) {
    return readConfig(yaml, origin, env).deployments();
  }

  /** As {@link #read(Path, Map)}, with the router settings. */
  public static Config readConfig(Path file, Map<String, String> env) {
    return resolve(parse(file), env);
  }

  /** As {@link #read(InputStream, String, Map)}, with the router settings. */
  public static Config readConfig(InputStream yaml, String origin, Map<String, String> env) {
    return resolve(parse(yaml, origin), env);
  }

  /**
   * A model list file read as YAML, its {@code os.environ/} names not yet looked up: the half of
   * {@link #readConfig(Path, Map)} that needs no names, so that a Lambda init can read the file while
   * it reads the secret the names come from ({@code Gateway.fromEnvironment}).
   *
   * @param origin the file, as messages name it
   * @param root the document; null, missing or null node for an empty file
   */
  public record Parsed(String origin, JsonNode root) {}

  /**
   * Reads {@code file} as YAML.
   *
   * @throws InvalidConfig if it cannot be read or is not YAML
   */
  public static Parsed parse(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return parse(in, file.toString());
    } catch (IOException e) {
      throw new InvalidConfig("cannot read the model list " + file + ": " + e.getMessage(), e);
    }
  }

  /** As {@link #parse(Path)}; {@code origin} names the stream in messages. */
  public static Parsed parse(InputStream yaml, String origin) {
    try {
      return new Parsed(origin, YAML.readTree(yaml));
    } catch (IOException e) {
      throw new InvalidConfig(origin + " is not valid YAML: " + e.getMessage(), e);
    }
  }

  /**
   * The deployments and router settings of a parsed model list, {@code os.environ/NAME} values
   * looked up in {@code env}.
   *
   * @throws InvalidConfig if the document is not a valid model list
   */
  public static Config resolve(Parsed parsed, Map<String, String> env) {
    String origin = parsed.origin();
    JsonNode root = parsed.root();
    if (root == null || root.isMissingNode() || root.isNull()) {
      return Config.empty();
    }
    if (!root.isObject()) {
      throw new InvalidConfig(origin + ": the top level must be a mapping with a model_list");
    }
    LiteLlmSettings.warnAboutIgnored(root, origin, LOG);
    Duration defaultTimeout = seconds(root.path("router_settings").path("timeout"), DEFAULT_TIMEOUT, origin);
    JsonNode list = root.path("model_list");
    var deployments = new ArrayList<Deployment>();
    if (!list.isMissingNode() && !list.isNull()) {
      if (!list.isArray()) {
        throw new InvalidConfig(origin + ": model_list must be a list");
      }
      for (int i = 0; i < list.size(); i++) {
        deployments.add(entry(list.get(i), origin + ": model_list[" + i + "]", defaultTimeout, env));
      }
    }
    return new Config(List.copyOf(deployments), RouterSettings.read(root, deployments, origin));
  }

  private static Deployment entry(JsonNode entry, String where, Duration defaultTimeout, Map<String, String> env) {
    String modelName = requiredText(entry, "model_name", where);
    JsonNode params = entry.path("litellm_params");
    if (!params.isObject()) {
      throw new InvalidConfig(where + " (" + modelName + "): litellm_params is required");
    }
    params.fieldNames()
        .forEachRemaining(
            name -> {
              if (!SUPPORTED_PARAMS.contains(name)) {
                LOG.warning(where + " (" + modelName + "): litellm_params." + name + " is not supported yet and is ignored");
              }
            });
    TokenPrices prices = prices(params, where + " (" + modelName + ")");
    String model = requiredText(params, "model", where + ".litellm_params");
    int slash = model.indexOf('/');
    if (slash <= 0 || slash == model.length() - 1) {
      throw new InvalidConfig(
          where + " (" + modelName + "): litellm_params.model must be <provider>/<model>, e.g. openai/gpt-4o-mini; got '" + model + "'");
    }
    String prefix = model.substring(0, slash);
    Provider provider =
        Provider.forPrefix(prefix)
            .orElseThrow(
                () ->
                    new InvalidConfig(
                        where + " (" + modelName + "): provider '" + prefix + "' is not supported yet; supported: " + Provider.knownPrefixes()));
    if (provider == Provider.BEDROCK) {
      return bedrock(modelName, model.substring(slash + 1), params, where, defaultTimeout, env).withPrices(prices);
    }
    String baseSource = text(params, "api_base");
    String apiBase = resolve(baseSource, where + ".api_base", env);
    if (apiBase == null) {
      apiBase = provider.defaultApiBase().orElse(null);
    }
    boolean baseFromEnvironment = baseSource != null && baseSource.startsWith(ENV_PREFIX);
    if (apiBase == null) {
      if (!baseFromEnvironment) {
        throw new InvalidConfig(where + " (" + modelName + "): provider '" + prefix + "' needs api_base");
      }
      // Not a start error: on AWS the variable comes from the provider credentials secret, which the
      // first deploy creates empty and which is read again at the call (ProviderCredentials).
      LOG.warning(where + " (" + modelName + "): " + baseSource + " (api_base) is not set; calls to this deployment will fail until it is");
    }
    String keySource = text(params, "api_key");
    if (keySource != null && !keySource.startsWith(ENV_PREFIX) && !keySource.isBlank()) {
      // LiteLLM takes it too, but a key in a file ends up in repositories, images and the Lambda layer.
      LOG.warning(
          where + " (" + modelName + "): litellm_params.api_key is written in the file (" + aigw.core.keys.ApiKeys.mask(keySource)
              + "). Anyone who can read the file, or the layer it is packaged in, has the key: put it in an environment"
              + " variable (on AWS, the provider credentials secret) and write api_key: os.environ/NAME.");
    }
    String apiKey = resolve(keySource, where + ".api_key", env);
    if (keySource != null && apiKey == null) {
      LOG.warning(
          where + " (" + modelName + "): " + keySource + " is not set; calls to this deployment will fail until it is");
    }
    String versionSource = text(params, "api_version");
    return new Deployment(
        modelName,
        provider,
        model.substring(slash + 1),
        apiBase == null ? null : apiBase(provider, apiBase, where),
        apiKey,
        keySource == null ? null : keySource.startsWith(ENV_PREFIX) ? keySource : "litellm_params.api_key",
        seconds(params.path("timeout"), defaultTimeout, where),
        baseFromEnvironment ? baseSource : null,
        apiVersion(provider, resolve(versionSource, where + ".api_version", env), where + " (" + modelName + ")"),
        versionSource != null && versionSource.startsWith(ENV_PREFIX) ? versionSource : null)
        .withPrices(prices);
  }

  /**
   * The deployment's own prices, LiteLLM's {@code litellm_params} fields: {@code
   * input_cost_per_token}, {@code output_cost_per_token}, {@code cache_read_input_token_cost},
   * {@code cache_creation_input_token_cost} (USD per token). A wrong one stops the start, rather
   * than every call being priced wrong.
   *
   * @throws InvalidConfig naming the deployment and the field, for a value that is not a price ({@link TokenPrices#price})
   */
  private static TokenPrices prices(JsonNode params, String named) {
    return new TokenPrices(
        price(params, TokenPrices.INPUT, named),
        price(params, TokenPrices.OUTPUT, named),
        price(params, TokenPrices.CACHE_READ, named),
        price(params, TokenPrices.CACHE_WRITE, named));
  }

  private static java.math.BigDecimal price(JsonNode params, String field, String named) {
    JsonNode value = params.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isNumber() && !value.isTextual()) {
      throw new InvalidConfig(named + ": litellm_params." + field + " must be a number of USD per token, e.g. 2.5e-06");
    }
    try {
      // A YAML float is read as a double: its decimalValue() is the shortest decimal that reads back
      // as it, i.e. the number as written (2.5e-06, not 2.4999999999999998e-06).
      return TokenPrices.price(value.isNumber() ? value.decimalValue() : value.asText());
    } catch (IllegalArgumentException e) {
      throw new InvalidConfig(named + ": litellm_params." + field + " " + e.getMessage());
    }
  }

  /**
   * A {@code bedrock/<model id>} entry. No key: calls are signed with the process's AWS credentials.
   * The region is {@code aws_region_name}, else the environment's {@code AWS_REGION} (set by Lambda)
   * or {@code AWS_DEFAULT_REGION}, as LiteLLM and the AWS SDKs resolve it; the URL is {@code
   * aws_bedrock_runtime_endpoint} (LiteLLM's name, for VPC endpoints, proxies and tests), else
   * {@code api_base}, else Bedrock's regional endpoint {@code https://bedrock-runtime.<region>.<DNS suffix>}, the
   * suffix being the region's partition's ({@code amazonaws.com}; {@code amazonaws.com.cn} in China), as the
   * AWS SDK's bundled partition list names it.
   *
   * @throws InvalidConfig when no region is known, or the region or endpoint is malformed
   */
  private static Deployment bedrock(
      String modelName, String modelId, JsonNode params, String where, Duration defaultTimeout, Map<String, String> env) {
    String named = where + " (" + modelName + ")";
    String region = resolve(text(params, "aws_region_name"), where + ".aws_region_name", env);
    if (region == null || region.isBlank()) {
      region = env.getOrDefault("AWS_REGION", env.get("AWS_DEFAULT_REGION"));
    }
    if (region == null || region.isBlank()) {
      throw new InvalidConfig(named + ": a bedrock model needs litellm_params.aws_region_name (or AWS_REGION in the environment)");
    }
    region = region.strip();
    // The region becomes part of a host name and of the signature scope: letters, digits and dashes only.
    if (!region.matches("[a-z]{2}(-[a-z0-9]+)+")) {
      throw new InvalidConfig(named + ": aws_region_name '" + region + "' is not an AWS region such as us-east-1");
    }
    String endpointSource = text(params, "aws_bedrock_runtime_endpoint");
    String baseName = "aws_bedrock_runtime_endpoint";
    if (endpointSource == null) {
      endpointSource = text(params, "api_base");
      baseName = "api_base";
    }
    String endpoint = resolve(endpointSource, where + "." + baseName, env);
    if (endpointSource != null && endpoint == null) {
      // A private endpoint was meant: calling the public one instead would leave the VPC unnoticed.
      throw new InvalidConfig(named + ": " + endpointSource + " (" + baseName + ") is not set");
    }
    if (endpoint == null) {
      endpoint = "https://bedrock-runtime." + region + "." + dnsSuffix(region);
    }
    if (text(params, "api_key") != null) {
      LOG.warning(named + ": litellm_params.api_key is ignored for bedrock models; calls are signed with the function's IAM role");
    }
    return new Deployment(
        modelName,
        Provider.BEDROCK,
        modelId,
        uri(endpoint, where + "." + baseName),
        null,
        null,
        seconds(params.path("timeout"), defaultTimeout, where),
        null,
        null,
        null,
        region);
  }

  /**
   * The DNS suffix of the partition a region belongs to ({@code cn-north-1}: {@code amazonaws.com.cn}),
   * from the SDK's partition list, which matches regions it does not know by each partition's region
   * pattern (and falls back to the commercial {@code amazonaws.com}).
   */
  static String dnsSuffix(String region) {
    return PartitionMetadata.of(Region.of(region)).dnsSuffix();
  }

  /**
   * {@code litellm_params.api_version}, once resolved (an {@code os.environ/NAME} is read like {@code
   * api_base}: here, and on AWS again at the call by {@code ProviderCredentials}), or null when
   * absent or blank. For Azure OpenAI it is checked, so that a typo stops the start instead of every
   * call answering 404: {@code v1}, {@code latest}, {@code preview} or a dated version ({@code
   * YYYY-MM-DD}, optionally {@code -preview}), as Azure publishes them. Other providers ignore it.
   *
   * @throws InvalidConfig for a value Azure OpenAI does not have
   */
  public static String apiVersion(Provider provider, String version, String where) {
    if (version == null || version.isBlank()) {
      return null;
    }
    version = version.strip();
    if (provider == Provider.AZURE && !aigw.core.providers.azure.AzureApiVersion.isValid(version)) {
      throw new InvalidConfig(
          where + ": litellm_params.api_version '" + version + "' is not an Azure OpenAI API version: write v1 (the v1 API),"
              + " or a dated version such as 2024-10-21 or 2025-04-01-preview");
    }
    return version;
  }

  /** {@code os.environ/NAME} reads the environment; anything else is taken literally. */
  private static String resolve(String value, String where, Map<String, String> env) {
    if (value == null) {
      return null;
    }
    if (value.startsWith(ENV_PREFIX)) {
      String found = env.get(value.substring(ENV_PREFIX.length()));
      return found == null || found.isBlank() ? null : found.trim();
    }
    return value;
  }

  /**
   * The base URL calls go to, from an {@code api_base} value (written in the file, from the
   * environment or, on AWS, from the provider credentials secret at the call).
   *
   * @throws InvalidConfig when it is not an http(s) URL
   */
  public static URI apiBase(Provider provider, String value, String where) {
    if (provider == Provider.AZURE) {
      // Azure OpenAI's v1 API lives under /openai/v1 of the resource endpoint LiteLLM users configure;
      // an api_base that already ends in /openai or /openai/v1 is not given a second one.
      value = value.replaceAll("/+$", "").replaceAll("/openai(/v1)?$", "") + "/openai/v1";
    }
    return uri(value, where);
  }

  private static URI uri(String value, String where) {
    try {
      URI uri = new URI(value.replaceAll("/+$", ""));
      if (!"https".equals(uri.getScheme()) && !"http".equals(uri.getScheme())) {
        throw new InvalidConfig(where + ": api_base must be an http(s) URL, got '" + value + "'");
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new InvalidConfig(where + ": api_base is not a URL: " + value, e);
    }
  }

  private static Duration seconds(JsonNode node, Duration fallback, String where) {
    if (node.isMissingNode() || node.isNull()) {
      return fallback;
    }
    if (!node.isNumber() && !(node.isTextual() && node.asText().matches("\\d+(\\.\\d+)?"))) {
      throw new InvalidConfig(where + ": timeout must be a number of seconds");
    }
    Duration timeout = Duration.ofMillis(Math.round(node.asDouble() * 1000));
    if (timeout.isZero() || timeout.isNegative()) {
      throw new InvalidConfig(where + ": timeout must be more than 0 seconds");
    }
    return timeout;
  }

  private static String requiredText(JsonNode node, String field, String where) {
    String value = text(node, field);
    if (value == null || value.isBlank()) {
      throw new InvalidConfig(where + ": " + field + " is required");
    }
    return value;
  }

  private static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? null : value.asText();
  }
}
