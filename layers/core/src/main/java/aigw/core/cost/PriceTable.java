package aigw.core.cost;

import aigw.core.config.Deployment;
import aigw.core.config.TokenPrices;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Prices of common models, by LiteLLM's model names: the built-in table ({@code
 * aigw/core/cost/model_prices.json}, copied from LiteLLM's {@code model_prices_and_context_window.json};
 * the file names its source and date). Immutable; read once per container (it is code, not
 * configuration: nothing in it goes stale in a SnapStart snapshot).
 */
public final class PriceTable {
  private static final String RESOURCE = "/aigw/core/cost/model_prices.json";

  private final Map<String, TokenPrices> byModel;

  private PriceTable(Map<String, TokenPrices> byModel) {
    this.byModel = Map.copyOf(byModel);
  }

  public static PriceTable of(Map<String, TokenPrices> byModel) {
    return new PriceTable(byModel);
  }

  /** The table that ships with the gateway. */
  public static PriceTable builtIn() {
    return BuiltIn.TABLE;
  }

  /**
   * The prices of the deployment's model, looked up as LiteLLM does: {@code <provider>/<model>}
   * first ({@code gemini/gemini-2.5-pro}, {@code bedrock/us.anthropic…}), then the model alone
   * ({@code gpt-4o}, {@code claude-sonnet-4-5}, {@code global.anthropic.claude-haiku-4-5-20251001-v1:0}).
   *
   * <p>A Bedrock model the table does not name is then looked up as LiteLLM's Bedrock cost lookup
   * does (its {@code BedrockModelInfo.get_base_model}): the id taken out of an inference-profile
   * ARN, then without its geography prefix ({@code us.}, {@code eu.}, {@code apac.}, {@code jp.},
   * {@code au.}, {@code ca.}, {@code us-gov.}, {@code global.}), and for Claude the Anthropic model it
   * serves ({@code anthropic.claude-sonnet-4-5-20250929-v1:0} → {@code claude-sonnet-4-5-20250929}),
   * whose list price is Bedrock's global price. AWS charges 10 % more for the regional profiles of
   * Claude models from Sonnet 4.5 on (https://aws.amazon.com/bedrock/pricing/): a deployment that
   * must be exact there sets {@code input_cost_per_token} and {@code output_cost_per_token}.
   */
  public Optional<TokenPrices> lookup(Deployment deployment) {
    TokenPrices prices = byModel.get(deployment.litellmModel());
    if (prices == null) {
      prices = byModel.get(deployment.upstreamModel());
    }
    if (prices == null && deployment.provider() == aigw.core.config.Provider.BEDROCK) {
      for (String name : bedrockBaseModels(deployment.upstreamModel())) {
        prices = byModel.get(name);
        if (prices != null) {
          break;
        }
      }
    }
    return Optional.ofNullable(prices);
  }

  private static final java.util.regex.Pattern GEOGRAPHY = java.util.regex.Pattern.compile("^(?:us-gov|us|eu|apac|jp|au|ca|global)\\.");
  private static final java.util.regex.Pattern BEDROCK_VERSION = java.util.regex.Pattern.compile("-v\\d+(?::\\d+)?$");

  /** A Bedrock model id's names to try, most specific first (see {@link #lookup}). */
  static java.util.List<String> bedrockBaseModels(String modelId) {
    String id = modelId.substring(modelId.lastIndexOf('/') + 1); // an ARN's resource id
    String base = GEOGRAPHY.matcher(id).replaceFirst("");
    var names = new java.util.ArrayList<>(java.util.List.of(id, base, "global." + base));
    if (base.startsWith("anthropic.")) {
      names.add(BEDROCK_VERSION.matcher(base.substring("anthropic.".length())).replaceFirst(""));
    }
    return names;
  }

  public int size() {
    return byModel.size();
  }

  /**
   * Reads a table in the built-in file's shape: {@code {"models": {"<name>": {"input_cost_per_token":
   * …, "output_cost_per_token": …, "cache_read_input_token_cost": …, "cache_creation_input_token_cost": …}}}}.
   *
   * @throws IllegalArgumentException for a price that is not one ({@link TokenPrices#price}), naming the model
   */
  static PriceTable read(InputStream json) throws IOException {
    JsonNode models = Json.MAPPER.readTree(json).path("models");
    var byModel = new HashMap<String, TokenPrices>();
    models.fields().forEachRemaining(entry -> {
      JsonNode fields = entry.getValue();
      try {
        byModel.put(entry.getKey(), new TokenPrices(
            price(fields, TokenPrices.INPUT), price(fields, TokenPrices.OUTPUT),
            price(fields, TokenPrices.CACHE_READ), price(fields, TokenPrices.CACHE_WRITE)));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("price table, model " + entry.getKey() + ": " + e.getMessage(), e);
      }
    });
    return new PriceTable(byModel);
  }

  private static java.math.BigDecimal price(JsonNode fields, String name) {
    JsonNode value = fields.get(name);
    return value == null || value.isNull() ? null : TokenPrices.price(value.decimalValue());
  }

  /** Loaded on first use (class initialization is thread-safe and happens once). */
  private static final class BuiltIn {
    static final PriceTable TABLE = load();

    private static PriceTable load() {
      try (InputStream in = PriceTable.class.getResourceAsStream(RESOURCE)) {
        if (in == null) {
          throw new IllegalStateException(RESOURCE + " is missing from the class path");
        }
        return read(in);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + RESOURCE, e);
      }
    }
  }
}
