package aigw.core.providers.azure;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Azure OpenAI's {@code api-version}, as LiteLLM's {@code litellm_params.api_version} gives it.
 *
 * <p>Two APIs, chosen by that value, as LiteLLM chooses ({@code BaseAzureLLM._is_azure_v1_api_version}
 * in {@code litellm/llms/azure/common_utils.py}):
 *
 * <ul>
 *   <li>The v1 API (GA August 2025), when the value is absent, {@code v1}, {@code latest} or {@code
 *       preview}: {@code <resource>/openai/v1/chat/completions} with the deployment name as the body's
 *       {@code model}, no {@code api-version} parameter (Microsoft Learn, "Azure OpenAI API version
 *       lifecycle": the v1 API "removes the need for dated api-version parameters"; LiteLLM then uses
 *       the plain OpenAI client on {@code <api_base>/openai/v1/}).
 *   <li>The dated API, for {@code YYYY-MM-DD} or {@code YYYY-MM-DD-preview}: {@code
 *       <resource>/openai/deployments/<deployment>/chat/completions?api-version=<version>}.
 * </ul>
 */
public final class AzureApiVersion {
  private static final Pattern DATED = Pattern.compile("\\d{4}-\\d{2}-\\d{2}(-preview)?");

  /**
   * The first dated version whose chat completions accept {@code stream_options}: older ones answer
   * 400 "Unrecognized request argument supplied: stream_options" (songquanpeng/one-api#1423,
   * openai/openai-python#1469 on 2023-05-15); it was taken out of 2024-07-01-preview again
   * (Azure/azure-rest-api-specs#30087) and 2024-08-01-preview's spec never exposed it
   * (Azure/azure-rest-api-specs#30810); 2024-09-01-preview and the GA 2024-10-21 have it.
   */
  static final String FIRST_WITH_STREAM_OPTIONS = "2024-09-01";

  private AzureApiVersion() {}

  /** Whether {@code version} is one Azure OpenAI has: {@code v1}, {@code latest}, {@code preview} or a dated one. */
  public static boolean isValid(String version) {
    return isV1(version) || DATED.matcher(version).matches();
  }

  /** True for the v1 API: no version, {@code v1}, {@code latest} or {@code preview} (any case). */
  public static boolean isV1(String version) {
    if (version == null) {
      return true;
    }
    String v = version.strip().toLowerCase(Locale.ROOT);
    return v.isEmpty() || v.equals("v1") || v.equals("latest") || v.equals("preview");
  }

  /**
   * Whether a stream request to this version may carry {@code stream_options} (the gateway adds
   * {@code include_usage} to be told the usage): always on the v1 API, on dated versions from
   * {@value #FIRST_WITH_STREAM_OPTIONS} on.
   */
  public static boolean acceptsStreamOptions(String version) {
    return isV1(version) || version.strip().substring(0, 10).compareTo(FIRST_WITH_STREAM_OPTIONS) >= 0;
  }
}
